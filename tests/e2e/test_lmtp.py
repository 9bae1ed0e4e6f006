# End-to-end LMTP (RFC 2033) over TCP on loopback, and over the unix socket once the core offers
# the `unix_socket` setting: LHLO required, one reply per accepted recipient after the data, in
# order, with smtplib.LMTP, swaks --protocol LMTP and a raw socket; read back over POP3.
import os
import smtplib
import socket
import tempfile
import time
import unittest

from harness import IO_TIMEOUT, LOOPBACK, first_bytes, make_message
from smtp_support import (ALICE, ALICE_PW, BOB, BOB_PW, CAROL, CLIENT_NAME, SENDER, SmtpConnection, SmtpTestCase,
                          dot_stuff, have, to_crlf)


class LmtpTest(SmtpTestCase):
    service = "lmtp"

    def configure(self, server):
        server.set("max_login_failures", 2)
        server.set("failure_delay", 0)

    def test_greeting_and_lhlo(self):
        conn = SmtpConnection(self.server.port)
        self.addCleanup(conn.close)
        self.assertEqual(conn.readline(), b"220 " + self.server.hostname.encode() + b" LMTP ready")
        for hello in ("EHLO", "HELO"):
            reply = conn.cmd("%s %s" % (hello, CLIENT_NAME))
            self.assertEqual(reply.code, 500, reply)
            self.assertTrue(reply.lines[-1].startswith(b"5.5.1"), reply)
        reply = conn.cmd("MAIL FROM:<%s>" % SENDER)
        self.assertEqual(reply.code, 503, reply)
        reply = conn.cmd("LHLO " + CLIENT_NAME)
        self.assertEqual(reply.code, 250, reply)
        self.assertEqual(reply.lines[0], self.server.hostname.encode())
        self.assertIn(b"PIPELINING", [line.upper() for line in reply.lines])
        self.assertEqual(conn.cmd("QUIT").raw, [b"221 2.0.0 Bye"])

    def test_one_reply_per_accepted_recipient_in_order(self):
        conn = self.session(hello="LHLO")
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % BOB).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % CAROL).code, 550)  # disabled: no reply after DATA
        self.assertEqual(conn.cmd("RCPT TO:<nobody@example.test>").code, 550)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("DATA").code, 354)
        message = to_crlf(make_message("lmtp", b"two recipients\n.dot\n"))
        conn.send(dot_stuff(message))
        replies = conn.replies(2)
        self.assertEqual([r.raw for r in replies], [[b"250 2.0.0 <%s> delivered" % BOB.encode()],
                                                    [b"250 2.0.0 <%s> delivered" % ALICE.encode()]])
        self.assertEqual(conn.nothing_more(0.5), b"", "exactly one reply per accepted recipient")
        self.assertEqual(conn.cmd("QUIT").code, 221)
        self.assert_delivered(ALICE, ALICE_PW, message, "LMTP", rcpt=False)
        self.assert_delivered(BOB, BOB_PW, message, "LMTP", rcpt=False)

    def test_a_mailbox_named_twice_gets_one_copy_and_a_reply_per_rcpt(self):
        conn = self.session(hello="LHLO")
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE.upper()).code, 250)
        self.assertEqual(conn.cmd("DATA").code, 354)
        message = to_crlf(make_message("twice", b"one copy\n"))
        conn.send(dot_stuff(message))
        replies = conn.replies(2)
        self.assertEqual([r.raw for r in replies], [[b"250 2.0.0 <%s> delivered" % ALICE.encode()],
                                                    [b"250 2.0.0 <%s> delivered" % ALICE.upper().encode()]])
        self.assertEqual(conn.nothing_more(0.5), b"", "exactly one reply per accepted RCPT")
        self.assertEqual(conn.cmd("QUIT").code, 221)
        self.assert_delivered(ALICE, ALICE_PW, message, "LMTP", rcpt=False)

    def test_a_failed_copy_fails_only_its_recipient(self):
        # bob's new/ vanishes between RCPT and the end of the data: his copy cannot be made, a
        # temporary failure for him alone; alice's copy is delivered.
        conn = self.session(hello="LHLO")
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % BOB).code, 250)
        self.assertEqual(conn.cmd("DATA").code, 354)
        bob_new = self.maildir(BOB) / "new"
        os.rmdir(bob_new)
        message = to_crlf(make_message("half", b"only alice gets this\n"))
        conn.send(dot_stuff(message))
        first, second = conn.replies(2)
        os.mkdir(bob_new)
        self.assertEqual(first.raw, [b"250 2.0.0 <%s> delivered" % ALICE.encode()])
        self.assertEqual(second.code // 100, 4, second)
        self.assertTrue(second.lines[0].startswith((b"4.3.0 <%s>" % BOB.encode(), b"4.2.2 <%s>" % BOB.encode(),
                                                    b"4.3.1 <%s>" % BOB.encode())), second)
        self.assertEqual(conn.cmd("QUIT").code, 221)
        self.assert_delivered(ALICE, ALICE_PW, message, "LMTP", rcpt=False)
        self.assertEqual(self.messages(BOB, BOB_PW), [])

    def test_smtplib_lmtp_client(self):
        client = smtplib.LMTP(LOOPBACK, self.server.port, local_hostname=CLIENT_NAME, timeout=IO_TIMEOUT)
        self.addCleanup(client.close)
        code, _ = client.ehlo(CLIENT_NAME)  # smtplib.LMTP says LHLO here
        self.assertEqual(code, 250)
        message = to_crlf(make_message("smtplib lmtp", b"via smtplib.LMTP\n"))  # smtplib sends bytes as they are
        self.assertEqual(client.mail(SENDER)[0], 250)
        self.assertEqual(client.rcpt(ALICE)[0], 250)
        self.assertEqual(client.rcpt(BOB)[0], 250)
        # smtplib reads one reply after the data; LMTP sends one per recipient: read the second.
        code, text = client.data(message)
        self.assertEqual((code, text), (250, b"2.0.0 <%s> delivered" % ALICE.encode()))
        code, text = client.getreply()
        self.assertEqual((code, text), (250, b"2.0.0 <%s> delivered" % BOB.encode()))
        client.quit()
        self.assert_delivered(ALICE, ALICE_PW, message, "LMTP", rcpt=False)
        self.assert_delivered(BOB, BOB_PW, message, "LMTP", rcpt=False)

    @unittest.skipUnless(have("swaks"), "swaks not installed (scripts/bootstrap)")
    def test_swaks_lmtp(self):
        message = to_crlf(make_message("swaks lmtp", b"via swaks --protocol LMTP\n"))
        with tempfile.NamedTemporaryFile(prefix="swaks-", suffix=".eml") as f:
            f.write(message[:-2])  # swaks sends the file then "<CRLF>.<CRLF>"
            f.flush()
            proc = self.run_tool(["swaks", "--protocol", "LMTP", "--server", LOOPBACK, "--port",
                                  str(self.server.port), "--ehlo", CLIENT_NAME, "--from", SENDER,
                                  "--to", ALICE, "--data", "@" + f.name, "--timeout", "20"])
        out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        self.assertEqual(proc.returncode, 0, out)
        self.assertIn("250 2.0.0 <%s> delivered" % ALICE, out)
        self.assert_delivered(ALICE, ALICE_PW, message, "LMTP")

    def test_unknown_recipients_do_not_block_in_lmtp(self):
        # count_unknown_recipients is off for lmtp: a trusted MTA's unknown recipients never
        # count against its address (max_login_failures is 2 here).
        conn = self.session(hello="LHLO", source="127.0.0.61")
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        for n in range(5):
            reply = conn.cmd("RCPT TO:<guess%d@example.test>" % n)
            self.assertTrue(reply.raw[-1].startswith(b"550 5.1.1"), reply)
        self.assertTrue(first_bytes("127.0.0.61", self.server.port).startswith(b"220"))

    def test_lmtp_over_the_unix_socket(self):
        self.assertIn("unix_socket", self.setting_names("lmtp"))
        path = os.path.join(self.server.root, "lmtp-e2e.sock")
        self.server.set("unix_socket", path)
        sock = None
        deadline = time.monotonic() + 10
        while sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.settimeout(IO_TIMEOUT)
                s.connect(path)
                sock = s
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    self.fail("no LMTP listener on %s within 10 s" % path)
                time.sleep(0.2)
        conn = SmtpConnection(None, sock=sock)
        self.addCleanup(conn.close)
        greeting = conn.reply()
        self.assertEqual(greeting.raw, [b"220 " + self.server.hostname.encode() + b" LMTP ready"])
        self.assertEqual(conn.cmd("LHLO " + CLIENT_NAME).code, 250)
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("DATA").code, 354)
        message = to_crlf(make_message("unix", b"over the unix socket\n"))
        conn.send(dot_stuff(message))
        self.assertEqual(conn.reply().raw, [b"250 2.0.0 <%s> delivered" % ALICE.encode()])
        self.assertEqual(conn.cmd("QUIT").code, 221)
        msgs = self.messages(ALICE, ALICE_PW)
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0].endswith(message))


if __name__ == "__main__":
    unittest.main()
