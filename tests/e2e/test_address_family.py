# End-to-end address families (issue 12, finding 2): IPv4 is kept inside ::ffff:0:0/96 of one
# 128-bit space, so an IPv6 rule or block whose range spans it (::/0, the /64 of ::1) must still
# leave IPv4 clients alone. A daemon listening on 127.0.0.1 and [::1] is driven from both; every
# wait is bounded.
import json
import socket
import unittest

from harness import LOOPBACK, RawConnection, ServerTestCase, connect_from, first_bytes, free_port

ALICE = "alice@example.test"
ALICE_PW = "s3cret"
V6_LOOPBACK = "::1"


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind((V6_LOOPBACK, 0))
        return True
    except OSError:
        return False


@unittest.skipUnless(has_ipv6_loopback(), "no IPv6 loopback here")
class AddressFamilyTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        server.set("failure_delay", 0)  # five failures without waiting

    def setUp(self):
        super().setUp()
        self.v6_port = free_port()
        self.server.set("binds", "%s %d, [%s]:%d" % (LOOPBACK, self.server.port, V6_LOOPBACK, self.v6_port))
        self.wait_until(lambda: self.greeted(V6_LOOPBACK), what="a greeting over ::1")

    # -- helpers ------------------------------------------------------------------------------

    def port_for(self, host):
        return self.v6_port if ":" in host else self.server.port

    def greeted(self, host):
        return first_bytes(None, self.port_for(host), host).startswith(b"+OK")

    def refused(self, host):
        return first_bytes(None, self.port_for(host), host) == b""

    def login(self, host, password):
        """The reply to PASS from a fresh session from `host`."""
        conn = connect_from(None, self.port_for(host), host)
        self.addCleanup(conn.close)
        greeting = conn.readline()
        self.assertTrue(greeting.startswith(b"+OK"), (host, greeting))
        self.assertTrue(conn.command("USER " + ALICE).startswith(b"+OK"))
        reply = conn.command("PASS " + password)
        if reply.startswith(b"+OK"):
            conn.command("QUIT")
        return reply

    def explain(self, address):
        return json.loads(self.server.mailctl("--json", "access", "explain", "pop3", address).stdout)

    def assert_ipv4_served(self):
        self.assertTrue(self.greeted(LOOPBACK), "127.0.0.1 got no banner")
        reply = self.login(LOOPBACK, ALICE_PW)
        self.assertTrue(reply.startswith(b"+OK"), reply)
        out = self.explain(LOOPBACK)
        self.assertEqual((out["decision"], out["reason"]), ("allow", "default"), out["text"])

    # -- tests ----------------------------------------------------------------------------------

    def test_five_bad_logins_over_ipv6_block_its_prefix_and_not_ipv4(self):
        for attempt in range(5):
            reply = self.login(V6_LOOPBACK, "wrong-%d" % attempt)
            self.assertTrue(reply.startswith(b"-ERR [AUTH]"), reply)
        self.assertTrue(self.refused(V6_LOOPBACK), "::1 still served after five failures")
        # ::1's network of ipv6_failure_prefix (default /64) is blocked and stored...
        blocks = self.wait_until(lambda: json.loads(self.server.mailctl("--json", "block", "list").stdout),
                                 what="the block stored")
        self.assertEqual([(b["network"], b["cause"]) for b in blocks], [("::/64", "login_failures")])
        out = self.explain(V6_LOOPBACK)
        self.assertEqual((out["decision"], out["reason"], out["rule"]), ("deny", "blocked", "::/64"))
        # ...and IPv4, which lives inside ::/64 as ::ffff:a.b.c.d, is not.
        self.assert_ipv4_served()

    def test_deny_all_of_ipv6_leaves_ipv4_served(self):
        self.server.mailctl("access", "add", "pop3", "deny", "::/0")
        self.wait_until(lambda: self.refused(V6_LOOPBACK), what="::1 refused")
        self.assert_ipv4_served()
        out = self.explain(V6_LOOPBACK)
        self.assertEqual((out["decision"], out["reason"], out["rule"]), ("deny", "deny_list", "::/0"))

    def test_a_manual_block_of_ipv6_leaves_ipv4_served(self):
        self.server.mailctl("block", "add", V6_LOOPBACK)
        self.wait_until(lambda: self.refused(V6_LOOPBACK), what="::1 blocked")
        self.assert_ipv4_served()
        # Lifting 127.0.0.1 finds no block: the IPv6 network's block stays.
        self.assertEqual(self.server.mailctl("block", "remove", LOOPBACK, check=False).returncode, 4)
        self.assertTrue(self.refused(V6_LOOPBACK))

    def test_mapped_notation_denies_ipv4_only(self):
        out = json.loads(self.server.mailctl("--json", "access", "add", "pop3", "deny", "::ffff:0:0/96").stdout)
        self.assertEqual(out["rule"], "0.0.0.0/0")
        self.wait_until(lambda: self.refused(LOOPBACK), what="127.0.0.1 refused")
        self.assertTrue(self.greeted(V6_LOOPBACK))
        self.assertEqual(self.explain(LOOPBACK)["reason"], "deny_list")
        self.assertEqual(self.explain(V6_LOOPBACK)["reason"], "default")


if __name__ == "__main__":
    unittest.main()
