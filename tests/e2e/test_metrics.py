"""The metrics endpoint (daemon setting metrics_listen): scraped with urllib and parsed with
prometheus_client's OpenMetrics and Prometheus text parsers; POP3 logins (USER ok and failed, AUTH PLAIN), a RETR,
a DELE and an SMTP delivery move the counters by exactly what they did; a deny-list refusal, an
anti-hammering block and a refusal by it move the denial and block series of their own reason;
other paths, methods and malformed requests get 404/405/400; `off` closes the port and a live
change reopens it."""
import base64
import json
import os
import poplib
import smtplib
import socket
import sys
import time
import unittest
import urllib.error
import urllib.request

try:
    import prometheus_client  # noqa: F401
except ImportError:  # a Python of its own (pyenv, venv): Debian's python3-prometheus-client is pure Python
    sys.path.append("/usr/lib/python3/dist-packages")
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from harness import (IO_TIMEOUT, LOOPBACK, ServerTestCase, connect_from, first_bytes, free_port, make_message,
                     undocumented_metrics)

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
ALICE, ALICE_PW = "alice@example.test", "alice-secret-1"
DENIED_IP, HAMMERING_IP = "127.0.0.31", "127.0.0.32"


def samples(families) -> dict:
    """{(sample name, frozenset of labels): value} of parsed families."""
    out = {}
    for family in families:
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


class MetricsTest(ServerTestCase):
    service = "pop3"
    also = ("smtp",)

    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        server.deliver(ALICE, make_message("first", b"one\n"))
        server.mailctl("access", "add", "pop3", "deny", DENIED_IP)
        server.set("failure_delay", 0)
        server.set("max_login_failures", 2)  # the other test fails once, from 127.0.0.1

    def enable(self, bind: str = None) -> int:
        port = free_port()
        self.server.mailctl("daemon", "set", "metrics_listen", bind or "%s:%d" % (LOOPBACK, port))
        self.wait_until(lambda: self.reachable(port), what="the metrics endpoint listens")
        return port

    def reachable(self, port: int) -> bool:
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return True
        except OSError:
            return False

    def get(self, port: int, path: str = "/metrics", accept: str = None, method: str = "GET"):
        request = urllib.request.Request("http://%s:%d%s" % (LOOPBACK, port, path), method=method)
        if accept:
            request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, timeout=IO_TIMEOUT) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def scrape(self, port: int) -> dict:
        status, headers, body = self.get(port, accept="application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], OPENMETRICS)
        self.assertEqual(headers["Connection"], "close")
        self.assertTrue(body.endswith("# EOF\n"))
        return samples(parse_openmetrics(body))

    def raw_request(self, port: int, data: bytes) -> bytes:
        with socket.create_connection((LOOPBACK, port), timeout=IO_TIMEOUT) as s:
            s.sendall(data)
            reply = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:  # closed unanswered with our request unread
                    return reply
                if not chunk:
                    return reply
                reply += chunk

    def test_counters_move_by_what_the_clients_did(self):
        port = self.enable()
        before = self.scrape(port)
        self.assertEqual(value(before, "mailroom_up"), 1)
        self.assertGreater(value(before, "mailroom_start_time_seconds"), 1.7e9)
        self.assertEqual(value(before, "mailroom_build_info", version="0.1.0"), 1)
        self.assertIn(("mailroom_connections_active", frozenset({("service", "pop3")})), before)

        # POP3: one good login that reads and deletes a message, one wrong password.
        client = self.server.login(ALICE, ALICE_PW)
        self.assertEqual(len(client.retr(1)[1]) > 0, True)
        client.dele(1)
        client.quit()
        bad = self.server.pop3()
        bad.user(ALICE)
        with self.assertRaises(poplib.error_proto):
            bad.pass_("wrong")
        bad.close()
        # A SASL login: the mechanism's name in lower case.
        sasl = self.server.raw()
        self.assertTrue(sasl.readline().startswith(b"+OK"))
        proof = base64.b64encode(b"\0" + ALICE.encode() + b"\0" + ALICE_PW.encode()).decode()
        self.assertTrue(sasl.command("AUTH PLAIN " + proof).startswith(b"+OK"), "AUTH PLAIN")
        self.assertTrue(sasl.command("QUIT").startswith(b"+OK"))
        sasl.close()
        # SMTP: one message delivered.
        message = make_message("second", b"two\n").replace(b"\n", b"\r\n")
        smtp = smtplib.SMTP(LOOPBACK, self.server.ports["smtp"], timeout=IO_TIMEOUT)
        self.assertEqual(smtp.sendmail("sender@example.org", [ALICE], message), {})
        smtp.quit()
        smtp.close()

        def moved(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        def settled():
            nonlocal after
            after = self.scrape(port)
            return (moved("mailroom_session_duration_seconds_count", service="pop3") == 3 and
                    moved("mailroom_session_duration_seconds_count", service="smtp") == 1)
        after = None
        self.wait_until(settled, what="the three POP3 sessions and the SMTP session are counted as ended")
        self.assertEqual(moved("mailroom_logins_total", service="pop3", mechanism="user", outcome="ok"), 1)
        self.assertEqual(moved("mailroom_logins_total", service="pop3", mechanism="plain", outcome="ok"), 1)
        self.assertEqual(moved("mailroom_logins_total", service="pop3", mechanism="user", outcome="auth_failed"), 1)
        self.assertEqual(moved("mailroom_login_failures_total", service="pop3"), 1)
        self.assertEqual(moved("mailroom_connections_total", service="pop3"), 3)
        self.assertEqual(moved("mailroom_connections_total", service="smtp"), 1)
        self.assertEqual(value(after, "mailroom_connections_active", service="pop3"), 0)
        self.assertEqual(moved("mailroom_messages_retrieved_total", service="pop3"), 1)
        self.assertEqual(moved("mailroom_messages_deleted_total", service="pop3"), 1)
        self.assertEqual(moved("mailroom_deliveries_total", service="smtp", outcome="delivered"), 1)
        self.assertEqual(moved("mailroom_delivered_bytes_total", service="smtp"), len(message))
        self.assertGreater(moved("mailroom_bytes_received_total", service="pop3"), len("USER PASS RETR DELE QUIT"))
        self.assertGreater(moved("mailroom_bytes_sent_total", service="pop3"), 0)
        self.assertGreater(moved("mailroom_bytes_received_total", service="smtp"), len(message))
        self.assertEqual(moved("mailroom_session_duration_seconds_bucket", service="pop3", le="+Inf"), 3)
        for reason in ("access_list", "blocked", "max_connections", "max_connections_per_ip", "proxy_header"):
            self.assertEqual(moved("mailroom_denied_total", service="pop3", reason=reason), 0)

        # The Prometheus 0.0.4 text (no Accept header) says the same.
        status, headers, body = self.get(port)
        self.assertEqual((status, headers["Content-Type"]), (200, PROMETHEUS))
        self.assertNotIn("# EOF", body)
        self.assertIn("# TYPE mailroom_logins_total counter\n", body)
        self.assertEqual(undocumented_metrics(body), [])  # every family exported has its row in docs/metrics.md
        # SQLite: no change feed, no session leases, so none of their families (test_postgres_backend has them).
        self.assertNotIn("mailroom_change_feed_listening", body)
        self.assertNotIn("lease", body)
        plain = samples(parse_prometheus(body))
        self.assertEqual(value(plain, "mailroom_logins_total", service="pop3", mechanism="user", outcome="ok"),
                         value(after, "mailroom_logins_total", service="pop3", mechanism="user", outcome="ok"))

        # run/status.json is rewritten on the daemon's next tick (a second apart; later on a busy machine).
        expected = {"bind": "%s:%d" % (LOOPBACK, port), "listening": True, "error": ""}
        self.wait_until(lambda: self.status_file_metrics() == expected, timeout=10,
                        what="status.json shows the endpoint")

    def test_denials_and_blocks_move_the_series_of_their_reason(self):
        port = self.enable()
        before = self.scrape(port)
        self.assertEqual(first_bytes(DENIED_IP, self.server.port), b"")  # the deny list: closed before the banner
        for attempt in range(2):  # two wrong passwords: the second places a block (max_login_failures 2)
            conn = connect_from(HAMMERING_IP, self.server.port)
            try:
                self.assertTrue(conn.readline().startswith(b"+OK"))
                self.assertTrue(conn.command("USER " + ALICE).startswith(b"+OK"))
                self.assertTrue(conn.command("PASS wrong-%d" % attempt).startswith(b"-ERR [AUTH]"))
            finally:
                conn.close()
        self.assertEqual(first_bytes(HAMMERING_IP, self.server.port), b"")  # refused by the block

        def moved(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        def settled():
            nonlocal after
            after = self.scrape(port)
            return moved("mailroom_session_duration_seconds_count", service="pop3") == 2
        after = None
        self.wait_until(settled, what="the two sessions that logged in wrongly are counted as ended")
        self.assertEqual(moved("mailroom_denied_total", service="pop3", reason="access_list"), 1)
        self.assertEqual(moved("mailroom_denied_total", service="pop3", reason="blocked"), 1)
        for reason in ("max_connections", "max_connections_per_ip", "proxy_header"):
            self.assertEqual(moved("mailroom_denied_total", service="pop3", reason=reason), 0)
        self.assertEqual(moved("mailroom_logins_total", service="pop3", mechanism="user", outcome="auth_failed"), 2)
        self.assertEqual(moved("mailroom_login_failures_total", service="pop3"), 2)
        self.assertEqual(moved("mailroom_blocks_placed_total", service="pop3"), 1)
        self.assertEqual((value(before, "mailroom_blocks_active", service="pop3"),
                          value(after, "mailroom_blocks_active", service="pop3")), (0, 1))
        self.assertEqual(moved("mailroom_connections_total", service="pop3"), 2)  # refused ones are not handed on
        self.assertEqual(moved("mailroom_denied_total", service="smtp", reason="access_list"), 0)

    def test_other_paths_methods_and_malformed_requests(self):
        port = self.enable()
        self.assertEqual(self.get(port, "/")[0], 404)
        self.assertEqual(self.get(port, "/metrics/x")[0], 404)
        status, headers, _ = self.get(port, method="POST")
        self.assertEqual((status, headers["Allow"]), (405, "GET, HEAD"))
        self.assertEqual(self.get(port, method="HEAD")[0], 200)
        self.assertTrue(self.raw_request(port, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400 "))
        self.assertTrue(self.raw_request(port, b"GET /metrics HTTP/9.9\r\n\r\n").startswith(b"HTTP/1.1 400 "))
        self.assertTrue(self.raw_request(port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
                        .startswith(b"HTTP/1.1 431 "))
        reply = self.raw_request(port, b"GET /metrics HTTP/1.0\n\n")  # bare LF lines are read too
        self.assertTrue(reply.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertIn(b"\r\nConnection: close\r\n", reply)
        # A client that sends half a request and stops is answered 408 within the request timeout.
        with socket.create_connection((LOOPBACK, port), timeout=15) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\n")
            started = time.monotonic()
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 408 "))
            self.assertLess(time.monotonic() - started, 12)
        self.assertEqual(self.scrape(port)[("mailroom_up", frozenset())], 1)  # still serving
        # Four scrapes at once at most: a fifth connection is closed unanswered.
        idle = [socket.create_connection((LOOPBACK, port), timeout=IO_TIMEOUT) for _ in range(4)]
        # (retried: a moment may pass before the daemon has accepted all four)
        self.wait_until(lambda: self.raw_request(port, b"GET /metrics HTTP/1.1\r\n\r\n") == b"",
                        what="a fifth concurrent scrape is closed unanswered")
        for s in idle:
            s.close()
        self.wait_until(lambda: self.raw_request(port, b"GET /metrics HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 200 "),
                        what="scrapes are served again once the idle connections are gone")

    def status_text(self) -> str:
        return self.server.mailctl("status").stdout.decode()

    def status_file_metrics(self):
        with open(os.path.join(self.server.data, "run", "status.json")) as f:
            return json.load(f)["metrics"]

    def test_off_closes_the_port_and_a_change_reopens_it(self):
        self.wait_until(lambda: os.path.exists(os.path.join(self.server.data, "run", "status.json")),
                        what="run/status.json written")
        self.assertIsNone(self.status_file_metrics(), "metrics_listen is off by default: no endpoint")
        self.assertIn("\nmetrics endpoint: off\n", self.status_text())
        port = self.enable()
        self.assertIn("\nmetrics endpoint: listening on %s:%d\n" % (LOOPBACK, port), self.status_text())
        self.server.mailctl("daemon", "set", "metrics_listen", "off")
        self.wait_until(lambda: not self.reachable(port), what="metrics_listen off closes the port")
        other = self.enable()
        self.assertFalse(self.reachable(port))
        self.assertEqual(value(self.scrape(other), "mailroom_up"), 1)
        # A port another program holds: logged, shown in status.json, then taken once it is free.
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((LOOPBACK, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        self.server.mailctl("daemon", "set", "metrics_listen", "%s:%d" % (LOOPBACK, taken))
        self.wait_until(lambda: "event=metrics.bind_failed bind=%s:%d" % (LOOPBACK, taken) in self.server.log_tail(200),
                        what="the failed bind is logged")
        self.wait_until(lambda: (self.status_file_metrics() or {}).get("listening") is False,
                        what="status.json shows the failed bind")
        self.assertTrue(self.status_file_metrics()["error"])
        self.assertIn("\nmetrics endpoint: FAILED %s:%d: " % (LOOPBACK, taken), self.status_text())
        self.assertNotIn("metrics endpoint", self.server.mailctl("service", "status", "pop3").stdout.decode())
        holder.close()


if __name__ == "__main__":
    unittest.main()
