# End-to-end authentication (issue 5) with real clients: curl (AUTH=PLAIN, LOGIN, CRAM-MD5, NTLM,
# +APOP), Python's poplib (apop), mpop (scram-sha-256, scram-sha-1, cram-md5, plain, apop); wrong
# passwords for each; mechanisms switched off disappear from CAPA and are refused; secrets for a
# mechanism enabled later are filled in at the next password login; failures of every mechanism
# feed anti-hammering; every attempt is logged without the secret.
import os
import poplib
import shutil
import socket
import subprocess
import time
import unittest

from harness import LOOPBACK, RawConnection, ServerTestCase, crlf, make_message

ALICE = "alice@example.test"
ALICE_PW = "Al1ce-secret"
BOB = "bob@example.test"
BOB_PW = "b0b-secret"
ALL_MECHS = "PLAIN LOGIN CRAM-MD5 NTLM SCRAM-SHA-1 SCRAM-SHA-256"


class AuthTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        # bob first, with the default mechanisms: no legacy secrets are derived for him.
        server.add_mailbox(BOB, BOB_PW)
        server.set("auth_mechanisms", ALL_MECHS)
        server.set("apop", "on")
        server.set("failure_delay", 0)
        server.add_mailbox(ALICE, ALICE_PW)
        self.alice_msg = make_message("hello", b"alice body\n")
        server.deliver(ALICE, self.alice_msg)
        server.deliver(BOB, make_message("bob", b"bob body\n", to=b"bob@example.test"))

    # -- helpers ------------------------------------------------------------------------------

    def curl(self, mech, user=ALICE, password=ALICE_PW, path="1"):
        proc = subprocess.run(
            ["curl", "-s", "-S", "--max-time", "20", "--login-options", "AUTH=" + mech,
             "pop3://%s:%d/%s" % (LOOPBACK, self.server.port, path), "-u", "%s:%s" % (user, password)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        return proc

    def mpop(self, auth, user=ALICE, password=ALICE_PW):
        if shutil.which("mpop") is None:
            self.skipTest("mpop is not installed (scripts/bootstrap installs it)")
        mbox = os.path.join(self.server.root, "mpop-%s.mbox" % auth)
        open(mbox, "ab").close()
        proc = subprocess.run(
            ["mpop", "--host=" + LOOPBACK, "--port=%d" % self.server.port, "--tls=off", "--auth=" + auth,
             "--user=" + user, "--passwordeval=printf '%%s' '%s'" % password, "--keep=on", "--only-new=off",
             "--delivery=mbox," + mbox, "--timeout=20", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, env={**os.environ, "HOME": self.server.root})
        with open(mbox, "rb") as f:
            return proc, f.read()

    def capa(self):
        conn = self.server.raw()
        try:
            greeting = conn.readline()
            conn.send(b"CAPA\r\n")
            return greeting, conn.read_multiline()
        finally:
            conn.close()

    # -- offered mechanisms ---------------------------------------------------------------------

    def test_capa_and_greeting_announce_every_enabled_mechanism(self):
        greeting, capa = self.capa()
        self.assertRegex(greeting, rb"^\+OK .* <[^<>@ ]+@[^<> ]+>$")
        self.assertIn(("SASL " + ALL_MECHS).encode(), capa)

    def test_switched_off_mechanisms_disappear_and_are_refused(self):
        self.server.set("auth_mechanisms", "PLAIN")
        self.server.set("apop", "off")
        # Two settings, two commits: a reload may apply the first before the second is stored.
        def both_applied():
            greeting, capa = self.capa()
            return b"SASL PLAIN" in capa and b"<" not in greeting
        self.wait_until(both_applied, what="CAPA with PLAIN only and a greeting without APOP")
        greeting, capa = self.capa()
        self.assertIn(b"SASL PLAIN", capa)
        self.assertNotIn(b"<", greeting)
        conn = self.server.raw()
        self.addCleanup(conn.close)
        conn.readline()
        self.assertTrue(conn.command("AUTH CRAM-MD5").startswith(b"-ERR [AUTH] unsupported"))
        self.assertTrue(conn.command("AUTH SCRAM-SHA-256").startswith(b"-ERR [AUTH] unsupported"))
        self.assertTrue(conn.command("APOP %s %s" % (ALICE, "0" * 32)).startswith(b"-ERR [AUTH]"))
        self.assertEqual(self.curl("CRAM-MD5").returncode, 67)

    # -- curl -----------------------------------------------------------------------------------

    def test_curl_logs_in_with_every_mechanism(self):
        for mech in ("PLAIN", "LOGIN", "CRAM-MD5", "NTLM", "+APOP"):
            with self.subTest(mech=mech):
                proc = self.curl(mech)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(proc.stdout, crlf(self.alice_msg))

    def test_curl_wrong_password_fails_with_every_mechanism(self):
        for mech in ("PLAIN", "LOGIN", "CRAM-MD5", "NTLM", "+APOP"):
            with self.subTest(mech=mech):
                proc = self.curl(mech, password="wrong-password")
                self.assertEqual(proc.returncode, 67, proc.stderr)  # CURLE_LOGIN_DENIED
        log = self.server.log_tail(400)
        for mech in ("PLAIN", "LOGIN", "CRAM-MD5", "NTLM", "APOP"):
            self.assertIn("mech=%s" % mech, log)
        self.assertNotIn("wrong-password", log)
        self.assertNotIn(ALICE_PW, log)

    # -- poplib ---------------------------------------------------------------------------------

    def test_poplib_apop(self):
        p = self.server.pop3()
        self.addCleanup(p.close)
        self.assertTrue(p.apop(ALICE, ALICE_PW).startswith(b"+OK"))
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        p = self.server.pop3()
        self.addCleanup(p.close)
        with self.assertRaises(poplib.error_proto) as ctx:
            p.apop(ALICE, "wrong")
        self.assertIn(b"[AUTH]", ctx.exception.args[0])

    # -- mpop -----------------------------------------------------------------------------------

    def test_mpop_logs_in_with_scram_cram_plain_and_apop(self):
        for auth in ("scram-sha-256", "scram-sha-1", "cram-md5", "plain", "apop"):
            with self.subTest(auth=auth):
                proc, mbox = self.mpop(auth)
                self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
                self.assertIn(b"alice body", mbox)

    def test_mpop_wrong_password_fails(self):
        for auth in ("scram-sha-256", "cram-md5"):
            with self.subTest(auth=auth):
                proc, mbox = self.mpop(auth, password="wrong")
                self.assertNotEqual(proc.returncode, 0)
                self.assertNotIn(b"alice body", mbox)

    # -- secrets filled in later ------------------------------------------------------------------

    def test_legacy_secret_is_filled_in_at_the_next_password_login(self):
        # bob was added before CRAM-MD5 and APOP were enabled: no secret for them yet.
        self.assertEqual(self.curl("CRAM-MD5", BOB, BOB_PW).returncode, 67)
        p = self.server.login(BOB, BOB_PW)  # USER/PASS works from the password hash
        p.quit()
        proc = self.curl("CRAM-MD5", BOB, BOB_PW)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(b"bob body", proc.stdout)
        p = self.server.pop3()
        self.addCleanup(p.close)
        self.assertTrue(p.apop(BOB, BOB_PW).startswith(b"+OK"))

    def test_disabled_mailbox_is_refused_by_every_mechanism(self):
        self.server.mailctl("mailbox", "disable", ALICE)  # no daemon cache: the next login sees it
        for mech in ("PLAIN", "CRAM-MD5", "NTLM", "+APOP"):
            with self.subTest(mech=mech):
                self.assertEqual(self.curl(mech).returncode, 67)

    def test_disabled_postoffice_is_refused_by_every_mechanism(self):
        self.server.mailctl("postoffice", "disable", "example.test")
        for mech in ("LOGIN", "CRAM-MD5", "NTLM", "+APOP"):
            with self.subTest(mech=mech):
                self.assertEqual(self.curl(mech).returncode, 67)
        self.server.mailctl("postoffice", "enable", "example.test")
        self.assertEqual(self.curl("CRAM-MD5").returncode, 0)

    # -- anti-hammering ---------------------------------------------------------------------------

    def test_failures_of_any_mechanism_feed_anti_hammering(self):
        self.server.set("max_login_failures", 3)
        time.sleep(2)
        for mech in ("CRAM-MD5", "+APOP", "NTLM"):
            self.assertEqual(self.curl(mech, password="nope").returncode, 67)
        # The address (127.0.0.1, curl's source) is blocked now: even the right password fails.
        self.assertNotEqual(self.curl("PLAIN").returncode, 0)
        blocks = self.server.mailctl("block", "list").stdout.decode()
        self.assertIn("127.0.0.1", blocks)


if __name__ == "__main__":
    unittest.main()
