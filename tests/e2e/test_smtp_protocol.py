# End-to-end SMTP dialogue on a raw socket: greeting, EHLO, replies to every command, sequence and
# syntax errors, the bad-command limit, recipient checks (no relaying, unknown, disabled, too
# many), STARTTLS command injection, and the data terminator: only <CRLF>.<CRLF> ends the data,
# so a "MAIL FROM" smuggled behind <LF>.<LF>, <CR>.<CR> or <LF>.<CRLF> is never executed.
import ssl
import time
import unittest

from harness import make_message
from smtp_support import (ALICE, ALICE_PW, BOB, BOB_PW, CAROL, CLIENT_NAME, DAVE, SENDER, SmtpTestCase,
                          SmtpConnection, dot_stuff, split_trace, to_crlf)


ERIN = "erin@example.test"
FRANK = "frank@example.test"


class SmtpDialogueTest(SmtpTestCase):
    def configure(self, server):
        server.mailctl("cert", "generate", "--hostname", "localhost")
        server.set("max_recipients", 3)
        server.add_mailbox(ERIN, "erin-pw")
        server.add_mailbox(FRANK, "frank-pw")
        server.set("max_bad_commands", 50)  # the syntax test sends a dozen bad commands in one session

    def assert_reply(self, reply, code: int, enhanced: str = None, contains: bytes = None):
        self.assertEqual(reply.code, code, reply)
        if enhanced is not None:
            self.assertTrue(reply.lines[-1].startswith(enhanced.encode() + b" ") or
                            reply.lines[-1] == enhanced.encode(), reply)
        if contains is not None:
            self.assertIn(contains, reply.text, reply)

    # -- greeting, EHLO, simple commands --------------------------------------------------------

    def test_greeting_and_quit(self):
        conn = SmtpConnection(self.server.port)
        self.addCleanup(conn.close)
        self.assertEqual(conn.readline(), b"220 " + self.server.hostname.encode() + b" ESMTP ready")
        self.assertEqual(conn.cmd("QUIT").raw, [b"221 2.0.0 Bye"])
        self.assertEqual(conn.wait_closed(), b"")

    def test_ehlo_lists_the_extensions(self):
        conn = self.connect()
        reply = conn.cmd("EHLO " + CLIENT_NAME)
        self.assertEqual(reply.code, 250, reply)
        self.assertEqual(reply.lines[0], self.server.hostname.encode())
        for line in reply.raw[:-1]:
            self.assertTrue(line.startswith(b"250-"), reply)
        self.assertTrue(reply.raw[-1].startswith(b"250 "), reply)
        keywords = [line.upper() for line in reply.lines[1:]]
        for ext in (b"PIPELINING", b"SIZE 67108864", b"8BITMIME", b"ENHANCEDSTATUSCODES", b"SMTPUTF8",
                    b"STARTTLS"):
            self.assertIn(ext, keywords)

    def test_helo_noop_rset_vrfy_expn_help(self):
        conn = self.connect()
        self.assertEqual(conn.cmd("HELO " + CLIENT_NAME).raw, [b"250 " + self.server.hostname.encode()])
        self.assertEqual(conn.cmd("NOOP").raw, [b"250 2.0.0 OK"])
        self.assertEqual(conn.cmd("RSET").raw, [b"250 2.0.0 OK"])
        self.assertEqual(conn.cmd("VRFY alice").raw,
                         [b"252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery"])
        self.assert_reply(conn.cmd("EXPN staff"), 502, "5.5.1")
        self.assert_reply(conn.cmd("HELP"), 214, "2.0.0")
        self.assertEqual(conn.cmd("quit").code, 221)  # commands are case-insensitive

    # -- sequence, syntax, unknown commands -----------------------------------------------------

    def test_sequence_errors(self):
        conn = self.connect()
        self.assert_reply(conn.cmd("MAIL FROM:<%s>" % SENDER), 503, "5.5.1")
        conn.cmd("EHLO " + CLIENT_NAME)
        self.assert_reply(conn.cmd("RCPT TO:<%s>" % ALICE), 503, "5.5.1")
        self.assert_reply(conn.cmd("DATA"), 503, "5.5.1")
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).raw, [b"250 2.1.0 OK"])
        self.assert_reply(conn.cmd("MAIL FROM:<%s>" % SENDER), 503, "5.5.1")
        self.assert_reply(conn.cmd("DATA"), 503, "5.5.1")  # no recipient yet
        self.assert_reply(conn.cmd("RCPT TO:<nobody@example.test>"), 550, "5.1.1")
        self.assertEqual(conn.cmd("DATA").raw, [b"554 5.5.1 no valid recipients"])
        # RSET ends the transaction: RCPT needs a new MAIL.
        self.assertEqual(conn.cmd("RSET").code, 250)
        self.assert_reply(conn.cmd("RCPT TO:<%s>" % ALICE), 503, "5.5.1")
        self.assertEqual(conn.cmd("NOOP").code, 250)
        self.assertEqual(self.stored_files(ALICE), [])

    def test_syntax_errors_and_unknown_commands(self):
        conn = self.session()
        self.assert_reply(conn.cmd("MAIL FROM:" + SENDER), 501, "5.5.4")       # no angle brackets
        self.assert_reply(conn.cmd("MAIL TO:<%s>" % SENDER), 501, "5.5.4")
        self.assert_reply(conn.cmd("MAIL FROM:<%s> FOO=BAR" % SENDER), 555, "5.5.4")
        self.assert_reply(conn.cmd("MAIL FROM:<%s> SIZE=abc" % SENDER), 501, "5.5.4")
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assert_reply(conn.cmd("RCPT TO:<>"), 501, "5.1.3")
        self.assert_reply(conn.cmd("RCPT TO:%s" % ALICE), 501, "5.5.4")
        self.assert_reply(conn.cmd("RCPT TO:<%s> NOTIFY=NEVER" % ALICE), 555, "5.5.4")
        self.assert_reply(conn.cmd("FROB"), 500, "5.5.2")
        self.assert_reply(conn.cmd(""), 500, "5.5.2")
        self.assert_reply(conn.cmd("EHLO"), 501, "5.5.4")
        self.assert_reply(conn.cmd("LHLO " + CLIENT_NAME), 500)  # LHLO is LMTP only

    def test_too_many_bad_commands_end_the_session(self):
        self.server.set("max_bad_commands", 3)
        time.sleep(2)  # the daemon polls settings about once a second; new sessions get the value
        conn = self.session()
        for _ in range(3):
            self.assert_reply(conn.cmd("FROB"), 500, "5.5.2")
        conn.send(b"FROB\r\n")
        lines = []
        try:
            while True:
                lines.append(conn.readline())
        except EOFError:
            pass
        self.assertTrue(lines and lines[-1].startswith(b"421 4.7.0"), lines)
        self.assertEqual(conn.wait_closed(), b"")

    def test_smtputf8_addresses_need_the_parameter(self):
        conn = self.session()
        sender = "jörg@example.org"
        reply = conn.cmd(("MAIL FROM:<%s>" % sender).encode())
        self.assert_reply(reply, 553, "5.6.7")
        self.assertEqual(conn.cmd(("MAIL FROM:<%s> SMTPUTF8" % sender).encode()).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("DATA").code, 354)
        message = to_crlf(make_message("utf8", "Grüße\n".encode()))
        conn.send(dot_stuff(message))
        self.assertEqual(conn.reply().code, 250)
        msgs = self.messages(ALICE, ALICE_PW)
        self.assertEqual(len(msgs), 1)
        return_path, received, rest = split_trace(msgs[0])
        self.assertEqual(return_path, ("Return-Path: <%s>" % sender).encode())
        self.assertIn(b" with UTF8SMTP ", received)  # RFC 6531 section 3.7.4
        self.assertEqual(rest, message)

    # -- recipients -----------------------------------------------------------------------------

    def test_recipient_checks(self):
        conn = self.session()
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        # The contract says "550 5.7.1 relaying denied"; docs/smtp.md names the address first.
        reply = conn.cmd("RCPT TO:<someone@elsewhere.example>")
        self.assert_reply(reply, 550, "5.7.1", b"relaying denied")
        self.assertEqual(conn.cmd("RCPT TO:<nobody@example.test>").raw,
                         [b"550 5.1.1 <nobody@example.test>: mailbox unknown"])
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % CAROL).raw, [b"550 5.2.1 <%s>: mailbox disabled" % CAROL.encode()])
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % DAVE).raw, [b"550 5.2.1 <%s>: mailbox disabled" % DAVE.encode()])
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).raw, [b"250 2.1.5 <%s> OK" % ALICE.encode()])
        # The domain is case-insensitive.
        self.assertEqual(conn.cmd("RCPT TO:<bob@EXAMPLE.Test>").code, 250)
        self.assertEqual(conn.cmd("RSET").code, 250)
        self.assertEqual(self.stored_files(CAROL) + self.stored_files(DAVE), [])

    def test_max_recipients(self):
        conn = self.session()
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        for rcpt in (ALICE, BOB, ERIN):  # max_recipients 3 (configure)
            self.assertEqual(conn.cmd("RCPT TO:<%s>" % rcpt).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % FRANK).raw, [b"452 4.5.3 too many recipients"])
        self.assertEqual(conn.cmd("DATA").code, 354)
        message = to_crlf(make_message("three", b"three of four\n"))
        conn.send(dot_stuff(message))
        self.assertEqual(conn.reply().raw, [b"250 2.0.0 OK delivered"])
        for address in (ALICE, BOB, ERIN):
            self.assertEqual(len(self.stored_files(address)), 1, address)
        self.assertEqual(self.stored_files(FRANK), [])

    # -- STARTTLS -------------------------------------------------------------------------------

    def test_starttls_drops_commands_pipelined_behind_it(self):
        conn = self.session()
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        conn.send(b"STARTTLS\r\nRSET\r\n")  # one packet: the RSET is plaintext injection
        self.assertEqual(conn.readline(), b"220 2.0.0 Ready to start TLS")
        self.assertEqual(conn.buf, b"", "nothing after the 220 in plaintext")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        tls = SmtpConnection(None, sock=context.wrap_socket(conn.sock, server_hostname="localhost"))
        self.addCleanup(tls.close)
        self.assertEqual(tls.nothing_more(1.0), b"", "the injected RSET must not be answered")
        # The session starts over: a MAIL needs a new EHLO, the earlier MAIL is forgotten.
        self.assert_reply(tls.cmd("MAIL FROM:<%s>" % SENDER), 503, "5.5.1")
        reply = tls.cmd("EHLO " + CLIENT_NAME)
        self.assertEqual(reply.code, 250)
        self.assertNotIn(b"STARTTLS", [line.upper() for line in reply.lines])
        self.assert_reply(tls.cmd("RCPT TO:<%s>" % ALICE), 503, "5.5.1")
        self.assert_reply(tls.cmd("STARTTLS"), 503)  # a second STARTTLS is out of sequence
        self.assertEqual(tls.cmd("QUIT").code, 221)

    # -- the data terminator and line endings ---------------------------------------------------

    def smuggle(self, separator: bytes):
        """A message whose body holds `separator` then a second transaction; returns the final
        reply of the real end and what followed before QUIT's reply."""
        conn = self.session()
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("DATA").code, 354)
        smuggled = (b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<" + BOB.encode() + b">\r\nDATA\r\n"
                    b"Subject: smuggled\r\n\r\nsmuggled body\r\n")
        data = b"Subject: innocent\r\n\r\nfirst part" + separator + smuggled
        conn.send(data + b".\r\n")
        final = conn.reply()
        trailing = conn.cmd("QUIT")
        return final, trailing, data

    def assert_not_smuggled(self, separator: bytes, normalise: bool):
        final, trailing, data = self.smuggle(separator)
        self.assertEqual(trailing.code, 221, "only the QUIT is answered after the data: %r" % trailing)
        self.assertEqual(self.messages(BOB, BOB_PW), [], "the smuggled transaction was executed")
        if normalise:
            self.assertEqual(final.raw, [b"250 2.0.0 OK delivered"])
            msgs = self.messages(ALICE, ALICE_PW)
            self.assertEqual(len(msgs), 1)
            body = split_trace(msgs[0])[2]
            self.assertIn(b"MAIL FROM:<evil@example.org>\r\n", body)
            lone = separator.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            self.assertEqual(body, data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n"),
                             "bare endings become CRLF (%r)" % lone)
        else:
            self.assert_reply(final, 554, "5.6.0", b"bare LF or CR in message data")
            self.assertEqual(self.stored_files(ALICE), [])

    def test_lf_dot_lf_does_not_end_the_data(self):
        self.assert_not_smuggled(b"\n.\n", normalise=False)

    def test_cr_dot_cr_does_not_end_the_data(self):
        self.assert_not_smuggled(b"\r.\r", normalise=False)

    def test_lf_dot_crlf_does_not_end_the_data(self):
        self.assert_not_smuggled(b"\n.\r\n", normalise=False)

    def test_smuggling_with_normalised_line_endings(self):
        self.server.set("bare_line_endings", "normalise")
        time.sleep(2)
        for n, separator in enumerate((b"\n.\n", b"\r.\r", b"\n.\r\n")):
            with self.subTest(separator=separator):
                self.assert_not_smuggled(separator, normalise=True)
                p = self.server.login(ALICE, ALICE_PW)
                p.dele(1)
                p.quit()

    def test_bare_lf_is_rejected_and_nothing_stored(self):
        conn = self.session()
        reply = self.transaction(conn, [ALICE, BOB], b"Subject: bare\n\nbare LF lines\r\n")
        self.assert_reply(reply, 554, "5.6.0", b"bare LF or CR in message data")
        # The session goes on.
        self.assertEqual(self.transaction(conn, [ALICE], b"Subject: fine\r\n\r\nok\r\n").code, 250)
        self.assertEqual(len(self.messages(ALICE, ALICE_PW)), 1)
        self.assertEqual(self.messages(BOB, BOB_PW), [])

    def test_normalised_bare_endings_are_stored_as_crlf(self):
        self.server.set("bare_line_endings", "normalise")
        time.sleep(2)
        conn = self.session()
        reply = self.transaction(conn, [ALICE], b"Subject: mixed\n\nLF line\nCR line\rCRLF line\r\n")
        self.assertEqual(reply.code, 250, reply)
        body = split_trace(self.messages(ALICE, ALICE_PW)[0])[2]
        self.assertEqual(body, b"Subject: mixed\r\n\r\nLF line\r\nCR line\r\nCRLF line\r\n")

    def test_received_header_loop(self):
        self.server.set("max_received_headers", 3)
        time.sleep(2)
        conn = self.session()
        hop = b"Received: from a.example by b.example; Mon, 2 Jun 2025 10:00:00 +0000\r\n"
        body = b"Subject: loop\r\n\r\nround and round\r\n"
        self.assertEqual(self.transaction(conn, [ALICE], hop * 3 + body).code, 250)
        reply = self.transaction(conn, [BOB], hop * 4 + body)
        self.assert_reply(reply, 554, "5.4.6", b"mail loop detected")
        self.assertEqual(self.stored_files(BOB), [])
        self.assertEqual(len(self.messages(ALICE, ALICE_PW)), 1)


if __name__ == "__main__":
    unittest.main()
