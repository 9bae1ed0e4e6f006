# XTND XMIT end to end: a message sent through a POP3 session reaches a local mailbox (RETR of the
# recipient returns it, without its Bcc field), a Bcc recipient gets it too, a wrong From is
# refused with nothing delivered, a remote recipient is refused without a smarthost (nothing
# queued) and queued with one (an envelope in DATA/queue/envelopes), a local recipient over its
# quota refuses the message (nothing delivered). One daemon for the suite.
import os
import time
import unittest

from harness import Server

ALICE, ALICE_PW = "alice@example.test", "alice-pw"
BOB, BOB_PW = "bob@example.test", "bob-pw"
CAROL, CAROL_PW = "carol@example.test", "carol-pw"


class XtndXmitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("pop3")
        s = cls.server
        s.add_postoffice("example.test")
        for address, password in ((ALICE, ALICE_PW), (BOB, BOB_PW), (CAROL, CAROL_PW)):
            s.add_mailbox(address, password)
        s.set("xtnd_xmit", "true")
        s.start()

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.server.stop()
            if code not in (0, None):
                raise AssertionError("mailroomd exited %s\n%s" % (code, cls.server.log_tail()))
        finally:
            cls.server.cleanup()

    def xmit(self, user, password, message: bytes):
        """Logs in, sends `message` (LF or CRLF lines) with XTND XMIT; returns (first reply, final reply)."""
        conn = self.server.raw()
        try:
            conn.login(user, password)
            first = conn.command("XTND XMIT")
            if not first.startswith(b"+OK"):
                return first, b""
            lines = message.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
            data = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"
            conn.send(data)
            final = conn.readline()
            conn.command("QUIT")
            return first, final
        finally:
            conn.close()

    def mailbox(self, user, password):
        """Every message of the mailbox (bytes, CRLF lines), deleted after reading."""
        conn = self.server.raw()
        try:
            conn.login(user, password)
            count = int(conn.command("STAT").split()[1])
            out = []
            for n in range(1, count + 1):
                self.assertTrue(conn.command("RETR %d" % n).startswith(b"+OK"))
                out.append(b"\r\n".join(conn.read_multiline()))
                conn.command("DELE %d" % n)
            conn.command("QUIT")
            return out
        finally:
            conn.close()

    def envelopes(self):
        path = os.path.join(self.server.data, "queue", "envelopes")
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def test_capa(self):
        conn = self.server.raw()
        try:
            conn.readline()
            self.assertTrue(conn.command("CAPA").startswith(b"+OK"))
            self.assertIn(b"XTND XMIT", conn.read_multiline())
        finally:
            conn.close()

    def test_local_and_bcc_recipients(self):
        message = (b"From: Alice <alice@example.test>\nTo: Bob <bob@example.test>\n"
                   b"Bcc: carol@example.test,\n  Bob@Example.TEST\nSubject: via xmit\n\n.dot line\nhello\n")
        first, final = self.xmit(ALICE, ALICE_PW, message)
        self.assertTrue(first.startswith(b"+OK"), first)
        self.assertTrue(final.startswith(b"+OK"), final)
        for user, password in ((BOB, BOB_PW), (CAROL, CAROL_PW)):
            got = self.mailbox(user, password)
            self.assertEqual(len(got), 1, user)
            self.assertIn(b"\r\nSubject: via xmit\r\n", got[0])
            self.assertTrue(got[0].startswith(b"Received: from [127.0.0.1]"), got[0][:200])
            self.assertIn(b"with POP3 XTND XMIT id", got[0])
            self.assertNotIn(b"Bcc", got[0])
            self.assertNotIn(b"carol@", got[0])
            self.assertTrue(got[0].endswith(b"\r\n.dot line\r\nhello"), got[0][-40:])
        self.assertEqual(self.envelopes(), [])

    def test_wrong_from_refused(self):
        first, final = self.xmit(ALICE, ALICE_PW, b"From: bob@example.test\nTo: carol@example.test\n\nx\n")
        self.assertTrue(first.startswith(b"+OK"))
        self.assertEqual(final, b"-ERR From must be alice@example.test, not bob@example.test")
        self.assertEqual(self.mailbox(CAROL, CAROL_PW), [])

    def test_unknown_local_mailbox_refuses_all(self):
        message = b"From: alice@example.test\nTo: bob@example.test\nCc: nobody@example.test\n\nx\n"
        _, final = self.xmit(ALICE, ALICE_PW, message)
        self.assertEqual(final, b"-ERR no such mailbox: nobody@example.test; nothing sent")
        self.assertEqual(self.mailbox(BOB, BOB_PW), [])
        spool = os.path.join(self.server.data, "queue", "messages")
        self.wait_empty(os.path.join(spool, "tmp"))  # the spooled file goes on a worker
        self.assertEqual(os.listdir(os.path.join(spool, "new")), [])

    def test_local_recipient_over_quota_refuses_all(self):
        self.server.mailctl("mailbox", "set", CAROL, "quota_bytes", "200")
        try:
            message = (b"From: alice@example.test\nTo: bob@example.test\nCc: carol@example.test\n\n"
                       + b"x" * 300 + b"\n")
            _, final = self.xmit(ALICE, ALICE_PW, message)
            self.assertRegex(final, rb"^-ERR carol@example\.test: message of \d+ octets exceeds the mailbox quota: "
                                    rb"0 of 200 octets used; nothing sent$")
        finally:
            self.server.mailctl("mailbox", "unset", CAROL, "quota_bytes")
        self.assertEqual(self.mailbox(BOB, BOB_PW), [])
        self.assertEqual(self.mailbox(CAROL, CAROL_PW), [])
        self.assertEqual(self.envelopes(), [])
        self.wait_empty(os.path.join(self.server.data, "queue", "messages", "tmp"))
        self.assertIn("result=over_quota", self.server.log_tail(50))

    def wait_empty(self, path, timeout=5.0):
        deadline = time.monotonic() + timeout
        while os.listdir(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(os.listdir(path), [])

    def test_remote_recipient(self):
        message = b"From: alice@example.test\nTo: bob@example.test, someone@remote.example\n\nx\n"
        _, final = self.xmit(ALICE, ALICE_PW, message)
        self.assertEqual(final, b"-ERR remote recipient someone@remote.example not allowed: "
                                b"no smarthost configured; nothing sent")
        self.assertEqual(self.envelopes(), [])
        self.assertEqual(self.mailbox(BOB, BOB_PW), [])
        messages_new = os.path.join(self.server.data, "queue", "messages", "new")
        self.assertEqual(os.listdir(messages_new) if os.path.isdir(messages_new) else [], [])

        self.server.mailctl("daemon", "set", "smarthost", "127.0.0.1:1")
        try:
            # The daemon reads the setting per message: no reload needed.
            _, final = self.xmit(ALICE, ALICE_PW, message)
            self.assertEqual(final, b"+OK message sent, delivered to 1 mailbox, queued for 1 remote recipient")
            self.assertEqual(len(self.envelopes()), 1)
            self.assertEqual(len(self.mailbox(BOB, BOB_PW)), 1)
        finally:
            self.server.mailctl("daemon", "unset", "smarthost", check=False)
            for name in self.envelopes():
                if name.endswith(".json"):
                    self.server.mailctl("queue", "remove", name[:-len(".json")], check=False)


if __name__ == "__main__":
    unittest.main()
