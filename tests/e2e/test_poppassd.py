"""poppassd (issue 17): the Eudora password change on a real mailroomd, then POP3 logins with the
new password (USER/PASS, APOP, AUTH PLAIN) and the old one refused; a wrong old password counted
by anti-hammering (blocked, listed by `mailctl block list`); the password policy's refusals on the
wire and in `mailctl mailbox passwd` (--force); allow_password_change off; no password in the log."""

import base64
import json
import poplib
import socket
import ssl
import unittest

from harness import RawConnection, ServerTestCase, connect_from, first_bytes

ALICE = "alice@example.test"
OLD_PW = "Old-Passw0rd"
NEW_PW = "N3w pass phrase"  # with a space: the rest of the NEWPASS line is the password


class PoppassdTest(ServerTestCase):
    service = "poppassd"
    also = ("pop3",)

    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, OLD_PW)
        server.set("allow_password_change", "on")
        server.set("max_login_failures", 3)
        server.set("failure_delay", 0)
        server.set("debug_transcript", "on")
        server.set("apop", "on", service="pop3")
        server.set("auth_mechanisms", "PLAIN", service="pop3")

    # -- helpers ------------------------------------------------------------------------------

    def mailctl_json(self, *args):
        return json.loads(self.server.mailctl(*args, "--json").stdout)

    def connect(self, source=None) -> RawConnection:
        conn = connect_from(source, self.server.port)
        self.addCleanup(conn.close)
        self.assertTrue(conn.readline().startswith(b"200 "))
        return conn

    def change(self, old, new, conn=None):
        """The exchange up to NEWPASS; returns (connection, PASS reply, NEWPASS reply or None)."""
        conn = conn or self.connect()
        self.assertEqual(conn.command("USER " + ALICE), b"200 Your password please.")
        reply = conn.command("PASS " + old)
        if not reply.startswith(b"200"):
            return conn, reply, None
        return conn, reply, conn.command("NEWPASS " + new)

    def pop3_login(self, password) -> bool:
        p = poplib.POP3("127.0.0.1", self.server.ports["pop3"], timeout=5)
        try:
            p.user(ALICE)
            p.pass_(password)
            p.quit()
            return True
        except poplib.error_proto:
            return False
        finally:
            p.close()

    # -- tests --------------------------------------------------------------------------------

    def test_change_then_pop3_logs_in_with_the_new_password_only(self):
        conn, pass_reply, new_reply = self.change(OLD_PW, NEW_PW)
        self.assertEqual(pass_reply, b"200 Your new password please.")
        self.assertEqual(new_reply, b"200 Password changed, thank-you.")
        self.assertEqual(conn.command("QUIT"), b"200 Bye.")
        self.assertEqual(conn.wait_closed(), b"")
        # USER/PASS: the new password works, the old one no longer does.
        self.assertTrue(self.pop3_login(NEW_PW))
        self.assertFalse(self.pop3_login(OLD_PW))
        # APOP uses the rebuilt plaintext secret, AUTH PLAIN the new hash.
        p = poplib.POP3("127.0.0.1", self.server.ports["pop3"], timeout=5)
        self.assertTrue(p.apop(ALICE, NEW_PW).startswith(b"+OK"))
        p.quit()
        raw = RawConnection(self.server.ports["pop3"])
        self.addCleanup(raw.close)
        raw.readline()
        token = base64.b64encode(b"\0" + ALICE.encode() + b"\0" + NEW_PW.encode()).decode()
        self.assertTrue(raw.command("AUTH PLAIN " + token).startswith(b"+OK"))
        raw.command("QUIT")
        # Logged without the passwords; the transcript shows PASS and NEWPASS redacted.
        log = self.wait_until(lambda: (lambda t: "poppassd.changed" in t and t)(self.server.log_tail(400)),
                              what="poppassd.changed logged")
        self.assertIn("NEWPASS <redacted>", log)
        self.assertNotIn(NEW_PW, log)
        self.assertNotIn(OLD_PW, log)

    def test_wrong_old_password_counts_for_anti_hammering(self):
        for attempt in range(3):
            conn, reply, _ = self.change("wrong-%d" % attempt, NEW_PW, conn=self.connect("127.0.0.9"))
            self.assertEqual(reply, b"500 Old password is incorrect.")
            if attempt == 2:  # the failure that starts the block ends the session
                self.assertEqual(conn.wait_closed(), b"")
        self.assertEqual(first_bytes("127.0.0.9", self.server.port), b"")  # refused before the banner
        blocks = self.wait_until(lambda: [b for b in self.mailctl_json("block", "list")
                                          if b["network"] == "127.0.0.9"], what="stored block")
        self.assertEqual(blocks[0]["cause"], "login_failures")
        self.assertTrue(self.pop3_login(OLD_PW))  # nothing was changed

    def test_policy_refusals_on_the_wire_and_in_mailctl(self):
        conn, _, reply = self.change(OLD_PW, "short7!")
        self.assertEqual(reply, b"500 The new password is too short: at least 8 characters.")
        self.assertEqual(conn.command("NEWPASS " + OLD_PW), b"500 The new password is the same as the old one.")
        self.assertEqual(conn.command("NEWPASS Alice@Example.test"),
                         b"500 The new password must not be the mailbox name.")
        self.assertTrue(self.pop3_login(OLD_PW))  # still the old one
        # The minimum is the daemon-wide password_min_length, read at each change.
        self.server.mailctl("daemon", "set", "password_min_length", "12")
        self.assertEqual(conn.command("NEWPASS eleven-char"),
                         b"500 The new password is too short: at least 12 characters.")
        # mailctl applies the same policy, unless --force.
        out = self.server.mailctl("mailbox", "passwd", ALICE, "--password", "tiny", check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("too short: at least 12", out.stderr.decode())
        self.assertNotIn("tiny", out.stderr.decode())
        self.server.mailctl("mailbox", "passwd", ALICE, "--password", "tiny", "--force")
        self.assertTrue(self.pop3_login("tiny"))

    def test_tls_required_for_login_and_the_implicit_tls_port(self):
        self.server.set("plaintext_login_from_loopback", "off")
        self.server.set("implicit_tls", "on")
        self.wait_until(lambda: self._user_reply() == b"500 Password changes need an encrypted connection: "
                        b"use the TLS port.", what="plaintext refused")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # init's self-signed certificate

        def tls_connection():
            sock = socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5)
            return RawConnection(self.server.tls_port, sock=ctx.wrap_socket(sock))
        conn = self.wait_until(tls_connection, what="implicit TLS listener")
        self.addCleanup(conn.close)
        self.assertTrue(conn.readline().startswith(b"200 "))
        _, reply, new_reply = self.change(OLD_PW, NEW_PW, conn=conn)
        self.assertEqual((reply, new_reply), (b"200 Your new password please.", b"200 Password changed, thank-you."))
        self.assertTrue(self.pop3_login(NEW_PW))

    def test_allow_password_change_off_refuses_before_any_password(self):
        self.server.set("allow_password_change", "off")
        self.wait_until(lambda: self._user_reply() == b"500 Password changes are not allowed on this server.",
                        what="changes refused")
        self.assertTrue(self.pop3_login(OLD_PW))

    def _user_reply(self):
        conn = connect_from(None, self.server.port)
        try:
            conn.readline()
            return conn.command("USER " + ALICE)
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
