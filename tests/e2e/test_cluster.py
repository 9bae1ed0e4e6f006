# Two mailroomd nodes on one private PostgreSQL behind a real HAProxy (send-proxy-v2), as
# docs/cluster.md describes (issue 19): the client's own address reaches each node; an access
# rule added through node 1 refuses on node 2; a block placed by one node's anti-hammering refuses
# on the other; a brute force spread over both nodes is blocked on both; a mailbox added through
# node 2's mailctl logs in on node 1 at once; one Maildir read and changed by the nodes in turn
# stays consistent (UIDLs, deletions). Each node keeps its listener ports in its own data
# directory (service set --local); everything else is the cluster's.
import json
import time
import unittest

import haproxy_support
import harness
import postgres_support
from harness import LOOPBACK, connect_from, first_bytes

ALICE = "alice@example.test"
ALICE_PW = "Cluster-pw-1"
# Changes from another node arrive by LISTEN/NOTIFY: well within this (the poll's safety net is 10 s).
PROPAGATION = 5.0


@unittest.skipUnless(postgres_support.available() and haproxy_support.available(),
                     "PostgreSQL server binaries or haproxy are not installed")
class ClusterTest(postgres_support.ScratchPostgresClass, unittest.TestCase):
    def setUp(self):
        # Only node 1's init sees the URL; node 2 joins it; everything else uses --data.
        self.node1 = harness.Server("pop3", database=self.pg.create_database())
        self.addCleanup(self.finish, self.node1)
        self.node1.add_postoffice("example.test")
        self.node1.add_mailbox(ALICE, ALICE_PW)
        self.node1.set("failure_delay", 0)
        self.node1.set("max_login_failures", 4)
        self.node1.set("proxy_timeout", 1)  # a direct connection without a header is closed quickly
        self.node2 = harness.Server("pop3", join=self.node1)
        self.addCleanup(self.finish, self.node2)
        for node in (self.node1, self.node2):
            node.start()
        # From here on the nodes take only PROXY connections from the balancer (cluster-wide).
        self.node1.set("proxy_trusted", LOOPBACK)
        self.node1.set("proxy_protocol", "on")
        for node in (self.node1, self.node2):
            self.wait_until(lambda n=node: first_bytes(LOOPBACK, n.port) == b"",
                            what="a direct connection refused by %s" % node.data)
        self.haproxy = haproxy_support.HAProxy(self.node1.root)
        self.addCleanup(self.haproxy.stop)
        self.front = self.haproxy.frontend("pop3", [(LOOPBACK, self.node1.port), (LOOPBACK, self.node2.port)])
        self.haproxy.start()

    def finish(self, node):
        code, crashed, tail = harness.stop_server(node)
        if crashed or (code is not None and code != 0):
            self.fail("mailroomd (%s) exited %s:\n%s" % (node.data, code, tail))

    def wait_until(self, predicate, timeout=PROPAGATION, what=""):
        return harness.wait_until(predicate, timeout, 0.1, what)

    @staticmethod
    def proxied(node, client_ip: str):
        """A connection straight to `node` with a v1 header naming `client_ip` (as HAProxy would)."""
        conn = connect_from(LOOPBACK, node.port)
        conn.send(b"PROXY TCP4 %s 127.0.0.1 40000 110\r\n" % client_ip.encode())
        return conn

    def greets(self, node, client_ip: str) -> bool:
        conn = self.proxied(node, client_ip)
        try:
            return conn.readline().startswith(b"+OK")
        except (OSError, EOFError, TimeoutError):
            return False
        finally:
            conn.close()

    def sessions(self, node):
        out = node.mailctl("sessions", "--json").stdout
        return [s for s in json.loads(out) if s["service"] == "pop3"]

    def guess(self, node, client_ip: str):
        conn = self.proxied(node, client_ip)
        try:
            if not conn.readline().startswith(b"+OK"):
                return
            conn.command("USER " + ALICE)
            conn.command("PASS wrong-guess")
        except (OSError, EOFError, TimeoutError):
            pass
        finally:
            conn.close()

    def test_the_balancer_passes_the_client_address_to_both_nodes(self):
        seen = set()
        for _ in range(4):  # round robin: two each
            conn = connect_from("127.0.0.5", self.front)
            try:
                self.assertTrue(conn.readline().startswith(b"+OK"))
                self.assertTrue(conn.command("USER " + ALICE).startswith(b"+OK"))
                self.assertTrue(conn.command("PASS " + ALICE_PW).startswith(b"+OK"))
                for node in (self.node1, self.node2):
                    ips = [s["ip"] for s in self.sessions(node)]
                    if ips:
                        self.assertEqual(ips, ["127.0.0.5"])
                        seen.add(node.data)
                conn.command("QUIT")
            finally:
                conn.close()
        self.assertEqual(seen, {self.node1.data, self.node2.data})

    def test_a_rule_added_on_node_1_refuses_on_node_2(self):
        self.assertTrue(self.greets(self.node2, "127.0.0.9"))
        self.node1.mailctl("access", "add", "pop3", "deny", "127.0.0.9")
        started = time.monotonic()
        self.wait_until(lambda: not self.greets(self.node2, "127.0.0.9"), what="node 2 refusing 127.0.0.9")
        self.assertLess(time.monotonic() - started, PROPAGATION)
        self.assertTrue(self.greets(self.node2, "127.0.0.10"))

    def test_a_block_placed_by_one_node_refuses_on_the_other(self):
        for _ in range(4):  # max_login_failures, all on node 1
            self.guess(self.node1, "127.0.0.8")
        self.wait_until(lambda: not self.greets(self.node1, "127.0.0.8"), what="node 1 blocking 127.0.0.8")
        self.wait_until(lambda: not self.greets(self.node2, "127.0.0.8"), what="node 2 refusing 127.0.0.8 too")
        self.assertTrue(self.greets(self.node2, "127.0.0.11"))

    def test_a_brute_force_spread_over_both_nodes_is_blocked_on_both(self):
        for i in range(8):  # through the balancer: round robin over the nodes
            conn = connect_from("127.0.0.12", self.front)
            try:
                if not conn.readline().startswith(b"+OK"):
                    break  # blocked already
                conn.command("USER " + ALICE)
                conn.command("PASS wrong-%d" % i)
            except (OSError, EOFError, TimeoutError):
                break
            finally:
                conn.close()
        for node in (self.node1, self.node2):
            self.wait_until(lambda n=node: not self.greets(n, "127.0.0.12"), what="%s refusing 127.0.0.12" % node.data)
        self.assertTrue(first_bytes("127.0.0.13", self.front).startswith(b"+OK"))

    def pop3_session(self, node, deletes=()):
        """Logs in to alice on `node` (a lease still held by the session before is waited for),
        returns the UIDL list, deletes the given message numbers and QUITs."""
        deadline = time.monotonic() + PROPAGATION
        while True:
            conn = self.proxied(node, "127.0.0.20")
            try:
                self.assertTrue(conn.readline().startswith(b"+OK"))
                self.assertTrue(conn.command("USER " + ALICE).startswith(b"+OK"))
                reply = conn.command("PASS " + ALICE_PW)
                if reply.startswith(b"+OK"):
                    self.assertTrue(conn.command("UIDL").startswith(b"+OK"))
                    uidls = [line.split(b" ", 1)[1] for line in conn.read_multiline()]
                    for n in deletes:
                        self.assertTrue(conn.command("DELE %d" % n).startswith(b"+OK"))
                    self.assertTrue(conn.command("QUIT").startswith(b"+OK"))
                    return uidls
                self.assertIn(b"[IN-USE]", reply)
                self.assertLess(time.monotonic(), deadline, "the previous session's lease was never released")
            finally:
                conn.close()
            time.sleep(0.1)

    def test_one_maildir_served_by_both_nodes_in_turn(self):
        # The same Maildir, read and changed by one node, then the other: the index cache, the
        # deletion intents and the UIDL assignment stay consistent across nodes.
        for i in range(3):
            self.node1.deliver(ALICE, harness.make_message("m%d" % i, b"body %d\n" % i))
        first = self.pop3_session(self.node1, deletes=(1,))
        self.assertEqual(len(first), 3)
        self.assertEqual(self.pop3_session(self.node2, deletes=(1,)), first[1:])
        self.assertEqual(self.pop3_session(self.node1), first[2:])
        self.node2.deliver(ALICE, harness.make_message("m3", b"body 3\n"))
        last = self.pop3_session(self.node1)
        self.assertEqual(last[0], first[2])
        self.assertEqual(len(last), 2)
        self.assertNotIn(last[1], first)  # UIDLs are never reused
        self.assertEqual(self.pop3_session(self.node2), last)

    def test_a_mailbox_added_through_node_2_logs_in_on_node_1_at_once(self):
        self.node2.mailctl("mailbox", "add", "bob@example.test", "--password", "Bob-pw-22")
        conn = self.proxied(self.node1, "127.0.0.14")
        try:
            self.assertTrue(conn.readline().startswith(b"+OK"))
            self.assertTrue(conn.command("USER bob@example.test").startswith(b"+OK"))
            self.assertTrue(conn.command("PASS Bob-pw-22").startswith(b"+OK"))
            conn.command("QUIT")
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
