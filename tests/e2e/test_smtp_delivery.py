# End-to-end SMTP delivery seen by real clients (smtplib, swaks, curl): what was sent is what POP3
# RETR returns after the Return-Path and Received headers the server adds (checked, with the TLS
# version and cipher after STARTTLS), several recipients share one stored file (hard links), and
# pipelined transactions are answered in order.
import os
import smtplib
import ssl
import tempfile
import unittest

from harness import IO_TIMEOUT, LOOPBACK, make_message
from smtp_support import (ALICE, ALICE_PW, BOB, BOB_PW, CLIENT_NAME, SENDER, SmtpTestCase, dot_stuff, have,
                          split_trace, tls_comment, to_crlf)

DOTS_BODY = (b".leading dot\n"
             b"..two dots\n"
             b".\n"
             b"middle\n"
             b". dot space\n"
             b"last line\n")
EIGHT_BIT_BODY = ("Grüße, naïve café — ☃\n".encode("utf-8") + bytes(range(0xa0, 0x100)) + b"\n")


class SmtpDeliveryTest(SmtpTestCase):
    def configure(self, server):
        server.mailctl("cert", "generate", "--hostname", "localhost")  # STARTTLS is offered

    def smtplib_client(self) -> smtplib.SMTP:
        client = smtplib.SMTP(LOOPBACK, self.server.port, local_hostname=CLIENT_NAME, timeout=IO_TIMEOUT)
        self.addCleanup(client.close)
        return client

    # -- smtplib --------------------------------------------------------------------------------

    def test_smtplib_delivery_is_what_pop3_returns_after_the_trace_headers(self):
        # smtplib sends bytes as they are: CRLF lines (a bare LF would be refused, 554 5.6.0).
        message = to_crlf(make_message("smtplib", b"Hello Alice.\nSecond line.\n") + DOTS_BODY)
        client = self.smtplib_client()
        refused = client.sendmail(SENDER, [ALICE], message)
        self.assertEqual(refused, {})
        client.quit()
        self.assert_delivered(ALICE, ALICE_PW, message, "ESMTP")
        self.assertEqual(self.messages(BOB, BOB_PW), [])

    def test_helo_session_is_recorded_as_smtp(self):
        message = to_crlf(make_message("helo", b"plain old SMTP\n"))
        client = self.smtplib_client()
        code, _ = client.helo(CLIENT_NAME)
        self.assertEqual(code, 250)
        client.sendmail(SENDER, [ALICE], message)
        client.quit()
        self.assert_delivered(ALICE, ALICE_PW, message, "SMTP")

    def test_eight_bit_body_and_null_sender(self):
        message = to_crlf(make_message("8bit", EIGHT_BIT_BODY))
        client = self.smtplib_client()
        client.ehlo(CLIENT_NAME)
        self.assertTrue(client.has_extn("8bitmime"))
        client.sendmail("", [ALICE], message, mail_options=["BODY=8BITMIME"])
        client.quit()
        self.assert_delivered(ALICE, ALICE_PW, message, "ESMTP", sender="")

    def test_several_recipients_share_one_stored_file(self):
        message = to_crlf(make_message("for both", b"one copy, two names\n"))
        client = self.smtplib_client()
        self.assertEqual(client.sendmail(SENDER, [ALICE, BOB], message), {})
        client.quit()
        self.assert_delivered(ALICE, ALICE_PW, message, "ESMTP", rcpt=False)
        self.assert_delivered(BOB, BOB_PW, message, "ESMTP", rcpt=False)
        # POP3 moved them to cur/ (or left them in new/): each mailbox holds one file, the same inode.
        a = self.stored_files(ALICE, ("new", "cur"))
        b = self.stored_files(BOB, ("new", "cur"))
        self.assertEqual((len(a), len(b)), (1, 1), (a, b))
        self.assertEqual(os.stat(a[0]).st_ino, os.stat(b[0]).st_ino, "copies must be hard links")
        self.assertEqual(os.stat(a[0]).st_nlink, 2)

    def test_a_refused_recipient_does_not_stop_the_others(self):
        message = to_crlf(make_message("partly", b"bob is fine\n"))
        client = self.smtplib_client()
        refused = client.sendmail(SENDER, ["nobody@example.test", BOB], message)
        self.assertEqual(list(refused), ["nobody@example.test"])
        self.assertEqual(refused["nobody@example.test"][0], 550)
        client.quit()
        self.assert_delivered(BOB, BOB_PW, message, "ESMTP", rcpt=True)

    def test_starttls_delivery_records_the_tls_version_and_cipher(self):
        message = to_crlf(make_message("over tls", b"secret\n"))
        client = self.smtplib_client()
        client.ehlo(CLIENT_NAME)
        self.assertTrue(client.has_extn("starttls"), client.esmtp_features)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        code, _ = client.starttls(context=context)
        self.assertEqual(code, 220)
        version, cipher = client.sock.version(), client.sock.cipher()[0]
        client.ehlo(CLIENT_NAME)
        self.assertFalse(client.has_extn("starttls"), "STARTTLS is not offered again")
        client.sendmail(SENDER, [ALICE], message)
        client.quit()
        received = self.assert_delivered(ALICE, ALICE_PW, message, "ESMTPS")
        comment = tls_comment(received, CLIENT_NAME, self.server.hostname, "ESMTPS", ALICE)
        self.assertIsNotNone(comment, received)
        self.assertIn(version.encode(), comment)
        self.assertIn(cipher.encode(), comment)

    # -- pipelining -----------------------------------------------------------------------------

    def test_pipelined_transactions_are_answered_in_order(self):
        conn = self.session()
        messages = [make_message("pipelined %d" % n, b"message %d\n" % n) for n in range(3)]
        # RFC 2920: MAIL, RCPT..., DATA in one send; the data after 354; the end of the data and
        # the next transaction's commands in one send again.
        group = b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (
            SENDER.encode(), ALICE.encode(), BOB.encode())
        conn.send(group)
        self.assertEqual([r.code for r in conn.replies(4)], [250, 250, 250, 354])
        for n, message in enumerate(messages):
            tail = group if n + 1 < len(messages) else b"QUIT\r\n"
            conn.send(dot_stuff(to_crlf(message)) + tail)
            codes = [r.code for r in conn.replies(5 if n + 1 < len(messages) else 2)]
            self.assertEqual(codes, [250, 250, 250, 250, 354] if n + 1 < len(messages) else [250, 221])
        for address, password in ((ALICE, ALICE_PW), (BOB, BOB_PW)):
            got = [split_trace(m)[2] for m in self.messages(address, password)]
            self.assertEqual(got, [to_crlf(m) for m in messages])

    def test_whole_transactions_in_one_send(self):
        # A client that does not wait for 354 (common among bulk senders): the server reads the
        # pipelined bytes in order, so the data after DATA is still the message.
        conn = self.session()
        messages = [make_message("blind %d" % n, b"message %d\n.dot line\n" % n) for n in range(2)]
        blob = b""
        for m in messages:
            blob += b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER.encode(), ALICE.encode())
            blob += dot_stuff(to_crlf(m))
        blob += b"QUIT\r\n"
        conn.send(blob)
        codes = [r.code for r in conn.replies(9)]
        self.assertEqual(codes, [250, 250, 354, 250, 250, 250, 354, 250, 221])
        got = [split_trace(m)[2] for m in self.messages(ALICE, ALICE_PW)]
        self.assertEqual(got, [to_crlf(m) for m in messages])

    # -- swaks ----------------------------------------------------------------------------------

    def swaks(self, *args, data: bytes) -> str:
        with tempfile.NamedTemporaryFile(prefix="swaks-", suffix=".eml") as f:
            # swaks sends the file then "<CRLF>.<CRLF>": without its last CRLF the data arrives as is.
            f.write(data[:-2] if data.endswith(b"\r\n") else data)
            f.flush()
            proc = self.run_tool(["swaks", "--server", LOOPBACK, "--port", str(self.server.port),
                                  "--ehlo", CLIENT_NAME, "--from", SENDER, "--data", "@" + f.name,
                                  "--timeout", "20"] + list(args))
        out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        self.assertEqual(proc.returncode, 0, out)
        return out

    @unittest.skipUnless(have("swaks"), "swaks not installed (scripts/bootstrap)")
    def test_swaks_delivery(self):
        message = to_crlf(make_message("swaks", b"sent by swaks\n" + DOTS_BODY))
        out = self.swaks("--to", ALICE, data=message)
        self.assertIn("250 2.0.0", out)
        self.assert_delivered(ALICE, ALICE_PW, message, "ESMTP")

    @unittest.skipUnless(have("swaks"), "swaks not installed (scripts/bootstrap)")
    def test_swaks_starttls_delivery(self):
        message = to_crlf(make_message("swaks tls", b"sent by swaks over STARTTLS\n"))
        out = self.swaks("--to", ALICE, "--tls", data=message)
        self.assertIn("220 2.0.0", out)
        received = self.assert_delivered(ALICE, ALICE_PW, message, "ESMTPS")
        comment = tls_comment(received, CLIENT_NAME, self.server.hostname, "ESMTPS", ALICE)
        self.assertIsNotNone(comment, received)
        self.assertRegex(comment, rb"^TLSv1\.[23] with cipher [A-Z0-9_-]+$")

    @unittest.skipUnless(have("swaks"), "swaks not installed (scripts/bootstrap)")
    def test_swaks_pipelining_with_two_recipients(self):
        message = to_crlf(make_message("swaks pipe", b"pipelined by swaks\n"))
        out = self.swaks("--to", "%s,%s" % (ALICE, BOB), "--pipeline", data=message)
        self.assertIn("250 2.0.0", out)
        self.assert_delivered(ALICE, ALICE_PW, message, "ESMTP", rcpt=False)
        self.assert_delivered(BOB, BOB_PW, message, "ESMTP", rcpt=False)

    # -- curl -----------------------------------------------------------------------------------

    @unittest.skipUnless(have("curl"), "curl not installed")
    def test_curl_upload(self):
        message = to_crlf(make_message("curl", b"uploaded by curl\n" + DOTS_BODY))
        with tempfile.NamedTemporaryFile(prefix="curl-", suffix=".eml") as f:
            f.write(message)
            f.flush()
            proc = self.run_tool(["curl", "-sS", "--max-time", "30",
                                  "smtp://%s:%d/%s" % (LOOPBACK, self.server.port, CLIENT_NAME),
                                  "--mail-from", SENDER, "--mail-rcpt", ALICE, "--mail-rcpt", BOB,
                                  "--upload-file", f.name])
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        self.assert_delivered(ALICE, ALICE_PW, message, "ESMTP", rcpt=False)
        self.assert_delivered(BOB, BOB_PW, message, "ESMTP", rcpt=False)


if __name__ == "__main__":
    unittest.main()
