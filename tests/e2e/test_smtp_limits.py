# End-to-end SMTP limits and abuse: max_message_size (SIZE= at MAIL and the data itself),
# over-long command lines (auto_deny) against over-long data lines (never), recipient harvesting
# (count_unknown_recipients feeds the anti-hammering guard), a 100 MiB message in bounded daemon
# memory, and a daemon killed during DATA (nothing visible, the tmp/ leftover removed at start).
#
# The large-message test streams MAILROOM_E2E_SMTP_MIB (default 100) MiB over loopback; the
# daemon's resident set may grow by at most RSS_GROWTH_LIMIT_KIB meanwhile.
import os
import signal
import threading
import time
import unittest

from harness import assert_memory_below, first_bytes, make_message
from smtp_support import ALICE, ALICE_PW, BOB, BOB_PW, CLIENT_NAME, SENDER, SmtpTestCase, to_crlf

MIB = 1024 * 1024
SMALL_LIMIT = 20000
LARGE_MIB = int(os.environ.get("MAILROOM_E2E_SMTP_MIB", "100"))
RSS_GROWTH_LIMIT_KIB = 64 * 1024
STALE_AGE = 3 * 24 * 3600  # older than any "stale tmp file" age the daemon may use (Maildir: 36 h)


def status_kib(pid: int, field: str) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


class SmtpSizeLimitTest(SmtpTestCase):
    def configure(self, server):
        server.set("max_message_size", SMALL_LIMIT)

    def assert_too_big(self, reply):
        # "552 5.3.4 message too big" (docs/smtp.md adds a comment in parentheses).
        self.assertEqual(len(reply.raw), 1, reply)
        self.assertTrue(reply.raw[0].startswith(b"552 5.3.4 message too big"), reply)

    def test_size_is_advertised(self):
        reply = self.connect().cmd("EHLO " + CLIENT_NAME)
        self.assertIn(b"SIZE %d" % SMALL_LIMIT, [line.upper() for line in reply.lines])

    def test_size_parameter_over_the_limit_is_refused_at_mail(self):
        conn = self.session()
        reply = conn.cmd("MAIL FROM:<%s> SIZE=%d" % (SENDER, SMALL_LIMIT + 1))
        self.assert_too_big(reply)
        self.assertEqual(conn.cmd("MAIL FROM:<%s> SIZE=%d" % (SENDER, SMALL_LIMIT)).code, 250)

    def test_data_over_the_limit_is_read_to_the_end_and_discarded(self):
        conn = self.session()
        line = b"x" * 70 + b"\r\n"
        big = b"Subject: too big\r\n\r\n" + line * (SMALL_LIMIT // len(line) + 10)
        reply = self.transaction(conn, [ALICE, BOB], big)
        self.assert_too_big(reply)
        self.assert_nothing_stored(ALICE, BOB)
        # The rest of the data was not taken for commands: the session goes on normally.
        small = to_crlf(make_message("fits", b"small\n"))
        self.assertEqual(self.transaction(conn, [ALICE], small).raw, [b"250 2.0.0 OK delivered"])
        self.assertEqual(conn.cmd("QUIT").code, 221)
        self.assert_delivered(ALICE, ALICE_PW, small)
        self.assertEqual(self.messages(BOB, BOB_PW), [])


class SmtpLineLimitTest(SmtpTestCase):
    def configure(self, server):
        server.set("auto_deny", "on")
        server.set("max_command_length", 512)
        server.set("max_line_length", 1000)

    def test_an_over_long_command_line_blocks_the_address(self):
        conn = self.connect(source="127.0.0.41")
        conn.send(b"EHLO " + b"x" * 600 + b"\r\n")
        try:
            lines = conn.wait_closed()
        except TimeoutError:
            self.fail("the session stays open after an over-long command line")
        self.assertTrue(lines == b"" or lines.startswith((b"5", b"4")), lines)
        self.wait_until(lambda: first_bytes("127.0.0.41", self.server.port) == b"", what="127.0.0.41 refused")
        self.assertTrue(first_bytes("127.0.0.42", self.server.port).startswith(b"220"))

    def test_an_over_long_data_line_does_not_block(self):
        conn = self.session(source="127.0.0.43")
        data = b"Subject: long line\r\n\r\n" + b"y" * 5000 + b"\r\nshort line\r\n"
        reply = self.transaction(conn, [ALICE], data)
        # docs/smtp.md: a data line over max_line_length (1000 here) refuses the message, nothing stored.
        self.assertEqual(reply.code, 554, reply)
        self.assertTrue(reply.lines[0].startswith(b"5.6.0 "), reply)
        self.assert_nothing_stored(ALICE)
        self.assertEqual(conn.cmd("NOOP").code, 250)
        self.assertEqual(conn.cmd("QUIT").code, 221)
        self.assertTrue(first_bytes("127.0.0.43", self.server.port).startswith(b"220"))


class SmtpHarvestingTest(SmtpTestCase):
    def configure(self, server):
        server.set("max_login_failures", 3)
        server.set("failure_delay", 0)

    def test_unknown_recipients_count_as_failures_until_the_address_is_blocked(self):
        conn = self.session(source="127.0.0.51")
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        replies = []
        for n in range(10):  # bounded: the block must come within max_login_failures
            try:
                reply = conn.cmd("RCPT TO:<guess%d@example.test>" % n)
            except EOFError:
                break
            replies.append(reply)
            if reply.code == 421:
                break
        codes = [r.code for r in replies]
        self.assertEqual(codes[:2], [550, 550], replies)
        self.assertIn(421, codes, replies)
        self.assertLessEqual(len(codes), 4, replies)
        self.assertTrue(replies[-1].raw[-1].startswith(b"421 4.7.0"), replies)
        self.assertEqual(conn.wait_closed(), b"")
        self.wait_until(lambda: first_bytes("127.0.0.51", self.server.port) == b"", what="127.0.0.51 refused")
        # Another address is unaffected; known recipients never count.
        other = self.session(source="127.0.0.52")
        self.assertEqual(other.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        for _ in range(5):
            self.assertEqual(other.cmd("RCPT TO:<%s>" % ALICE).code, 250)

    def test_counting_off_never_blocks(self):
        self.server.set("count_unknown_recipients", "false")
        time.sleep(2)
        conn = self.session(source="127.0.0.53")
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        for n in range(6):
            self.assertEqual(conn.cmd("RCPT TO:<guess%d@example.test>" % n).code, 550)
        self.assertTrue(first_bytes("127.0.0.53", self.server.port).startswith(b"220"))


class SmtpLargeMessageTest(SmtpTestCase):
    def configure(self, server):
        server.set("max_message_size", (LARGE_MIB + 16) * MIB)

    def test_large_message_in_bounded_memory(self):
        pid = self.server.proc.pid
        conn = self.session()
        self.assertEqual(conn.cmd("MAIL FROM:<%s> SIZE=%d" % (SENDER, LARGE_MIB * MIB)).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("DATA").code, 354)
        before = status_kib(pid, "VmRSS")
        peak = [before]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.05):
                try:
                    peak[0] = max(peak[0], status_kib(pid, "VmRSS"))
                except (OSError, AssertionError):
                    return
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,:;-_!?()[]\r\n"
        chunk = b"Subject: large\r\n\r\n" + line * (MIB // len(line))
        body_chunk = line * (MIB // len(line))
        sent = 0
        conn.sock.settimeout(60)
        start = time.monotonic()
        conn.send(chunk)
        sent += len(chunk)
        while sent < LARGE_MIB * MIB - len(body_chunk):
            conn.send(body_chunk)
            sent += len(body_chunk)
        conn.send(b".\r\n")
        reply = conn.reply(timeout=120)
        took = time.monotonic() - start
        stop.set()
        sampler.join(5)
        self.assertEqual(reply.raw, [b"250 2.0.0 OK delivered"])
        # VmHWM (the peak since start) catches a peak between two samples.
        peak[0] = max(peak[0], status_kib(pid, "VmHWM"))
        growth = peak[0] - before
        summary = "RSS %d KiB before, peak %d KiB (+%d KiB) for %d MiB in %.1f s" % (
            before, peak[0], growth, sent // MIB, took)
        print("\n" + summary)
        assert_memory_below(self, growth, RSS_GROWTH_LIMIT_KIB, summary)
        files = self.stored_files(ALICE, ("new", "cur"))
        self.assertEqual(len(files), 1)
        # Stored with LF endings after the two trace headers.
        self.assertGreater(os.path.getsize(files[0]), sent - sent // len(line) - 1000)


class SmtpCrashDuringDataTest(SmtpTestCase):
    def test_kill_during_data_leaves_nothing_visible_and_tmp_is_cleaned_at_start(self):
        conn = self.session()
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("DATA").code, 354)
        line = b"z" * 78 + b"\r\n"
        conn.send(b"Subject: never complete\r\n\r\n" + line * (2 * MIB // len(line)))
        tmp = self.maildir(ALICE) / "tmp"
        self.wait_until(lambda: os.listdir(tmp), timeout=10, interval=0.05, what="a file in tmp/")
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait(10)
        self.server.proc = None
        conn.close()
        self.assertEqual(self.stored_files(ALICE, ("new", "cur")), [])
        leftovers = os.listdir(tmp)
        self.assertEqual(len(leftovers), 1, leftovers)
        killed = tmp / leftovers[0]
        # Mailroom's unique names: "<secs>.M<usecs>P<pid>Q<n>.<host>". The killed daemon's file is
        # an orphan (its writer is gone) and goes at the next start whatever its age; so does an
        # old file of another program (back-dated past the Maildir 36 hours). A fresh file of a
        # running writer (this test process, as a stand-in for a running mailctl deliver) and a
        # fresh file of another program stay.
        host = leftovers[0].split(".", 2)[2]
        old = time.time() - STALE_AGE
        foreign_old = tmp / "1600000000.12345_1.other-mda"
        foreign_old.write_bytes(b"Subject: crashed long ago\n")
        os.utime(foreign_old, (old, old))
        running = tmp / ("%d.M1P%dQ1.%s" % (time.time(), os.getpid(), host))
        running.write_bytes(b"Subject: in progress\n")
        foreign_fresh = tmp / ("%d.12345_2.other-mda" % time.time())
        foreign_fresh.write_bytes(b"Subject: in progress elsewhere\n")
        self.server.start()
        self.wait_until(lambda: not killed.exists() and not foreign_old.exists(), timeout=10,
                        what="the killed delivery's and the old tmp file removed")
        self.assertTrue(running.exists(), "a running writer's tmp file must not be removed")
        self.assertTrue(foreign_fresh.exists(), "a fresh tmp file of another program must not be removed")
        running.unlink()
        foreign_fresh.unlink()
        self.assertEqual(self.messages(ALICE, ALICE_PW), [])
        # And the service works after the restart.
        message = to_crlf(make_message("after restart", b"fine\n"))
        self.assertEqual(self.transaction(self.session(), [ALICE], message).code, 250)
        self.assert_delivered(ALICE, ALICE_PW, message)


if __name__ == "__main__":
    unittest.main()
