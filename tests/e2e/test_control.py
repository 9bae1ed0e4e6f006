# The control socket (DATA/run/control.sock) and the mailctl commands that use it: status,
# sessions (list, kill by id, by mailbox, by ip), reload, and service start|stop|restart|status
# on a running daemon while another service keeps serving (pop3 + smtp). A POP3 session ended by
# the administrator after DELE loses no message (no UPDATE without QUIT); an SMTP session mid-
# transaction gets 421 4.3.2. With the daemon down: status --json says running false (exit 3),
# start/stop store the state, the rest exit 3.
import json
import os
import re
import socket
import ssl
import stat
import unittest

from harness import IO_TIMEOUT, LOOPBACK, RawConnection, ServerTestCase
from smtp_support import smtp_connect

ALICE = "alice@example.test"
ALICE_PW = "alice-secret-1"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
EXIT_NOT_RUNNING = 3
ENDED_POP3 = b"-ERR [SYS/TEMP] session ended by the administrator"


def control(path: str, request: bytes, timeout: float = IO_TIMEOUT) -> dict:
    """One raw request line on the control socket; the reply line parsed."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall(request)
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    return json.loads(data.split(b"\n", 1)[0])


class ControlTest(ServerTestCase):
    also = ("smtp",)

    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        server.deliver(ALICE, b"Subject: one\n\nthe first message\n")
        server.deliver(ALICE, b"Subject: two\n\nthe second message\n")

    # -- helpers ----------------------------------------------------------------------------------

    @property
    def socket_path(self) -> str:
        return os.path.join(self.server.data, "run", "control.sock")

    def mailctl_json(self, *args):
        return json.loads(self.server.mailctl(*args, "--json").stdout)

    def logged_in(self) -> RawConnection:
        conn = RawConnection(self.server.ports["pop3"])
        conn.login(ALICE, ALICE_PW)
        return conn

    def session_of(self, mailbox: str) -> dict:
        mine = [s for s in self.mailctl_json("sessions") if s["address"] == mailbox]
        self.assertEqual(len(mine), 1, mine)
        return mine[0]

    def assert_ended_keeping_mail(self, conn: RawConnection):
        """The session gets the last line, then EOF; both messages are still there."""
        self.assertTrue(conn.readline().startswith(ENDED_POP3))
        self.assertEqual(conn.wait_closed(), b"")
        conn.close()
        p = self.server.login(ALICE, ALICE_PW)
        self.assertEqual(p.stat()[0], 2, "a session ended without QUIT must delete nothing")
        p.quit()

    def refused(self, port: int) -> bool:
        try:
            socket.create_connection((LOOPBACK, port), timeout=2).close()
            return False
        except ConnectionRefusedError:
            return True

    def stored_enabled(self, name: str) -> bool:
        return {s["service"]: s["enabled"] for s in self.mailctl_json("service", "list")}[name]

    # -- the socket and status --------------------------------------------------------------------

    def test_socket_is_owner_only(self):
        st = os.stat(self.socket_path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(st.st_uid, os.getuid())

    def test_status_json(self):
        doc = self.mailctl_json("status")
        self.assertIs(doc["running"], True)
        self.assertEqual(doc["pid"], self.server.proc.pid)
        self.assertRegex(doc["version"], r"^\d+\.\d+\.\d+")
        self.assertRegex(doc["started_at"], RFC3339)
        self.assertIsInstance(doc["uptime_seconds"], int)
        self.assertIsInstance(doc["user"], str)
        self.assertEqual(set(doc["services"]), {"pop3", "smtp", "lmtp", "poppassd"})
        pop3 = doc["services"]["pop3"]
        self.assertEqual(pop3["module"], "pop3")
        self.assertIs(pop3["enabled"], True)
        self.assertIn({"bind": "%s:%d" % (LOOPBACK, self.server.ports["pop3"]), "kind": "plain", "listening": True,
                       "superseded": False, "error": ""}, pop3["listeners"])
        self.assertIn("accepted", pop3["counters"])
        self.assertIs(doc["services"]["lmtp"]["enabled"], False)
        # SQLite: no change feed, no cluster-wide leases (test_postgres_backend has both).
        self.assertEqual(doc["database"], {"kind": "sqlite", "change_feed": None, "leases": None})
        text = self.server.mailctl("status").stdout.decode()
        self.assertIn("mailroomd %s running (pid %d" % (doc["version"], doc["pid"]), text)
        self.assertIn("\ndatabase: sqlite\n", text)
        self.assertIn("service smtp (module smtp, enabled): 0 connections", text)
        # One session: the singular.
        conn = self.logged_in()
        self.addCleanup(conn.close)
        self.assertIn("service pop3 (module pop3, enabled): 1 connection\n",
                      self.server.mailctl("service", "status", "pop3").stdout.decode())

    def test_raw_protocol_errors(self):
        r = control(self.socket_path, b'{"command":"nosuch"}\n')
        self.assertEqual((r["ok"], r["code"]), (False, "not_found"))
        r = control(self.socket_path, b"status\n")
        self.assertEqual((r["ok"], r["code"]), (False, "invalid_argument"))
        r = control(self.socket_path, b'{"command":"status","x":"' + b"y" * 5000 + b'"}\n')
        self.assertEqual(r["ok"], False)
        self.assertIn("longer than", r["error"])
        # One connection, several requests in turn.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(IO_TIMEOUT)
        sock.connect(self.socket_path)
        conn = RawConnection(0, sock=sock)
        self.addCleanup(conn.close)
        conn.send(b'{"command":"sessions"}\n{"command":"status"}\n')
        data = b""
        while data.count(b"\n") < 2:
            self.assertTrue(conn._fill(__import__("time").monotonic() + IO_TIMEOUT))
            data, conn.buf = data + conn.buf, b""
        first, second = [json.loads(line) for line in data.split(b"\n")[:2]]
        self.assertIn("sessions", first)
        self.assertIn("services", second)

    # -- sessions ---------------------------------------------------------------------------------

    def test_sessions_list_fields(self):
        conn = self.logged_in()
        self.addCleanup(conn.close)
        smtp = smtp_connect(self.server.ports["smtp"])
        self.addCleanup(smtp.close)
        self.assertEqual(smtp.reply().code, 220)
        self.assertEqual(smtp.cmd("EHLO client.test").code, 250)
        self.assertEqual(smtp.cmd("MAIL FROM:<a@b.test>").code, 250)
        sessions = self.mailctl_json("sessions")
        pop3 = self.session_of(ALICE)
        self.assertEqual(pop3["service"], "pop3")
        self.assertEqual(pop3["ip"], LOOPBACK)
        self.assertEqual(pop3["peer"], "%s:%d" % conn.sock.getsockname())
        self.assertEqual(pop3["state"], "TRANSACTION")
        self.assertIsNone(pop3["tls"])
        self.assertRegex(pop3["connected_at"], RFC3339)
        self.assertIsInstance(pop3["age_seconds"], int)
        self.assertIsInstance(pop3["id"], int)
        self.assertGreater(pop3["received_bytes"], len("USER %s\r\nPASS %s\r\n" % (ALICE, ALICE_PW)) - 1)
        self.assertGreater(pop3["sent_bytes"], 0)
        smtp_row = [s for s in sessions if s["service"] == "smtp"]
        self.assertEqual(len(smtp_row), 1)
        self.assertEqual(smtp_row[0]["state"], "mail")
        self.assertIsNone(smtp_row[0]["address"])
        # One service only.
        self.assertEqual([s["service"] for s in self.mailctl_json("sessions", "smtp")], ["smtp"])
        text = self.server.mailctl("sessions").stdout.decode()
        self.assertIn("TRANSACTION", text)
        self.assertIn(ALICE, text)
        proc = self.server.mailctl("sessions", "nosuch", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"no service 'nosuch'", proc.stderr)

    def test_sessions_show_tls(self):
        raw = socket.create_connection((LOOPBACK, self.server.tls_ports["pop3"]), timeout=IO_TIMEOUT)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        tls = ctx.wrap_socket(raw)
        conn = RawConnection(0, sock=tls)
        self.addCleanup(conn.close)
        self.assertTrue(conn.readline().startswith(b"+OK"))
        rows = [s for s in self.mailctl_json("sessions", "pop3") if s["peer"] == "%s:%d" % tls.getsockname()]
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["tls"], tls.version())

    def test_kill_by_id_after_dele_loses_no_message(self):
        conn = self.logged_in()
        self.assertTrue(conn.command("DELE 1").startswith(b"+OK"))
        session = self.session_of(ALICE)
        result = self.mailctl_json("sessions", "kill", str(session["id"]))
        self.assertEqual(result, {"ok": True, "ids": [session["id"]], "sessions_ended": 1})
        self.assert_ended_keeping_mail(conn)

    def test_kill_by_mailbox_after_dele_loses_no_message(self):
        conn = self.logged_in()
        self.assertTrue(conn.command("DELE 2").startswith(b"+OK"))
        out = self.server.mailctl("sessions", "kill", "--mailbox", ALICE.upper()).stdout.decode()
        self.assertIn("ended 1 session", out)
        self.assert_ended_keeping_mail(conn)

    def test_kill_by_ip_ends_every_session_from_it(self):
        pop3 = RawConnection(self.server.ports["pop3"])
        self.addCleanup(pop3.close)
        self.assertTrue(pop3.readline().startswith(b"+OK"))
        smtp = smtp_connect(self.server.ports["smtp"])
        self.addCleanup(smtp.close)
        self.assertEqual(smtp.reply().code, 220)
        result = self.mailctl_json("sessions", "kill", "--ip", LOOPBACK)
        self.assertEqual(result["sessions_ended"], 2)
        self.assertTrue(pop3.readline().startswith(ENDED_POP3))
        self.assertEqual(smtp.reply().raw[0][:9], b"421 4.3.2")
        self.assertEqual(smtp.wait_closed(), b"")

    def test_kill_without_a_match_or_with_two_selectors(self):
        proc = self.server.mailctl("sessions", "kill", "999999", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"no session with id 999999", proc.stderr)
        proc = self.server.mailctl("sessions", "kill", "1", "--ip", LOOPBACK, check=False)
        self.assertEqual(proc.returncode, 2)

    # -- service start, stop, restart -------------------------------------------------------------

    def test_stop_and_start_while_the_other_service_serves(self):
        smtp_port = self.server.ports["smtp"]
        conn = self.logged_in()  # a pop3 session: untouched by stopping smtp
        self.addCleanup(conn.close)
        smtp = smtp_connect(smtp_port)
        self.addCleanup(smtp.close)
        self.assertEqual(smtp.reply().code, 220)
        self.assertEqual(smtp.cmd("EHLO client.test").code, 250)
        self.assertEqual(smtp.cmd("MAIL FROM:<a@b.test>").code, 250)
        self.assertEqual(smtp.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(smtp.cmd("DATA").code, 354)
        smtp.send(b"Subject: half\r\n\r\nnever finished\r\n")

        result = self.mailctl_json("service", "stop", "smtp")
        self.assertEqual(result, {"ok": True, "service": "smtp", "enabled": False, "sessions_ended": 1})
        self.assertEqual(smtp.reply().raw[0][:9], b"421 4.3.2")
        self.assertTrue(self.refused(smtp_port))
        self.assertFalse(self.stored_enabled("smtp"))  # stays stopped across daemon restarts
        self.assertTrue(conn.command("STAT").startswith(b"+OK 2 "))  # pop3 went on serving
        self.assertTrue(self.server.greeting(port=self.server.ports["pop3"]).startswith(b"+OK"))
        status = self.mailctl_json("service", "status", "smtp")
        self.assertIs(status["services"]["smtp"]["enabled"], False)
        self.assertEqual(status["services"]["smtp"]["listeners"], [])

        result = self.mailctl_json("service", "start", "smtp")
        self.assertIs(result["enabled"], True)
        self.assertEqual([(l["bind"], l["listening"]) for l in result["listeners"] if l["kind"] == "plain"],
                         [("%s:%d" % (LOOPBACK, smtp_port), True)])
        self.assertTrue(self.stored_enabled("smtp"))
        self.assertTrue(self.server.greeting(port=smtp_port).startswith(b"220"))
        self.assertTrue(conn.command("NOOP").startswith(b"+OK"))
        # The half-received message was dropped with its tmp file: only the two delivered ones.
        p = conn
        self.assertTrue(p.command("STAT").startswith(b"+OK 2 "))

    def test_a_stopped_service_stays_stopped_when_the_daemon_starts_again(self):
        self.server.mailctl("service", "stop", "smtp")
        self.server.stop()
        self.server._spawn()  # not start(): that waits for an smtp greeting too
        self.server.wait_greeting(self.server.banner)

        def smtp_status():
            proc = self.server.mailctl("service", "status", "smtp", "--json", check=False)
            return json.loads(proc.stdout)["services"]["smtp"] if proc.returncode == 0 else None
        smtp = self.wait_until(smtp_status, what="the control socket answers")
        self.assertEqual((smtp["enabled"], smtp["listeners"]), (False, []))
        self.assertTrue(self.refused(self.server.ports["smtp"]))

    def test_start_reports_a_failed_bind(self):
        self.server.mailctl("service", "stop", "smtp")
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((LOOPBACK, self.server.ports["smtp"]))
        holder.listen()
        self.addCleanup(holder.close)
        proc = self.server.mailctl("service", "start", "smtp", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"%s:%d" % (LOOPBACK.encode(), self.server.ports["smtp"]), proc.stderr)
        self.assertIn(b"address in use", proc.stderr)
        self.assertEqual(proc.stderr.count(b"\n"), 1)

    def test_restart_ends_sessions_and_listens_again(self):
        conn = self.logged_in()
        self.assertTrue(conn.command("DELE 1").startswith(b"+OK"))
        smtp = smtp_connect(self.server.ports["smtp"])
        self.addCleanup(smtp.close)
        self.assertEqual(smtp.reply().code, 220)
        out = self.server.mailctl("service", "restart", "pop3").stdout.decode()
        self.assertIn("restarted service pop3 (1 session ended): listening on %s:%d (plain)" % (
            LOOPBACK, self.server.ports["pop3"]), out)
        self.assert_ended_keeping_mail(conn)
        self.assertEqual(smtp.cmd("EHLO client.test").code, 250)  # smtp untouched
        proc = self.server.mailctl("service", "restart", "lmtp", check=False)  # stopped: nothing to restart
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"is stopped", proc.stderr)

    def test_reload(self):
        self.server.set("banner", "reloaded-" + self.server.banner, service="pop3")
        self.assertEqual(self.mailctl_json("reload"), {"ok": True})
        self.assertIn(b"reloaded-", self.server.greeting(port=self.server.ports["pop3"]))
        # Every reload is logged with what asked for it (stderr lines are written as they are made),
        # as `reason`, or in `also` when it was asked for while another reload ran.
        self.assertTrue([l for l in self.server.log_tail(200).splitlines()
                         if "event=daemon.reload " in l and "result=applied" in l and "control" in l],
                        self.server.log_tail(20))

    # -- the daemon down --------------------------------------------------------------------------

    def test_with_the_daemon_down(self):
        self.server.stop()
        self.assertFalse(os.path.exists(self.socket_path), "the socket is removed at shutdown")
        proc = self.server.mailctl("status", "--json", check=False)
        self.assertEqual(proc.returncode, EXIT_NOT_RUNNING)
        self.assertEqual(json.loads(proc.stdout), {"running": False})
        self.assertIn(b"mailroomd is not running", proc.stderr)
        for args in (("status",), ("service", "status"), ("sessions",), ("sessions", "kill", "1"), ("reload",),
                     ("service", "restart", "pop3")):
            proc = self.server.mailctl(*args, check=False)
            self.assertEqual(proc.returncode, EXIT_NOT_RUNNING, args)
            self.assertEqual(proc.stderr.count(b"\n"), 1, args)
        out = self.server.mailctl("service", "stop", "smtp").stdout.decode()
        self.assertIn("takes effect when it starts", out)
        self.assertFalse(self.stored_enabled("smtp"))
        self.assertEqual(self.mailctl_json("service", "start", "smtp"),
                         {"ok": True, "service": "smtp", "enabled": True, "running": False})
        self.assertTrue(self.stored_enabled("smtp"))


if __name__ == "__main__":
    unittest.main()
