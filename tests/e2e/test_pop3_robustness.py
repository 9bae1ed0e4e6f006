# End-to-end POP3 robustness: wrong-state and malformed commands, long lines, binary garbage, the
# bad-command limit, pipelining, idle timeouts and abrupt disconnects; the daemon must stay healthy.
import os
import re
import socket
import subprocess
import poplib
import time
import unittest

from harness import LOOPBACK, MAILROOMD, ROOT_KEEPS_ROOT, ServerTestCase, crlf, make_message, retr_bytes

ALICE = "alice@example.test"
ALICE_PW = "s3cret"
BOB = "bob@example.test"
BOB_PW = "b0b-pass"


def garbage(length: int) -> bytes:
    """Random bytes without CR or LF that cannot start a valid verb."""
    data = bytes(b for b in os.urandom(length * 2) if b not in (0x0D, 0x0A))[:length - 1]
    return b"\xff" + data


class Pop3RobustnessTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        server.add_mailbox(BOB, BOB_PW)
        self.alice_msgs = [make_message("a%d" % i, b"alice body %d\n.dot\n" % i) for i in range(1, 4)]
        for m in self.alice_msgs:
            server.deliver(ALICE, m)
        self.bob_msg = make_message("bob", b"bob body\n", to=b"bob@example.test")
        server.deliver(BOB, self.bob_msg)
        # Session robustness only: over-long lines are refused, not auto-denied (that, and the
        # anti-hammering that bad logins would trigger, is tested in test_network_policy.py).
        server.set("auto_deny", "off")

    def raw_login(self, user=ALICE, password=ALICE_PW):
        conn = self.server.raw()
        self.addCleanup(conn.close)
        conn.login(user, password)
        return conn

    def raw_greeted(self):
        conn = self.server.raw()
        self.addCleanup(conn.close)
        self.assertTrue(conn.readline().startswith(b"+OK"))
        return conn

    def assert_err(self, reply):
        self.assertTrue(reply.startswith(b"-ERR"), reply)

    def assert_ok(self, reply):
        self.assertTrue(reply.startswith(b"+OK"), reply)

    def assert_bob_session_works(self, p):
        count, _ = p.stat()
        self.assertEqual(count, 1)
        _, lines, _ = p.retr(1)
        self.assertEqual(retr_bytes(lines), crlf(self.bob_msg))
        self.assertTrue(p.noop().startswith(b"+OK"))

    # -- wrong state and bad arguments ------------------------------------------------------

    def test_a_second_daemon_on_the_same_data_dir_refuses_to_start(self):
        second = subprocess.run([MAILROOMD, "--data", self.server.data] + ROOT_KEEPS_ROOT, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=20)
        self.assertEqual(second.returncode, 1, second.stderr)
        self.assertIn("another mailroomd (pid %d) is running on %s" % (self.server.proc.pid, self.server.data),
                      second.stderr)
        p = self.server.login(ALICE, ALICE_PW)  # the first one serves on
        self.assertTrue(p.noop().startswith(b"+OK"))
        p.quit()

    def test_a_missing_data_dir_is_reported_and_not_created(self):
        missing = os.path.join(self.server.root, "no-such-data")
        run = subprocess.run([MAILROOMD, "--data", missing] + ROOT_KEEPS_ROOT, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn("data directory %s does not exist" % missing, run.stderr)
        self.assertFalse(os.path.exists(missing))

    def test_transaction_commands_before_login_are_refused(self):
        conn = self.raw_greeted()
        for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "UIDL"):
            self.assert_err(conn.command(cmd))
        self.assert_err(conn.command("PASS " + ALICE_PW))  # PASS without USER
        self.assert_ok(conn.command("USER " + ALICE))
        self.assert_ok(conn.command("PASS " + ALICE_PW))
        reply = conn.command("STAT")
        self.assert_ok(reply)
        self.assertEqual(int(reply.split()[1]), 3)
        self.assert_ok(conn.command("QUIT"))

    def test_authorization_commands_after_login_are_refused(self):
        conn = self.raw_login()
        self.assert_err(conn.command("USER " + ALICE))
        self.assert_err(conn.command("PASS " + ALICE_PW))
        self.assert_ok(conn.command("NOOP"))
        self.assert_ok(conn.command("QUIT"))

    def test_bad_message_numbers_and_unknown_verbs_are_refused(self):
        conn = self.raw_login()
        for cmd in ("RETR 0", "RETR 99", "RETR abc", "XYZZY"):
            self.assert_err(conn.command(cmd))
        self.assert_ok(conn.command("NOOP"))
        conn2_cmds = ("LIST 0", "DELE 99", "TOP 1", "RETR -1")
        for cmd in conn2_cmds:
            self.assert_err(conn.command(cmd))
        # The session is still usable: a valid RETR right after.
        self.assert_ok(conn.command("RETR 1"))
        self.assertEqual(retr_bytes(conn.read_multiline()), crlf(self.alice_msgs[0]))
        self.assert_ok(conn.command("QUIT"))

    def test_deleted_message_is_gone_from_the_session_view(self):
        conn = self.raw_login()
        self.assert_ok(conn.command("DELE 2"))
        self.assert_err(conn.command("RETR 2"))
        self.assert_err(conn.command("LIST 2"))
        self.assert_err(conn.command("DELE 2"))
        reply = conn.command("STAT")
        self.assertEqual(reply.split()[:2], [b"+OK", b"2"])
        self.assert_ok(conn.command("RSET"))
        self.assertEqual(conn.command("STAT").split()[:2], [b"+OK", b"3"])
        self.assert_ok(conn.command("QUIT"))

    def test_commands_are_case_insensitive(self):
        conn = self.raw_greeted()
        self.assert_ok(conn.command("user " + ALICE))
        self.assert_ok(conn.command("pass " + ALICE_PW))
        self.assertEqual(conn.command("sTaT").split()[:2], [b"+OK", b"3"])
        self.assert_ok(conn.command("quit"))

    # -- malformed input while another session works ----------------------------------------

    def test_long_line_nul_and_garbage_are_refused_while_another_session_works(self):
        other = self.server.login(BOB, BOB_PW)
        self.addCleanup(other.close)
        conn = self.raw_login()

        conn.send(b"NOOP " + b"x" * 595 + b"\r\n")  # 602 bytes > 512
        reply = conn.readline()
        self.assert_err(reply)
        self.assertIn(b"line too long", reply)
        self.assert_ok(conn.command("NOOP"))
        self.assertEqual(other.stat()[0], 1)

        conn.send(b"\x00\x00NO\x00OP\x00\r\n")
        self.assert_err(conn.readline())
        self.assert_ok(conn.command("NOOP"))

        conn.send(garbage(300) + b"\r\n")
        self.assert_err(conn.readline())
        self.assert_ok(conn.command("NOOP"))

        self.assert_bob_session_works(other)
        other.quit()
        self.assertEqual(conn.command("STAT").split()[:2], [b"+OK", b"3"])
        self.assert_ok(conn.command("QUIT"))

    def test_very_long_line_is_discarded_and_session_continues(self):
        conn = self.raw_login()
        conn.send(b"X" * 200000 + b"\r\n")
        conn.send(b"NOOP\r\n")
        errors = 0
        for _ in range(100):  # bounded: one -ERR expected, tolerate one per discarded chunk
            reply = conn.readline()
            if reply.startswith(b"+OK"):
                break
            self.assert_err(reply)
            errors += 1
        else:
            self.fail("no reply to NOOP after an overlong line")
        self.assertGreaterEqual(errors, 1)
        self.assertEqual(conn.command("STAT").split()[:2], [b"+OK", b"3"])
        self.assert_ok(conn.command("QUIT"))

    def test_garbage_before_login_does_not_prevent_login(self):
        conn = self.raw_greeted()
        conn.send(garbage(200) + b"\r\n")
        self.assert_err(conn.readline())
        conn.send(b"\x00\r\n")
        self.assert_err(conn.readline())
        self.assert_ok(conn.command("USER " + ALICE))
        self.assert_ok(conn.command("PASS " + ALICE_PW))
        self.assertEqual(conn.command("STAT").split()[:2], [b"+OK", b"3"])
        self.assert_ok(conn.command("QUIT"))

    def test_abrupt_disconnects_leave_the_daemon_serving(self):
        # Many connections dropped at various points, including mid-login and right after a RETR.
        conns = []
        for _ in range(20):
            c = self.server.raw()
            conns.append(c)
        for i, c in enumerate(conns):
            self.assertTrue(c.readline().startswith(b"+OK"))
            if i % 3 == 1:
                c.send(b"USER " + ALICE.encode() + b"\r\n")
            elif i % 3 == 2:
                c.send(b"CAPA\r\n")
        for c in conns:
            c.close()
        conn = self.raw_login()
        conn.send(b"RETR 1\r\n")
        conn.close()
        p = self.server.login(ALICE, ALICE_PW)
        self.addCleanup(p.close)
        self.assertEqual(p.stat()[0], 3)
        p.quit()

    def test_client_closing_during_a_large_retr_keeps_the_message(self):
        big = make_message("big", b"".join(b"line %07d of a large message\n" % i for i in range(80000)))
        self.server.deliver(BOB, big)
        conn = self.raw_login(BOB, BOB_PW)
        conn.send(b"DELE 1\r\nRETR 2\r\n")
        self.assert_ok(conn.readline())
        self.assert_ok(conn.readline())
        conn.close()  # most of the 2.6 MB reply is still unsent
        p = self.server.login(BOB, BOB_PW)
        self.addCleanup(p.close)
        self.assertEqual(p.stat()[0], 2)
        _, lines, octets = p.retr(2)
        self.assertEqual(octets, len(crlf(big)))
        p.quit()

    # -- pipelining -------------------------------------------------------------------------

    def test_pipelined_commands_are_answered_in_order(self):
        conn = self.raw_greeted()
        conn.send(b"USER " + ALICE.encode() + b"\r\n"
                  b"PASS " + ALICE_PW.encode() + b"\r\n"
                  b"STAT\r\n"
                  b"LIST\r\n"
                  b"UIDL 2\r\n"
                  b"RETR 3\r\n"
                  b"TOP 1 0\r\n"
                  b"NOOP\r\n"
                  b"RETR 1\r\n"
                  b"QUIT\r\n")
        self.assert_ok(conn.readline())                    # USER
        self.assert_ok(conn.readline())                    # PASS
        stat = conn.readline().split()
        self.assertEqual(stat[:2], [b"+OK", b"3"])         # STAT
        self.assert_ok(conn.readline())                    # LIST
        sizes = [len(crlf(m)) for m in self.alice_msgs]
        self.assertEqual(conn.read_multiline(), [b"%d %d" % (i + 1, s) for i, s in enumerate(sizes)])
        self.assertEqual(conn.readline().split()[:2], [b"+OK", b"2"])  # UIDL 2
        self.assert_ok(conn.readline())                    # RETR 3
        self.assertEqual(retr_bytes(conn.read_multiline()), crlf(self.alice_msgs[2]))
        self.assert_ok(conn.readline())                    # TOP 1 0
        top = conn.read_multiline()
        self.assertEqual(top[-1], b"")
        self.assertIn(b"Subject: a1", top)
        self.assert_ok(conn.readline())                    # NOOP
        self.assert_ok(conn.readline())                    # RETR 1
        self.assertEqual(retr_bytes(conn.read_multiline()), crlf(self.alice_msgs[0]))
        self.assert_ok(conn.readline())                    # QUIT
        self.assertEqual(conn.wait_closed(), b"")

    def test_pipelined_large_retr_then_stat_keeps_order(self):
        big = make_message("big", b"".join(b".%06d pipelined body line\n" % i for i in range(40000)))
        self.server.deliver(BOB, big)
        conn = self.raw_login(BOB, BOB_PW)
        conn.send(b"RETR 2\r\nSTAT\r\nRETR 1\r\nQUIT\r\n")
        self.assert_ok(conn.readline())
        self.assertEqual(retr_bytes(conn.read_multiline(timeout=30)), crlf(big))
        self.assertEqual(conn.readline().split()[:2], [b"+OK", b"2"])
        self.assert_ok(conn.readline())
        self.assertEqual(retr_bytes(conn.read_multiline()), crlf(self.bob_msg))
        self.assert_ok(conn.readline())
        self.assertEqual(conn.wait_closed(), b"")


class Pop3BadCommandLimitTest(ServerTestCase):
    """max_bad_commands ends a session; its own server so the setting does not leak."""

    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        server.set("max_bad_commands", 3)

    def test_too_many_bad_commands_close_the_session(self):
        conn = self.server.raw()
        self.addCleanup(conn.close)
        conn.login(ALICE, ALICE_PW)
        for i in (1, 2):
            reply = conn.command("BOGUS%d" % i)
            self.assertTrue(reply.startswith(b"-ERR"), reply)
        self.assertTrue(conn.command("NOOP").startswith(b"+OK"))
        # The 3rd or, at the latest, the 4th bad command ends the session.
        closed_at = None
        for i in (3, 4):
            try:
                conn.send(b"BOGUS%d\r\n" % i)
                reply = conn.readline()
                self.assertTrue(reply.startswith(b"-ERR"), reply)
                conn.wait_closed(timeout=0.5)
                closed_at = i
                break
            except (EOFError, BrokenPipeError, ConnectionResetError):
                closed_at = i
                break
            except TimeoutError:
                continue
        self.assertIn(closed_at, (3, 4))
        # The mailbox lock was released: a new session logs in.
        p = self.server.login(ALICE, ALICE_PW)
        self.addCleanup(p.close)
        self.assertEqual(p.stat(), (0, 0))
        p.quit()

    def test_good_commands_do_not_count_as_bad(self):
        conn = self.server.raw()
        self.addCleanup(conn.close)
        conn.login(ALICE, ALICE_PW)
        for _ in range(20):
            self.assertTrue(conn.command("NOOP").startswith(b"+OK"))
        self.assertTrue(conn.command("BOGUS").startswith(b"-ERR"))
        self.assertTrue(conn.command("STAT").startswith(b"+OK"))
        self.assertTrue(conn.command("QUIT").startswith(b"+OK"))


class Pop3IdleTimeoutTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        server.set("idle_timeout", 2)

    def test_idle_connection_is_closed(self):
        conn = self.server.raw()
        self.addCleanup(conn.close)
        self.assertTrue(conn.readline().startswith(b"+OK"))
        started = time.monotonic()
        conn.wait_closed(timeout=10)
        elapsed = time.monotonic() - started
        self.assertGreater(elapsed, 1.0)
        self.assertLess(elapsed, 10.0)

    def test_idle_logged_in_session_is_closed_and_releases_the_mailbox(self):
        conn = self.server.raw()
        self.addCleanup(conn.close)
        conn.login(ALICE, ALICE_PW)
        started = time.monotonic()
        conn.wait_closed(timeout=10)
        self.assertGreater(time.monotonic() - started, 1.0)
        p = self.server.login(ALICE, ALICE_PW)
        self.addCleanup(p.close)
        self.assertEqual(p.stat(), (0, 0))
        p.quit()

    def test_active_connection_is_not_closed(self):
        conn = self.server.raw()
        self.addCleanup(conn.close)
        conn.login(ALICE, ALICE_PW)
        for _ in range(4):  # 4 s of activity in 1 s steps, longer than the 2 s timeout
            time.sleep(1.0)
            self.assertTrue(conn.command("NOOP").startswith(b"+OK"))
        self.assertTrue(conn.command("QUIT").startswith(b"+OK"))


if __name__ == "__main__":
    unittest.main()


class DescriptorLimitTest(ServerTestCase):
    """A daemon started with few file descriptors: it takes the hard limit, warns that
    max_connections cannot fit, refuses what does not fit and recovers when clients leave."""

    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox("alice@example.test", "pw-alice")
        server.deliver("alice@example.test", make_message("one", b"hello\n"))
        server.set("max_connections_per_ip", 0)  # only the descriptors limit what is accepted
        server.rlimit_nofile = (96, 128)  # soft, hard

    def test_limit_is_raised_to_the_hard_limit_and_a_shortfall_is_reported(self):
        self.wait_until(lambda: re.search(r"daemon\.fd_limit.*raised_from=\"?96.*to=\"?128", self.server.log_tail(200)),
                        what="the raised descriptor limit in the log")
        # default max_connections 200 needs 2 x 200 + 64 descriptors
        line = self.wait_until(lambda: re.search(r"limits\.descriptors.*", self.server.log_tail(200)),
                               what="the descriptor warning").group(0)
        self.assertIn("max_connections=200", line)
        self.assertRegex(line, r"fd_limit=\"?128")
        self.assertRegex(line, r"sessions_possible=\"?32")
        self.assertRegex(line, r"services=\"?pop3")

    def test_running_out_of_descriptors_refuses_clients_then_recovers(self):
        held = []
        try:
            for _ in range(160):  # more than the daemon's 128 descriptors
                try:
                    held.append(socket.create_connection((LOOPBACK, self.server.port), timeout=2))
                except OSError:
                    break
            greeted = 0
            for s in held:
                try:
                    s.settimeout(2)
                    if s.recv(256).startswith(b"+OK"):
                        greeted += 1
                except OSError:
                    pass
            self.assertGreater(greeted, 0)
            self.assertLess(greeted, len(held), "some connections must have been refused at the limit")
        finally:
            for s in held:
                s.close()
        # Descriptors come back: a full session works again.
        def session_works():
            p = poplib.POP3(LOOPBACK, self.server.port, timeout=5)
            try:
                p.user("alice@example.test")
                p.pass_("pw-alice")
                return p.stat()[0] == 1
            finally:
                p.quit()
        self.wait_until(session_works, what="a login after the clients left")
