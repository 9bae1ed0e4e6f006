# The daemon-wide setting `loops` (docs/scaling.md): with two event loops, sessions are spread
# over both (status and sessions say which), a block placed by failures on sessions of both loops
# refuses on every loop at once, the one-session lock gives [IN-USE] across loops, sessions list
# and kill, service stop/start reach both loops, a change of `loops` waits for a restart, and the
# daemon shuts down cleanly (exit 0, checked by the harness at every test's end).
import json
import time
import unittest

from harness import LOOPBACK, RawConnection, ServerTestCase, connect_from, first_bytes

ALICE = "alice@example.test"
BOB = "bob@example.test"
PASSWORD = "loops-secret-1"
ENDED = b"-ERR [SYS/TEMP] session ended by the administrator"


class LoopsTest(ServerTestCase):
    def provision(self, server):
        server.mailctl("daemon", "set", "loops", "2")
        server.add_postoffice("example.test")
        for box in (ALICE, BOB):
            server.add_mailbox(box, PASSWORD)
            server.deliver(box, b"Subject: hello\n\nfor " + box.encode() + b"\n")

    def mailctl_json(self, *args):
        return json.loads(self.server.mailctl(*args, "--json").stdout)

    def greeted(self, source=LOOPBACK) -> RawConnection:
        conn = connect_from(source, self.server.port)
        self.addCleanup(conn.close)
        self.assertTrue(conn.readline().startswith(b"+OK"))
        return conn

    def auth(self, conn: RawConnection, box: str):
        self.assertTrue(conn.command("USER " + box).startswith(b"+OK"))
        reply = conn.command("PASS " + PASSWORD)
        self.assertTrue(reply.startswith(b"+OK"), reply)

    def loop_of(self, conn: RawConnection) -> int:
        peer = "%s:%d" % conn.sock.getsockname()
        rows = [s for s in self.mailctl_json("sessions", "pop3") if s["peer"] == peer]
        self.assertEqual(len(rows), 1, rows)
        return rows[0]["loop"]

    def test_parallel_sessions_are_served_by_both_loops(self):
        before = [l["served"] for l in self.mailctl_json("status")["loops"]]  # the harness's greeting
        conns = [self.greeted() for _ in range(8)]
        loops = self.mailctl_json("status")["loops"]
        self.assertEqual([l["loop"] for l in loops], [0, 1])
        self.assertEqual([l["sessions"] for l in loops], [4, 4])  # the least loaded loop, in turn
        self.assertEqual(sorted(self.loop_of(c) for c in conns), [0] * 4 + [1] * 4)
        # Every one of them is served: a command on each, logins on two loops at once.
        for conn in conns:
            self.assertTrue(conn.command("NOOP").startswith(b"-ERR"))  # NOOP needs a login: answered all the same
        for conn, box in ((conns[0], ALICE), (conns[1], BOB)):
            self.auth(conn, box)
            self.assertTrue(conn.command("STAT").startswith(b"+OK 1 "))
            self.assertTrue(conn.command("QUIT").startswith(b"+OK"))
        for conn in conns[2:]:
            conn.close()
        self.wait_until(lambda: [l["sessions"] for l in self.mailctl_json("status")["loops"]] == [0, 0],
                        what="every session closed on both loops")
        served = [l["served"] for l in self.mailctl_json("status")["loops"]]
        self.assertEqual([a - b for a, b in zip(served, before)], [4, 4])

    def test_a_block_placed_across_loops_refuses_on_every_loop(self):
        self.server.set("max_login_failures", 3)
        time.sleep(2)  # the daemon polls settings once a second
        conns = [self.greeted("127.0.0.9") for _ in range(4)]
        self.assertEqual(sorted(self.loop_of(c) for c in conns), [0, 0, 1, 1])
        for attempt, conn in enumerate(conns[:3]):  # failures counted on both loops
            self.assertTrue(conn.command("USER " + ALICE).startswith(b"+OK"))
            self.assertTrue(conn.command("PASS wrong-%d" % attempt).startswith(b"-ERR [AUTH]"))
        self.assertEqual(conns[2].wait_closed(), b"")  # the failure that placed the block
        # The session left open, whichever loop serves it, is refused even the right password...
        self.assertTrue(conns[3].command("USER " + ALICE).startswith(b"+OK"))
        self.assertTrue(conns[3].command("PASS " + PASSWORD).startswith(b"-ERR [AUTH]"))
        # ...and new connections are refused before the banner, another address is not.
        for _ in range(2):
            self.assertEqual(first_bytes("127.0.0.9", self.server.port), b"")
        self.assertTrue(first_bytes("127.0.0.10", self.server.port).startswith(b"+OK"))
        status = self.mailctl_json("status")["services"]["pop3"]
        self.assertEqual(status["counters"]["login_failures"], 3)  # a refusal while blocked is no guess
        self.assertEqual(status["counters"]["blocks_placed"], 1)

    def test_in_use_across_loops(self):
        first, second = self.greeted(), self.greeted()
        self.assertNotEqual(self.loop_of(first), self.loop_of(second))
        self.auth(first, ALICE)
        self.assertTrue(second.command("USER " + ALICE).startswith(b"+OK"))
        self.assertTrue(second.command("PASS " + PASSWORD).startswith(b"-ERR [IN-USE]"))
        self.assertTrue(first.command("QUIT").startswith(b"+OK"))

    def test_sessions_kill_and_service_stop_reach_both_loops(self):
        conns = [self.greeted() for _ in range(4)]
        sessions = self.mailctl_json("sessions", "pop3")
        self.assertEqual(sorted(s["loop"] for s in sessions), [0, 0, 1, 1])
        victim = [s for s in sessions if s["loop"] == 1][0]
        result = self.mailctl_json("sessions", "kill", str(victim["id"]))
        self.assertEqual(result["ids"], [victim["id"]])
        self.wait_until(lambda: len(self.mailctl_json("sessions", "pop3")) == 3, what="3 sessions left")
        # service stop ends the rest gracefully, on both loops; start serves again.
        self.server.mailctl("service", "stop", "pop3")
        ended = [c for c in conns if c.wait_closed().startswith(ENDED)]
        self.assertEqual(len(ended), 4)
        self.server.mailctl("service", "start", "pop3")
        self.wait_until(lambda: first_bytes(LOOPBACK, self.server.port).startswith(b"+OK"), what="pop3 again")
        again = [self.greeted() for _ in range(2)]
        self.assertEqual(sorted(self.loop_of(c) for c in again), [0, 1])

    def test_changing_loops_waits_for_a_restart(self):
        self.server.mailctl("daemon", "set", "loops", "1")
        self.wait_until(lambda: "daemon.restart_needed" in self.server.log_tail(200), what="restart_needed logged")
        self.assertEqual(len(self.mailctl_json("status")["loops"]), 2)


if __name__ == "__main__":
    unittest.main()
