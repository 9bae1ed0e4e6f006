# End-to-end PROXY protocol (issue 19): a real HAProxy with send-proxy-v2 in front of a pop3
# service with proxy_protocol on and proxy_trusted 127.0.0.1. A client from 127.0.0.5 is seen as
# 127.0.0.5 (log, sessions) and the IP lists and anti-hammering judge that address; implicit TLS passes through with
# the header before the handshake; a v1 header sent by hand works; no header, a malformed one, a
# late one and one from an untrusted address are closed before any banner, logged and counted.
import json
import os
import socket
import ssl
import time
import unittest

import haproxy_support
from harness import LOOPBACK, ServerTestCase, connect_from, first_bytes

ALICE = "alice@example.test"
ALICE_PW = "s3cret"


@unittest.skipUnless(haproxy_support.available(), "haproxy is not installed")
class ProxyProtocolTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        server.mailctl("cert", "generate", "--hostname", "localhost")  # implicit TLS listens too
        server.set("proxy_timeout", 1)  # HAProxy sends its header at once; the late-header case is quick
        server.set("failure_delay", 0)

    def setUp(self):
        super().setUp()  # started without proxy_protocol: the harness waits for a plain greeting
        self.server.set("proxy_trusted", LOOPBACK)
        self.server.set("proxy_protocol", "on")
        self.wait_until(lambda: first_bytes(LOOPBACK, self.server.port) == b"",
                        what="a direct connection without a PROXY header refused")
        self.haproxy = haproxy_support.HAProxy(self.server.root)
        self.addCleanup(self.haproxy.stop)
        self.front = self.haproxy.frontend("pop3", [(LOOPBACK, self.server.port)])
        self.front_tls = self.haproxy.frontend("pop3s", [(LOOPBACK, self.server.tls_port)])
        self.haproxy.start()

    def mailctl_json(self, *args):
        return json.loads(self.server.mailctl(*args, "--json").stdout)

    def log(self) -> str:
        with open(self.server.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def refused_count(self) -> int:
        return self.mailctl_json("service", "status", "pop3")["services"]["pop3"]["counters"]["proxy_refused"]

    def session_ips(self):
        return sorted(s["ip"] for s in self.mailctl_json("sessions") if s["service"] == "pop3")

    def test_client_address_through_haproxy_drives_log_sessions_and_ip_lists(self):
        conn = connect_from("127.0.0.5", self.front)
        self.addCleanup(conn.close)
        self.assertTrue(conn.readline().startswith(b"+OK"))
        self.assertTrue(conn.command("USER " + ALICE).startswith(b"+OK"))
        self.assertTrue(conn.command("PASS " + ALICE_PW).startswith(b"+OK"))
        self.assertEqual(self.session_ips(), ["127.0.0.5"])
        self.assertEqual([s["peer"] for s in self.mailctl_json("sessions")][0].split(":")[0], "127.0.0.5")
        self.wait_until(lambda: "ip=127.0.0.5" in self.log(), what="the log naming 127.0.0.5")
        conn.command("QUIT")
        conn.close()

        refused = self.refused_count()
        self.server.mailctl("access", "add", "pop3", "deny", "127.0.0.5")
        self.wait_until(lambda: first_bytes("127.0.0.5", self.front) == b"", what="127.0.0.5 denied through haproxy")
        self.assertTrue(first_bytes(LOOPBACK, self.front).startswith(b"+OK"))
        self.assertIn("ip=127.0.0.5", [l for l in self.log().splitlines() if "net.denied" in l][-1])
        self.assertEqual(self.refused_count(), refused)  # a denial is no PROXY failure

        # Anti-hammering blocks the client behind the balancer, not the balancer.
        for _ in range(5):  # max_login_failures
            guess = connect_from("127.0.0.8", self.front)
            try:
                self.assertTrue(guess.readline().startswith(b"+OK"))
                guess.command("USER " + ALICE)
                self.assertTrue(guess.command("PASS wrong").startswith(b"-ERR"))
            finally:
                guess.close()
        self.wait_until(lambda: first_bytes("127.0.0.8", self.front) == b"", what="127.0.0.8 blocked")
        self.wait_until(lambda: [b["network"] for b in self.mailctl_json("block", "list")] == ["127.0.0.8"],
                        what="the block stored for 127.0.0.8 alone")
        self.assertTrue(first_bytes(LOOPBACK, self.front).startswith(b"+OK"))

    def test_implicit_tls_through_haproxy_header_before_handshake(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=os.path.join(self.server.data, "tls", "cert.pem"))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.bind(("127.0.0.6", 0))
        sock.connect((LOOPBACK, self.front_tls))
        with ctx.wrap_socket(sock, server_hostname=LOOPBACK) as tls:
            self.assertTrue(tls.recv(512).startswith(b"+OK"))
            self.assertEqual(self.session_ips(), ["127.0.0.6"])
            tls.sendall(b"QUIT\r\n")

    def test_proxied_sessions_move_to_every_event_loop_with_their_first_bytes(self):
        # With loops >= 2 the header is read on the main loop, then the socket, the client's
        # address and the bytes that came with the header move to the session's loop.
        loops = len(self.mailctl_json("status")["loops"])
        conns = []
        for i in range(2 * loops):
            c = connect_from(LOOPBACK, self.server.port)
            self.addCleanup(c.close)
            c.send(b"PROXY TCP4 192.0.2.%d 127.0.0.1 4000 110\r\nCAPA\r\n" % (20 + i))
            self.assertTrue(c.readline().startswith(b"+OK"))
            self.assertTrue(c.readline().startswith(b"+OK"))  # CAPA's reply: the early bytes arrived
            conns.append(c)
        sessions = [s for s in self.mailctl_json("sessions") if s["service"] == "pop3"]
        self.assertEqual(sorted(s["ip"] for s in sessions), sorted("192.0.2.%d" % (20 + i) for i in range(2 * loops)))
        self.assertEqual(sorted({s["loop"] for s in sessions}), list(range(loops)))
        for c in conns:
            c.close()
        self.wait_until(lambda: self.session_ips() == [], what="the sessions closed")

    def test_v1_by_hand_and_what_is_refused_before_any_banner(self):
        # A v1 header sent by hand, with the first command in the same segment.
        conn = connect_from(LOOPBACK, self.server.port)
        self.addCleanup(conn.close)
        conn.send(b"PROXY TCP4 192.0.2.9 127.0.0.1 4000 110\r\nCAPA\r\n")
        self.assertTrue(conn.readline().startswith(b"+OK"))
        self.assertTrue(conn.readline().startswith(b"+OK"))  # CAPA's reply
        self.assertEqual(self.session_ips(), ["192.0.2.9"])
        conn.close()
        self.wait_until(lambda: self.session_ips() == [], what="the v1 session closed")

        # An IPv6 client named over an IPv4 hop.
        v6 = connect_from(LOOPBACK, self.server.port)
        self.addCleanup(v6.close)
        v6.send(b"PROXY TCP6 2001:DB8:0::5 2001:db8::1 4000 110\r\n")
        self.assertTrue(v6.readline().startswith(b"+OK"))
        self.wait_until(lambda: self.session_ips() == ["2001:db8::5"], what="the IPv6 client listed")
        v6.close()
        self.wait_until(lambda: self.session_ips() == [], what="the IPv6 session closed")

        # A v2 LOCAL header (a balancer's health check): the connection's own address stands.
        local = connect_from(LOOPBACK, self.server.port)
        self.addCleanup(local.close)
        local.send(b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00")
        self.assertTrue(local.readline().startswith(b"+OK"))
        self.wait_until(lambda: self.session_ips() == [LOOPBACK], what="the LOCAL session listed as 127.0.0.1")
        local.close()
        self.wait_until(lambda: self.session_ips() == [], what="the sessions closed")

        before = self.refused_count()
        cases = [
            (LOOPBACK, b"USER alice\r\n", "not a PROXY v1 or v2 signature"),
            (LOOPBACK, b"PROXY TCP4 192.0.2.9 nonsense 1 2\r\n", "is no IPv4 address"),
            ("127.0.0.7", b"PROXY TCP4 192.0.2.9 127.0.0.1 4000 110\r\n", "not in proxy_trusted"),
        ]
        for source, data, reason in cases:
            c = connect_from(source, self.server.port)
            try:
                try:
                    c.send(data)
                except OSError:
                    pass  # the untrusted one may be closed already
                self.assertEqual(c.wait_closed(), b"", "banner or data for %r from %s" % (data, source))
            finally:
                c.close()
            self.wait_until(lambda: reason in self.log(), what="net.proxy_refused: " + reason)

        c = connect_from(LOOPBACK, self.server.port)
        try:
            c.send(b"PROXY TCP4 192.0.2.9")  # and no more
            started = time.monotonic()
            self.assertEqual(c.wait_closed(), b"")
            self.assertLess(time.monotonic() - started, 5)
        finally:
            c.close()
        self.wait_until(lambda: "no complete PROXY header within 1 s" in self.log(), what="the late header logged")
        self.assertEqual(self.refused_count(), before + 4)
        self.assertEqual(self.session_ips(), [])


if __name__ == "__main__":
    unittest.main()
