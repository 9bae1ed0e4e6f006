# SASLprep for SCRAM (RFC 4013, RFC 5802 section 5.1; issue 18's UTF8 bullet): a mailbox whose
# password SASLprep changes (U+2168 ROMAN NUMERAL NINE -> "IX", NO-BREAK SPACE -> SPACE) logs in
# with SCRAM-SHA-256 and SCRAM-SHA-1 whether the client sends the password as typed and prepares
# it itself (a Python client with the standard library's RFC 3454 tables, and mpop through GNU
# SASL) or sends the prepared form; the unprepared octets fail. USER/PASS compares the octets
# sent against the password hash, unprepared.
import base64
import hashlib
import hmac
import os
import shutil
import stringprep
import subprocess
import unicodedata
import unittest

from harness import LOOPBACK, ServerTestCase, make_message

MAILBOX = "nine@example.test"
TYPED = "I\u2168 pass\u00a0word"   # as the user typed it
PREPARED = "IIX pass word"         # its SASLprep form


def saslprep(text: str) -> str:
    """RFC 4013 for a stored string, from Python's RFC 3454 tables (the client's side)."""
    mapped = "".join(" " if stringprep.in_table_c12(c) else "" if stringprep.in_table_b1(c) else c for c in text)
    out = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    for c in out:
        if (stringprep.in_table_c12(c) or stringprep.in_table_c21_c22(c) or stringprep.in_table_c3(c)
                or stringprep.in_table_c4(c) or stringprep.in_table_c5(c) or stringprep.in_table_c6(c)
                or stringprep.in_table_c7(c) or stringprep.in_table_c8(c) or stringprep.in_table_c9(c)
                or stringprep.in_table_a1(c)):
            raise ValueError("SASLprep refuses %r" % c)
    return out


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class SaslprepTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.set("auth_mechanisms", "PLAIN SCRAM-SHA-256 SCRAM-SHA-1")
        server.set("failure_delay", 0)
        server.add_mailbox(MAILBOX, TYPED)
        server.deliver(MAILBOX, make_message("nine", b"nine body\n", to=MAILBOX.encode()))

    def scram(self, password: str, digest: str = "sha256") -> bytes:
        """One AUTH SCRAM-SHA-* exchange using `password`'s UTF-8 octets as they are; the last reply."""
        conn = self.server.raw()
        try:
            reply = self.scram_exchange(conn, password, digest)
            if reply.startswith(b"+OK"):
                self.assertTrue(conn.command("QUIT").startswith(b"+OK"))  # releases the maildrop
            return reply
        finally:
            conn.close()

    def scram_exchange(self, conn, password: str, digest: str) -> bytes:
        self.assertTrue(conn.readline().startswith(b"+OK"))
        mech = "SCRAM-SHA-256" if digest == "sha256" else "SCRAM-SHA-1"
        self.assertEqual(conn.command("AUTH " + mech), b"+ ")
        bare = "n=%s,r=%s" % (MAILBOX, b64(os.urandom(18)))
        reply = conn.command(b64(("n,," + bare).encode()))
        self.assertTrue(reply.startswith(b"+ "), reply)
        server_first = base64.b64decode(reply[2:]).decode()
        fields = dict(item.split("=", 1) for item in server_first.split(","))
        salted = hashlib.pbkdf2_hmac(digest, password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", digest).digest()
        without_proof = "c=biws,r=" + fields["r"]
        auth_message = ",".join((bare, server_first, without_proof)).encode()
        signature = hmac.new(hashlib.new(digest, client_key).digest(), auth_message, digest).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        reply = conn.command(b64((without_proof + ",p=" + b64(proof)).encode()))
        if not reply.startswith(b"+ "):
            return reply
        server_key = hmac.new(salted, b"Server Key", digest).digest()
        expected = "v=" + b64(hmac.new(server_key, auth_message, digest).digest())
        self.assertEqual(base64.b64decode(reply[2:]).decode(), expected, "the server's proof")
        return conn.command("")

    def test_scram_with_the_typed_and_the_prepared_password(self):
        self.assertEqual(saslprep(TYPED), PREPARED)
        for digest in ("sha256", "sha1"):
            with self.subTest(digest=digest):
                self.assertTrue(self.scram(saslprep(TYPED), digest).startswith(b"+OK"))
                self.assertTrue(self.scram(PREPARED, digest).startswith(b"+OK"))
                self.assertTrue(self.scram(TYPED, digest).startswith(b"-ERR [AUTH]"), "unprepared octets")
        # USER/PASS checks the octets sent against the password hash: as typed, not prepared.
        conn = self.server.raw()
        self.addCleanup(conn.close)
        conn.login(MAILBOX, TYPED)
        self.assertTrue(conn.command("QUIT").startswith(b"+OK"))
        conn.close()
        conn = self.server.raw()
        self.addCleanup(conn.close)
        conn.readline()
        conn.command("USER " + MAILBOX)
        self.assertTrue(conn.command("PASS " + PREPARED).startswith(b"-ERR [AUTH]"))
        if shutil.which("mpop") is None:
            return
        # mpop (GNU SASL) prepares the password as typed itself.
        mbox = os.path.join(self.server.root, "mpop.mbox")
        open(mbox, "ab").close()
        proc = subprocess.run(
            ["mpop", "--host=" + LOOPBACK, "--port=%d" % self.server.port, "--tls=off", "--auth=scram-sha-256",
             "--user=" + MAILBOX, "--passwordeval=printf '%%s' '%s'" % TYPED, "--keep=on", "--only-new=off",
             "--delivery=mbox," + mbox, "--timeout=20", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, env={**os.environ, "HOME": self.server.root})
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        with open(mbox, "rb") as f:
            self.assertIn(b"nine body", f.read())


if __name__ == "__main__":
    unittest.main()
