# End-to-end POP3 behaviour seen by real clients (poplib, curl): retrieval byte for byte, TOP, UIDL,
# deletion semantics, locking, authentication, and changes made with mailctl while the daemon runs.
import json
import os
import poplib
import random
import re
import shutil
import subprocess
import time
import unittest

from harness import LOOPBACK, ServerTestCase, crlf, make_message, retr_bytes

ALICE = "alice@example.test"
ALICE_PW = "s3cret"
BOB = "bob@example.test"
BOB_PW = "b0b-pass"

# Lines that POP3 must dot-stuff: a leading dot, several dots, a lone dot (the terminator).
DOTS_BODY = (b".leading dot\n"
             b"..two dots\n"
             b".\n"
             b"...\n"
             b"middle line\n"
             b". dot space\n"
             b".\n"
             b"last line\n")
EIGHT_BIT_BODY = (bytes(range(0x80, 0xC0)) + b"\n" +
                  bytes(range(0xC0, 0x100)) + b"\n" +
                  "Grüße, naïve café — ☃\n".encode("utf-8") +
                  "latin-1: \xe9t\xe9\n".encode("latin-1"))
NO_FINAL_NEWLINE_BODY = b"first line\nthe last line has no newline"


def big_message(size: int = 5 * 1024 * 1024) -> bytes:
    """A message of about `size` bytes with short lines, some starting with '.'."""
    rng = random.Random(1939)
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_"
    lines = []
    total = 0
    n = 0
    while total < size:
        line = bytes(rng.choice(alphabet) for _ in range(75))
        if n % 97 == 0:
            line = b"." + line
        lines.append(line)
        total += len(line) + 1
        n += 1
    return make_message("big", b"\n".join(lines) + b"\n")


def list_size(p: poplib.POP3, n: int) -> int:
    resp = p.list(n)
    fields = resp.split()
    assert fields[0] == b"+OK", resp
    assert int(fields[1]) == n, resp
    return int(fields[2])


def uidl_map(p: poplib.POP3) -> list:
    _, lines, _ = p.uidl()
    out = []
    for line in lines:
        num, uid = line.split(b" ", 1)
        out.append((int(num), uid))
    return out


class Pop3BasicTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        server.add_mailbox(BOB, BOB_PW)
        self.alice_msgs = [
            make_message("first", b"Hello Alice.\nThis is message one.\n"),
            make_message("second", b"Line 1\nLine 2\n.dotted line 3\nLine 4\nLine 5\n"),
            make_message("third", b"Just one line.\n"),
        ]
        for m in self.alice_msgs:
            server.deliver(ALICE, m)
        self.bob_msgs = [make_message("for bob", b"Hi Bob.\n", to=b"bob@example.test")]
        for m in self.bob_msgs:
            server.deliver(BOB, m)
        if self._testMethodName.endswith("_without_read_ahead"):
            server.set("retr_readahead", 0)

    def login(self, user=ALICE, password=ALICE_PW):
        p = self.server.login(user, password)
        self.addCleanup(p.close)
        return p

    def assert_retr_exact(self, p, n, message):
        resp, lines, octets = p.retr(n)
        self.assertTrue(resp.startswith(b"+OK"), resp)
        got = retr_bytes(lines)
        expected = crlf(message)
        self.assertEqual(len(got), len(expected))
        self.assertEqual(got, expected)
        self.assertEqual(octets, len(expected))
        self.assertEqual(list_size(p, n), octets)

    # -- greeting and capabilities ----------------------------------------------------------

    def test_greeting_is_the_banner_without_an_apop_timestamp(self):
        # RFC 1939 section 7: a timestamp announces APOP, which is not offered yet; clients such
        # as curl would try APOP (and fail) if one were there.
        line = self.server.greeting()
        self.assertEqual(line, b"+OK " + self.server.banner.encode())

    def test_capa_lists_rfc2449_capabilities_before_login(self):
        p = self.server.pop3()
        self.addCleanup(p.close)
        caps = p.capa()
        for cap in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER"):
            self.assertIn(cap, caps)
        self.assertNotIn("IMPLEMENTATION", caps)
        p.quit()

    def test_capa_implementation_is_advertised_when_switched_on(self):
        self.server.set("capa_implementation", "on")

        def advertised():
            p = self.server.pop3()
            try:
                return "IMPLEMENTATION" in p.capa()
            finally:
                p.quit()
        self.wait_until(advertised, what="IMPLEMENTATION in CAPA")

    # -- STAT / LIST / RETR -----------------------------------------------------------------

    def test_stat_and_list_agree_with_delivered_messages(self):
        p = self.login()
        count, total = p.stat()
        self.assertEqual(count, 3)
        expected_sizes = [len(crlf(m)) for m in self.alice_msgs]
        self.assertEqual(total, sum(expected_sizes))
        resp, lines, _ = p.list()
        self.assertTrue(resp.startswith(b"+OK"), resp)
        self.assertEqual(lines, [b"%d %d" % (i + 1, s) for i, s in enumerate(expected_sizes)])
        for i, size in enumerate(expected_sizes):
            self.assertEqual(list_size(p, i + 1), size)
        p.quit()

    def test_retr_returns_each_message_byte_for_byte(self):
        p = self.login()
        for i, m in enumerate(self.alice_msgs):
            self.assert_retr_exact(p, i + 1, m)
        p.quit()

    def test_retr_dot_stuffs_lines_starting_with_a_dot(self):
        msg = make_message("dots", DOTS_BODY)
        self.server.deliver(ALICE, msg)
        p = self.login()
        self.assert_retr_exact(p, 4, msg)
        p.quit()

    def test_retr_dot_stuffing_on_the_wire(self):
        msg = make_message("dots", b".\n..x\nend\n")
        self.server.deliver(BOB, msg)
        conn = self.server.raw()
        self.addCleanup(conn.close)
        conn.login(BOB, BOB_PW)
        conn.send(b"RETR 2\r\n")
        self.assertTrue(conn.readline().startswith(b"+OK"))
        wire = []
        while True:
            line = conn.readline()
            if line == b".":
                break
            wire.append(line)
        self.assertEqual(wire[-3:], [b"..", b"...x", b"end"])
        self.assertEqual(conn.command("QUIT")[:3], b"+OK")

    def test_retr_keeps_8bit_bytes(self):
        msg = make_message("8bit", EIGHT_BIT_BODY)
        self.server.deliver(ALICE, msg)
        p = self.login()
        self.assert_retr_exact(p, 4, msg)
        p.quit()

    def test_retr_ends_a_message_without_final_newline(self):
        msg = make_message("no newline", NO_FINAL_NEWLINE_BODY)
        self.assertFalse(msg.endswith(b"\n"))
        self.server.deliver(ALICE, msg)
        p = self.login()
        self.assert_retr_exact(p, 4, msg)
        p.quit()

    def test_retr_of_a_5mb_message_matches_list_size(self):
        msg = big_message()
        self.server.deliver(BOB, msg)
        p = self.login(BOB, BOB_PW)
        self.assert_retr_exact(p, 2, msg)
        count, total = p.stat()
        self.assertEqual(count, 2)
        self.assertEqual(total, len(crlf(msg)) + len(crlf(self.bob_msgs[0])))
        p.quit()

    # -- TOP --------------------------------------------------------------------------------

    def test_top_returns_headers_and_requested_body_lines(self):
        p = self.login()
        msg = self.alice_msgs[1]
        head, body = msg.split(b"\n\n", 1)
        header_lines = head.split(b"\n")
        body_lines = body.split(b"\n")[:-1]  # the body ends with "\n"

        resp, lines, _ = p.top(2, 0)
        self.assertTrue(resp.startswith(b"+OK"), resp)
        self.assertEqual(lines, header_lines + [b""])

        _, lines, _ = p.top(2, 3)
        self.assertEqual(lines, header_lines + [b""] + body_lines[:3])
        self.assertEqual(lines[-1], b".dotted line 3")

        _, lines, _ = p.top(2, 1000)
        self.assertEqual(retr_bytes(lines), crlf(msg))
        p.quit()

    # -- read-ahead (retr_readahead) -------------------------------------------------------

    def read_ahead_mailbox(self):
        """Bob gets 9 more messages: dots, 8-bit, no final newline, and one bigger than the
        default read-ahead budget (128 KiB) in the middle, which ends one read-ahead run."""
        msgs = [make_message(f"ra {i}", f"message {i}\n".encode() + DOTS_BODY) for i in range(4)]
        msgs.append(big_message(300 * 1024))
        msgs.append(make_message("8bit", EIGHT_BIT_BODY))
        msgs.append(make_message("no newline", NO_FINAL_NEWLINE_BODY))
        msgs += [make_message(f"ra tail {i}", b".\n" * (i + 1) + b"end\n") for i in range(2)]
        for m in msgs:
            self.server.deliver(BOB, m)
        return self.bob_msgs + msgs

    def retrieve_in_order_and_out_of_order(self) -> int:
        """Returns the read-ahead hits the daemon logged for the session."""
        msgs = self.read_ahead_mailbox()
        p = self.login(BOB, BOB_PW)
        for i, m in enumerate(msgs):
            self.assert_retr_exact(p, i + 1, m)
        # Again, backwards and skipping: every one is read afresh, none is served twice wrongly.
        for n in (9, 3, 2, 10, 1):
            self.assert_retr_exact(p, n, msgs[n - 1])
        p.quit()
        return self.logged_read_ahead_hits()

    def logged_read_ahead_hits(self) -> int:
        """read_ahead_hits of Bob's last session, from its pop3.disconnect log line."""
        found = []

        def logged():
            found[:] = re.findall(r'pop3\.disconnect.*?user="?bob@example\.test.*?read_ahead_hits="?(\d+)',
                                  self.server.log_tail(400))
            return bool(found)
        self.wait_until(logged, what="the session's disconnect line")
        return int(found[-1])

    def test_messages_retrieved_in_order_or_not_are_exact_with_read_ahead(self):
        # 1-4 and 6-9 come from read-ahead runs (the 300 KiB message 6 ends the first one).
        self.assertGreaterEqual(self.retrieve_in_order_and_out_of_order(), 6)

    def test_messages_retrieved_in_order_or_not_are_exact_without_read_ahead(self):
        self.assertEqual(self.retrieve_in_order_and_out_of_order(), 0)

    def test_read_ahead_skips_deleted_messages_and_top_leaves_the_next_retr_intact(self):
        msgs = self.read_ahead_mailbox()
        # Room for exactly two of the equal-sized messages 3, 4, 5: after RETR 2 the read-ahead
        # must hold 4 and 5 (3 is deleted). Holding 3 would push 5 out; a TOP that used up 4 would
        # make RETR 4 read it again: either way fewer than 3 hits.
        self.assertEqual(len(crlf(msgs[2])), len(crlf(msgs[3])))
        self.assertEqual(len(crlf(msgs[3])), len(crlf(msgs[4])))
        self.server.set("retr_readahead", 2 * len(crlf(msgs[3])))
        self.server.stop()
        self.server.start()
        p = self.login(BOB, BOB_PW)
        self.assertTrue(p.dele(3).startswith(b"+OK"))
        self.assert_retr_exact(p, 2, msgs[1])  # reads ahead 4.. (3 is deleted)
        with self.assertRaises(poplib.error_proto) as err:
            p.retr(3)
        self.assertIn(b"deleted", err.exception.args[0].lower())
        head, body = msgs[3].split(b"\n\n", 1)
        _, lines, _ = p.top(4, 1)  # from the read-ahead, which keeps message 4 for the RETR
        self.assertEqual(lines, head.split(b"\n") + [b""] + [body.split(b"\n")[0]])
        self.assert_retr_exact(p, 4, msgs[3])
        self.assertTrue(p.dele(4).startswith(b"+OK"))
        self.assert_retr_exact(p, 5, msgs[4])
        p.quit()
        self.assertEqual(self.logged_read_ahead_hits(), 3)  # TOP 4, RETR 4, RETR 5
        p = self.login(BOB, BOB_PW)
        self.assertEqual(p.stat()[0], len(msgs) - 2)
        p.quit()

    def test_message_gone_from_disk_after_login_ends_only_its_own_retr(self):
        msgs = self.read_ahead_mailbox()
        shown = json.loads(self.server.mailctl("mailbox", "show", BOB, "--json").stdout)
        p = self.login(BOB, BOB_PW)
        uid3 = dict(uidl_map(p))[3].decode()
        victim = [os.path.join(d, f) for d in (os.path.join(shown["maildir"], "cur"), os.path.join(shown["maildir"], "new"))
                  for f in os.listdir(d) if f.startswith(uid3)]
        self.assertEqual(len(victim), 1, victim)
        os.unlink(victim[0])  # an outside process removed it while the session holds the listing
        self.assert_retr_exact(p, 1, msgs[0])  # the read-ahead stops at the missing message
        self.assert_retr_exact(p, 2, msgs[1])
        with self.assertRaises((poplib.error_proto, OSError, EOFError)):
            p.retr(3)  # the +OK is out before the file is opened: the connection is dropped
        self.wait_until(lambda: "pop3.retr_failed" in self.server.log_tail(200), what="retr_failed logged")

    # -- UIDL -------------------------------------------------------------------------------

    def test_uidl_is_stable_across_sessions_and_deliveries(self):
        p = self.login()
        first = uidl_map(p)
        self.assertEqual([n for n, _ in first], [1, 2, 3])
        uids = [u for _, u in first]
        self.assertEqual(len(set(uids)), 3)
        for uid in uids:
            self.assertTrue(0 < len(uid) <= 70, uid)
            self.assertTrue(all(0x21 <= c <= 0x7E for c in uid), uid)
        self.assertEqual(p.uidl(2).split(), [b"+OK", b"2", uids[1]])
        p.quit()

        p = self.login()
        self.assertEqual(uidl_map(p), first)
        p.quit()

        self.server.deliver(ALICE, make_message("fourth", b"new\n"))
        p = self.login()
        after = uidl_map(p)
        self.assertEqual(after[:3], first)
        self.assertEqual(len(after), 4)
        self.assertEqual(after[3][0], 4)
        self.assertNotIn(after[3][1], uids)
        p.quit()

    # -- deletion ---------------------------------------------------------------------------

    def test_rset_undoes_dele(self):
        p = self.login()
        p.dele(1)
        p.dele(3)
        self.assertEqual(p.stat()[0], 1)
        p.rset()
        self.assertEqual(p.stat()[0], 3)
        p.quit()
        p = self.login()
        self.assertEqual(p.stat()[0], 3)
        p.quit()

    def test_dele_is_undone_by_a_dropped_connection(self):
        p = self.login()
        p.dele(1)
        p.dele(2)
        p.close()  # no QUIT: the session never reaches the UPDATE state
        p = self.login()
        self.assertEqual(p.stat()[0], 3)
        self.assert_retr_exact(p, 1, self.alice_msgs[0])
        p.quit()

    def test_dele_then_quit_removes_exactly_that_message(self):
        p = self.login()
        before = uidl_map(p)
        resp = p.dele(2)
        self.assertTrue(resp.startswith(b"+OK"), resp)
        with self.assertRaises(poplib.error_proto):
            p.retr(2)
        resp = p.quit()
        self.assertTrue(resp.startswith(b"+OK"), resp)

        p = self.login()
        count, total = p.stat()
        self.assertEqual(count, 2)
        self.assertEqual(total, len(crlf(self.alice_msgs[0])) + len(crlf(self.alice_msgs[2])))
        self.assert_retr_exact(p, 1, self.alice_msgs[0])
        self.assert_retr_exact(p, 2, self.alice_msgs[2])
        self.assertEqual([u for _, u in uidl_map(p)], [before[0][1], before[2][1]])
        p.quit()

    # -- locking and authentication ---------------------------------------------------------

    def test_second_session_of_a_mailbox_gets_in_use(self):
        first = self.login()
        second = self.server.pop3()
        self.addCleanup(second.close)
        second.user(ALICE)
        with self.assertRaises(poplib.error_proto) as cm:
            second.pass_(ALICE_PW)
        self.assertIn(b"[IN-USE]", cm.exception.args[0])
        # The first session is unaffected, and another mailbox is not locked.
        self.assertEqual(first.stat()[0], 3)
        self.assert_retr_exact(first, 3, self.alice_msgs[2])
        other = self.login(BOB, BOB_PW)
        self.assertEqual(other.stat()[0], 1)
        other.quit()
        first.quit()
        again = self.login()
        self.assertEqual(again.stat()[0], 3)
        again.quit()

    def test_wrong_password_gets_auth_code(self):
        p = self.server.pop3()
        self.addCleanup(p.close)
        p.user(ALICE)
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_("wrong-password")
        self.assertTrue(cm.exception.args[0].startswith(b"-ERR"), cm.exception.args[0])
        self.assertIn(b"[AUTH]", cm.exception.args[0])
        # The right password still works afterwards (new connection).
        ok = self.login()
        self.assertEqual(ok.stat()[0], 3)
        ok.quit()

    def test_unknown_mailbox_cannot_log_in(self):
        p = self.server.pop3()
        self.addCleanup(p.close)
        with self.assertRaises(poplib.error_proto):
            p.user("nobody@example.test")
            p.pass_(ALICE_PW)

    def test_alternate_at_chars_work_only_when_configured(self):
        p = self.server.pop3()
        self.addCleanup(p.close)
        with self.assertRaises(poplib.error_proto):
            p.user("alice#example.test")
            p.pass_(ALICE_PW)
        p.close()

        self.server.set("alt_at_chars", "#$%")

        def stat_as(user):
            q = self.server.login(user, ALICE_PW)
            try:
                return q.stat()[0]
            finally:
                q.quit()
        self.assertEqual(self.wait_until(lambda: stat_as("alice#example.test"), what="alice#example.test login"), 3)
        self.assertEqual(stat_as("alice$example.test"), 3)
        self.assertEqual(stat_as("alice%example.test"), 3)
        self.assertEqual(stat_as(ALICE), 3)
        # Characters that are not configured stay invalid.
        q = self.server.pop3()
        self.addCleanup(q.close)
        with self.assertRaises(poplib.error_proto):
            q.user("alice&example.test")
            q.pass_(ALICE_PW)

    def test_disabled_mailbox_cannot_log_in_until_enabled(self):
        self.server.mailctl("mailbox", "disable", BOB)

        def bob_refused():
            p = self.server.pop3()
            try:
                p.user(BOB)
                p.pass_(BOB_PW)
            except poplib.error_proto as e:
                return e.args[0]
            finally:
                p.close()
            return None
        reply = self.wait_until(bob_refused, what="disabled mailbox refused")
        self.assertTrue(reply.startswith(b"-ERR"), reply)

        self.server.mailctl("mailbox", "enable", BOB)

        def bob_count():
            p = self.server.login(BOB, BOB_PW)
            try:
                return p.stat()[0]
            finally:
                p.quit()
        self.assertEqual(self.wait_until(bob_count, what="enabled mailbox logs in"), 1)

    # -- changes while running --------------------------------------------------------------

    def test_mailbox_added_while_running_can_log_in(self):
        carol = "carol@example.test"
        self.server.add_mailbox(carol, "carol-pw-1")
        msg = make_message("for carol", b"Welcome Carol.\n", to=carol.encode())
        self.server.deliver(carol, msg)

        def carol_messages():
            p = self.server.login(carol, "carol-pw-1")
            try:
                _, lines, _ = p.retr(1)
                return (p.stat()[0], retr_bytes(lines))
            finally:
                p.quit()
        count, data = self.wait_until(carol_messages, what="new mailbox login")
        self.assertEqual(count, 1)
        self.assertEqual(data, crlf(msg))

    def test_postoffice_added_while_running_serves_its_mailboxes(self):
        self.server.add_postoffice("second.test")
        self.server.add_mailbox("dave@second.test", "dave-pw")

        def dave_count():
            p = self.server.login("dave@second.test", "dave-pw")
            try:
                return p.stat()
            finally:
                p.quit()
        self.assertEqual(self.wait_until(dave_count, what="new postoffice login"), (0, 0))

    def test_banner_change_shows_in_next_greeting(self):
        new_banner = "changed-banner-" + self.server.banner[-6:]
        self.server.set("banner", new_banner)
        line = self.server.wait_greeting(new_banner, timeout=8.0)
        self.assertEqual(line, b"+OK " + new_banner.encode())

    def test_sigterm_stops_with_exit_0_and_open_session_deletes_nothing(self):
        p = self.login()
        p.dele(1)
        started = time.monotonic()
        code = self.server.stop()
        self.assertEqual(code, 0)
        self.assertLess(time.monotonic() - started, 10.0)
        p.close()
        self.server.start()
        q = self.login()
        self.assertEqual(q.stat()[0], 3)
        q.quit()

    # -- curl -------------------------------------------------------------------------------

    def curl(self, path, user=ALICE, password=ALICE_PW, options=(), check=True):
        if shutil.which("curl") is None:
            self.skipTest("curl is not installed")
        proc = subprocess.run(
            ["curl", "-s", "-S", "--max-time", "20", *options,
             "pop3://%s:%d/%s" % (LOOPBACK, self.server.port, path), "-u", "%s:%s" % (user, password)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        if not check:
            return proc
        self.assertEqual(proc.returncode, 0, "curl failed: %s\n(curl uses APOP when the greeting has a "
                                             "timestamp, or SASL when CAPA lists it)" % proc.stderr.decode(errors="replace"))
        return proc.stdout

    def test_curl_retrieves_a_message(self):
        self.assertEqual(self.curl("1"), crlf(self.alice_msgs[0]))

    def test_curl_auth_plain_and_login(self):
        for mech in ("AUTH=PLAIN", "AUTH=LOGIN"):
            with self.subTest(mech=mech):
                self.assertEqual(self.curl("1", options=("--login-options", mech)), crlf(self.alice_msgs[0]))

    def test_curl_auth_with_a_wrong_password_fails(self):
        for mech in ("AUTH=PLAIN", "AUTH=LOGIN"):
            with self.subTest(mech=mech):
                proc = self.curl("1", password="wrong", options=("--login-options", mech), check=False)
                self.assertEqual(proc.returncode, 67, proc.stderr)  # CURLE_LOGIN_DENIED

    def test_auth_mechanisms_setting_changes_capa_live(self):
        self.server.set("auth_mechanisms", "LOGIN")
        deadline = time.monotonic() + 8
        while True:
            p = self.server.pop3()
            caps = p.capa()
            p.quit()
            if caps.get("SASL") == ["LOGIN"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(caps.get("SASL"), ["LOGIN"])
        proc = self.curl("1", options=("--login-options", "AUTH=PLAIN"), check=False)
        self.assertNotEqual(proc.returncode, 0)
        bad = self.server.mailctl("service", "set", "pop3", "auth_mechanisms", "PLAIN GSSAPI", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn(b"GSSAPI", bad.stderr)

    def test_curl_lists_messages(self):
        out = self.curl("")
        expected = b"".join(b"%d %d\r\n" % (i + 1, len(crlf(m))) for i, m in enumerate(self.alice_msgs))
        self.assertEqual(out, expected)


if __name__ == "__main__":
    unittest.main()
