# Quotas end to end (docs/quotas.md): quota_bytes / quota_messages set per postoffice and per
# mailbox with mailctl, enforced at SMTP RCPT (a full mailbox, or SIZE= that would not fit) and at
# the end of DATA, per recipient in LMTP, by `mailctl deliver` (exit 6); usage shown by mailbox
# show/list and postoffice show (--json) and equal to what POP3 STAT says.
import json
import unittest

from harness import make_message
from smtp_support import (ALICE, ALICE_PW, BOB, BOB_PW, POSTOFFICE, SENDER, SmtpConnection, SmtpTestCase,
                          dot_stuff, to_crlf)

EXIT_OVER_QUOTA = 6


def sized_message(subject: str, octets: int) -> bytes:
    """A CRLF message of about `octets` wire octets."""
    body = b"".join(b"%s\n" % (b"x" * 70) for _ in range(max(1, octets // 72)))
    return to_crlf(make_message(subject, body))


class QuotaTest(SmtpTestCase):
    service = "smtp"
    also = ("lmtp", "pop3")

    # -- helpers --------------------------------------------------------------------------------

    def mailbox_set(self, address, key, value):
        self.server.mailctl("mailbox", "set", address, key, str(value))

    def stat(self, address, password):
        p = self.server.login(address, password)
        try:
            return p.stat()
        finally:
            p.quit()

    def show(self, address):
        return json.loads(self.server.mailctl("--json", "mailbox", "show", address).stdout)

    def lmtp_session(self):
        conn = SmtpConnection(self.server.ports["lmtp"])
        self.addCleanup(conn.close)
        self.assertEqual(conn.reply().code, 220)
        self.assertEqual(conn.cmd("LHLO client.e2e.test").code, 250)
        return conn

    # -- tests ----------------------------------------------------------------------------------

    def test_smtp_refuses_a_full_mailbox_at_rcpt_and_a_declared_size_that_would_not_fit(self):
        self.mailbox_set(BOB, "quota_messages", 1)
        self.server.deliver(BOB, make_message("first", b"fills the quota\n"))
        self.mailbox_set(ALICE, "quota_bytes", 2000)
        conn = self.session()
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        reply = conn.cmd("RCPT TO:<%s>" % BOB)
        self.assertEqual(reply.code, 552, reply)
        self.assertTrue(reply.lines[0].startswith(b"5.2.2 <%s>: mailbox full" % BOB.encode()), reply)
        self.assertEqual(conn.cmd("RSET").code, 250)
        self.assertEqual(conn.cmd("MAIL FROM:<%s> SIZE=5000" % SENDER).code, 250)
        reply = conn.cmd("RCPT TO:<%s>" % ALICE)
        self.assertEqual(reply.code, 552, reply)
        self.assertIn(b"exceeds the mailbox quota", reply.lines[0])
        self.assertEqual(conn.cmd("RSET").code, 250)
        self.assertEqual(conn.cmd("MAIL FROM:<%s> SIZE=500" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("QUIT").code, 221)

    def test_smtp_refuses_at_the_end_of_data_what_would_exceed_quota_bytes(self):
        self.mailbox_set(ALICE, "quota_bytes", 3000)
        conn = self.session()
        reply = self.transaction(conn, [ALICE], sized_message("too big", 4000))
        self.assertEqual(reply.code, 552, reply)
        self.assertTrue(reply.lines[0].startswith(b"5.2.2 message of"), reply)
        self.assertEqual(self.stat(ALICE, ALICE_PW), (0, 0))
        reply = self.transaction(conn, [ALICE], sized_message("fits", 1000))
        self.assertEqual(reply.code, 250, reply)
        self.assertEqual(self.stat(ALICE, ALICE_PW)[0], 1)
        # Two recipients, one over: SMTP has one reply, so both get the message (documented).
        self.mailbox_set(BOB, "quota_bytes", 500)
        reply = self.transaction(conn, [ALICE, BOB], sized_message("both", 1000))
        self.assertEqual(reply.code, 250, reply)
        self.assertEqual(self.stat(BOB, BOB_PW)[0], 1)
        # Now both are over: refused whole, at RCPT already.
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % BOB).code, 552)

    def test_lmtp_answers_each_recipient_after_data(self):
        self.mailbox_set(BOB, "quota_bytes", 1500)
        conn = self.lmtp_session()
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % BOB).code, 250)  # not full yet, size unknown
        self.assertEqual(conn.cmd("DATA").code, 354)
        conn.send(dot_stuff(sized_message("lmtp", 2000)))
        alice, bob = conn.replies(2)
        self.assertEqual(alice.code, 250, alice)
        self.assertEqual(bob.code, 552, bob)
        self.assertTrue(bob.lines[0].startswith(b"5.2.2 <%s> message of" % BOB.encode()), bob)
        self.assertEqual(self.stat(ALICE, ALICE_PW)[0], 1)
        self.assertEqual(self.stat(BOB, BOB_PW), (0, 0))

    def test_mailctl_deliver_exits_6_over_quota_and_stores_nothing(self):
        self.mailbox_set(ALICE, "quota_bytes", 1000)
        proc = self.server.mailctl("deliver", ALICE, input=sized_message("big", 2000), check=False)
        self.assertEqual(proc.returncode, EXIT_OVER_QUOTA, proc.stderr)
        self.assertEqual(proc.stdout, b"")
        self.assertIn(b"exceeds the mailbox quota", proc.stderr)
        self.assertEqual(self.stat(ALICE, ALICE_PW), (0, 0))
        self.server.deliver(ALICE, sized_message("small", 500))
        self.mailbox_set(ALICE, "quota_messages", 1)
        proc = self.server.mailctl("deliver", ALICE, input=b"Subject: x\n\ny\n", check=False)
        self.assertEqual(proc.returncode, EXIT_OVER_QUOTA, proc.stderr)
        self.assertIn(b"mailbox full: 1 of 1 messages", proc.stderr)

    def test_postoffice_default_and_mailbox_override(self):
        self.server.mailctl("postoffice", "set", POSTOFFICE, "quota_messages", 1)
        self.mailbox_set(ALICE, "quota_messages", 2)
        self.mailbox_set(BOB, "quota_messages", 0)  # 0: no limit, whatever the postoffice says
        for n in range(2):
            self.server.deliver(ALICE, b"Subject: %d\n\nx\n" % n)
        for n in range(3):
            self.server.deliver(BOB, b"Subject: %d\n\nx\n" % n)
        proc = self.server.mailctl("deliver", ALICE, input=b"Subject: 3\n\nx\n", check=False)
        self.assertEqual(proc.returncode, EXIT_OVER_QUOTA, proc.stderr)
        self.server.mailctl("mailbox", "unset", ALICE, "quota_messages")  # back to the default: 1
        proc = self.server.mailctl("deliver", ALICE, input=b"Subject: 3\n\nx\n", check=False)
        self.assertEqual(proc.returncode, EXIT_OVER_QUOTA, proc.stderr)
        self.assertEqual(self.show(ALICE)["quota_messages"], 1)
        self.assertIsNone(self.show(BOB)["quota_messages"])

    def test_usage_in_show_and_list_matches_pop3_stat(self):
        self.mailbox_set(ALICE, "quota_bytes", 100000)
        self.server.mailctl("postoffice", "set", POSTOFFICE, "quota_messages", 50)
        self.server.deliver(ALICE, sized_message("one", 700))
        self.server.deliver(ALICE, sized_message("two", 1500))
        self.server.deliver(BOB, sized_message("three", 300))
        count, octets = self.stat(ALICE, ALICE_PW)
        shown = self.show(ALICE)
        self.assertEqual((shown["used_messages"], shown["used_bytes"]), (count, octets))
        self.assertEqual((shown["quota_bytes"], shown["quota_messages"]), (100000, 50))
        listed = json.loads(self.server.mailctl("--json", "mailbox", "list").stdout)
        by_address = {m["address"]: m for m in listed}
        self.assertEqual(by_address[ALICE]["used_bytes"], octets)
        bob_count, bob_octets = self.stat(BOB, BOB_PW)
        self.assertEqual((by_address[BOB]["used_messages"], by_address[BOB]["used_bytes"]), (bob_count, bob_octets))
        self.assertIsNone(by_address[BOB]["quota_bytes"])
        po = json.loads(self.server.mailctl("--json", "postoffice", "show", POSTOFFICE).stdout)
        self.assertEqual(po["used_messages"], count + bob_count + 0)  # carol's Maildir is empty
        self.assertEqual(po["used_bytes"], octets + bob_octets)
        self.assertEqual((po["quota_bytes"], po["quota_messages"]), (None, 50))
        text = self.server.mailctl("mailbox", "show", ALICE).stdout.decode()
        self.assertIn("usage:            %d bytes in 2 messages" % octets, text)


if __name__ == "__main__":
    unittest.main()
