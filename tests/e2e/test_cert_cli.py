# End-to-end `mailctl cert`: SANs from --name/--ip checked by a real handshake, `cert show --json`
# fields, the refusal to overwrite an imported certificate (and --force's backup), the expiry
# warning in the log and in `service status`, and the one sentence for a passphrase-protected key.
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import time
import unittest

from harness import IO_TIMEOUT, LOOPBACK
from test_tls import ALICE, CLIENT_TIMEOUT, TlsTestCase, cert_der, have

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# 'cert generate' over a certificate mailctl did not make: "already exists" (docs/mailctl.md).
REFUSED_CODE = 5


def colon_hex(digest: bytes) -> str:
    return ":".join("%02X" % b for b in digest)


class CertCliTest(TlsTestCase):
    messages = ()

    def messages_to_deliver(self):
        return []

    def show(self) -> dict:
        return json.loads(self.server.mailctl("--json", "cert", "show").stdout)

    def make_openssl_pair(self, name: str, passphrase: str = None):
        if not have("openssl"):
            self.skipTest("openssl is not installed")
        cert = os.path.join(self.server.root, name + "-cert.pem")
        key = os.path.join(self.server.root, name + "-key.pem")
        cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout", key, "-out", cert, "-days", "30",
               "-subj", "/CN=imported.e2e.test"]
        cmd += ["-passout", "pass:" + passphrase] if passphrase else ["-nodes"]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CLIENT_TIMEOUT)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return cert, key

    def read(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def test_init_certificate_names_the_host_localhost_and_loopback(self):
        init = json.loads(self.server.mailctl("--json", "cert", "show").stdout)
        # (The suite's provision ran 'cert generate --hostname localhost' without names: the same set.)
        self.assertEqual(init["ip_addresses"], ["127.0.0.1", "::1"])
        self.assertIn("localhost", init["dns_names"])
        self.assertTrue(init["generated_by_mailctl"])

    def test_generate_with_names_and_ips_shows_them_and_a_client_verifies_the_ip(self):
        out = json.loads(self.server.mailctl(
            "--json", "cert", "generate", "--hostname", "mail.e2e.test", "--name", "alt.e2e.test",
            "--name", "mail.e2e.test", "--ip", "127.0.0.1", "--ip", "::1", "--days", "30").stdout)
        self.assertTrue(out["ok"])
        self.assertIsNone(out["backup_cert"])
        info = self.show()
        self.assertEqual(info["dns_names"], ["mail.e2e.test", "alt.e2e.test"])
        self.assertEqual(info["ip_addresses"], ["127.0.0.1", "::1"])
        self.assertEqual(info["subject"], "CN = mail.e2e.test")
        self.assertEqual(info["issuer"], "CN = mail.e2e.test")
        self.assertTrue(info["self_signed"])
        self.assertTrue(info["generated_by_mailctl"])
        self.assertEqual(info["chain_length"], 1)
        self.assertEqual((info["key_type"], info["key_bits"]), ("RSA", 2048))
        self.assertRegex(info["not_before_at"], RFC3339)
        self.assertRegex(info["not_after_at"], RFC3339)
        self.assertIn(info["days_left"], (29, 30))
        self.assertRegex(info["serial"], r"^[0-9A-F]+$")
        der = cert_der(self.cert_path)
        self.assertEqual(info["sha256_fingerprint"], colon_hex(hashlib.sha256(der).digest()))
        self.assertEqual(out["sha256_fingerprint"], info["sha256_fingerprint"])
        # The daemon serves it within a second or two; Python checks the IP SAN (check_hostname on,
        # the certificate itself as the only CA).
        self.wait_until(lambda: self.peer_cert() == der, what="the new certificate on the TLS port")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=self.cert_path)
        self.assertTrue(ctx.check_hostname)
        with socket.create_connection((LOOPBACK, self.tls_port), timeout=IO_TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                self.assertTrue(tls.recv(512).startswith(b"+OK"))
        with socket.create_connection((LOOPBACK, self.tls_port), timeout=IO_TIMEOUT) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(raw, server_hostname="192.0.2.1")  # not in the certificate
        # The human form names the same things.
        text = self.server.mailctl("cert", "show").stdout.decode()
        self.assertIn("alt.e2e.test", text)
        self.assertIn("127.0.0.1, ::1", text)
        self.assertIn(info["sha256_fingerprint"], text)

    def test_generate_refuses_bad_names_before_touching_anything(self):
        before = self.read(self.cert_path)
        for args in (["--name", "a.e2e.test,IP:10.0.0.1"], ["--ip", "10.0.0.256"], ["--hostname", "bad name"]):
            proc = self.server.mailctl("cert", "generate", *args, check=False)
            self.assertEqual(proc.returncode, 1, proc)
            self.assertEqual(proc.stderr.count(b"\n"), 1, proc.stderr)
        self.assertEqual(self.read(self.cert_path), before)

    def test_imported_certificate_is_not_overwritten_without_force_and_force_keeps_a_backup(self):
        cert, key = self.make_openssl_pair("imported")
        imported = json.loads(self.server.mailctl("--json", "cert", "import", cert, key).stdout)
        # cert show's object, with "ok".
        self.assertEqual(imported, dict(self.show(), ok=True))
        self.assertEqual(imported["subject"], "CN = imported.e2e.test")
        self.assertEqual(imported["sha256_fingerprint"], colon_hex(hashlib.sha256(cert_der(cert)).digest()))
        self.assertFalse(imported["generated_by_mailctl"])
        imported_cert, imported_key = self.read(self.cert_path), self.read(self.key_path)
        proc = self.server.mailctl("cert", "generate", "--hostname", "localhost", check=False)
        self.assertEqual(proc.returncode, REFUSED_CODE, proc)
        err = proc.stderr.decode()
        self.assertIn("was not generated by mailctl", err)
        self.assertIn("--force", err)
        self.assertEqual(self.read(self.cert_path), imported_cert)
        self.assertEqual(self.read(self.key_path), imported_key)

        out = json.loads(self.server.mailctl("--json", "cert", "generate", "--hostname", "localhost",
                                             "--force").stdout)
        self.assertRegex(os.path.basename(out["backup_cert"]), r"^cert\.pem\.bak-\d{8}T\d{6}Z(-\d+)?$")
        self.assertRegex(os.path.basename(out["backup_key"]), r"^key\.pem\.bak-\d{8}T\d{6}Z(-\d+)?$")
        self.assertEqual(self.read(out["backup_cert"]), imported_cert)
        self.assertEqual(self.read(out["backup_key"]), imported_key)
        self.assertEqual(os.stat(out["backup_key"]).st_mode & 0o777, 0o600)
        self.assertNotEqual(self.read(self.cert_path), imported_cert)
        self.assertTrue(self.show()["generated_by_mailctl"])
        # Its own certificate it replaces without --force, and keeps nothing.
        again = self.server.mailctl("cert", "generate", "--hostname", "localhost").stdout.decode()
        self.assertNotIn("kept in", again)
        # The human form says where the backup went.
        self.server.mailctl("cert", "import", cert, key)
        forced = self.server.mailctl("cert", "generate", "--force").stdout.decode()
        self.assertIn("the replaced certificate is kept in " + self.cert_path + ".bak-", forced)

    def test_certificate_expiring_within_cert_warn_days_is_logged_and_shown_in_status(self):
        self.server.mailctl("cert", "generate", "--hostname", "localhost", "--days", "5")
        self.wait_until(lambda: "event=tls.cert_expiring" in self.server.log_tail(400),
                        what="tls.cert_expiring in the log")
        lines = [l for l in self.server.log_tail(400).splitlines() if "event=tls.cert_expiring" in l]
        # Only the enabled service warns (the suite disables smtp and lmtp).
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("service=pop3", lines[0])
        # 5 days from the second it was made: whole days left, rounded down, when it is loaded.
        self.assertRegex(lines[0], r"days_left=[45] ")
        self.assertRegex(lines[0], r"not_after=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

        def status_tls():
            doc = json.loads(self.server.mailctl("--json", "service", "status", "pop3").stdout)
            return doc["services"]["pop3"]["tls"]
        tls = self.wait_until(lambda: (lambda t: t if t.get("warning") else None)(status_tls()),
                              what="the warning in the status")
        left = tls["days_left"]
        self.assertIn(left, (4, 5))
        self.assertRegex(tls["not_after_at"], RFC3339)
        self.assertTrue(tls["warning"].startswith("certificate expires in %d days (" % left), tls)
        # A second query: days are counted at query time, so a second boundary may have passed
        # (the certificate was made exactly 5 days before its not-after second).
        human = self.server.mailctl("service", "status", "pop3").stdout.decode()
        self.assertRegex(human, r"TLS warning: certificate expires in (%d|%d) days \(" % (left, left - 1))
        # Logged when loaded, then once a day: not at every poll.
        time.sleep(2.5)
        count = self.server.log_tail(400).count("event=tls.cert_expiring")
        self.assertEqual(count, 1)
        # cert_warn_days 0: never.
        self.server.set("cert_warn_days", 0)
        self.wait_until(lambda: status_tls().get("warning") is None, what="no warning with cert_warn_days 0")
        self.assertIn(status_tls()["days_left"], (4, 5))

    def test_passphrase_protected_key_gets_one_sentence_from_import_and_the_daemon(self):
        cert, key = self.make_openssl_pair("locked", passphrase="secret")
        sentence = ("the key file %s is encrypted with a passphrase; Mailroom needs an unencrypted key: "
                    "openssl pkey -in %s -out %s") % (key, key, key[:-len(".pem")] + "-unencrypted.pem")
        before = self.read(self.cert_path)
        proc = self.server.mailctl("cert", "import", cert, key, check=False)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertEqual(proc.stderr.decode(), "mailctl: " + sentence + "\n")
        self.assertEqual(self.read(self.cert_path), before)
        # The daemon, pointed at it, says the same once and keeps its certificate.
        # Two commands: if the daemon polls between them it also reports the new cert with the old
        # key (a mismatch, once); the encrypted key itself must be reported once, in one sentence.
        self.server.set("cert", cert)
        self.server.set("key", key)
        self.wait_until(lambda: "is encrypted with a passphrase" in self.server.log_tail(400),
                        what="tls.context_failed for the encrypted key")
        time.sleep(1.5)
        failed = [l for l in self.server.log_tail(400).splitlines() if "tls.context_failed" in l]
        encrypted = [l for l in failed if "is encrypted with a passphrase" in l]
        self.assertEqual(len(encrypted), 1, failed)
        self.assertIn(sentence, encrypted[0])
        for line in failed:
            self.assertNotIn("routines", line)
        self.assertEqual(self.peer_cert(), cert_der(self.cert_path))


if __name__ == "__main__":
    unittest.main()
