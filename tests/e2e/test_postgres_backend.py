# Accounts on PostgreSQL (docs/postgresql.md): `mailctl init --database URL` records the URL, later
# commands and mailroomd need only --data; a node with another secrets key is refused; an outage
# answers logins -ERR [SYS/TEMP] (also under load) and logins succeed again on their own after it. Two nodes on
# one database: a mailbox has one POP3 session across them (-ERR [IN-USE] on the other node), freed
# at QUIT, and within cluster_lease_seconds after its node is killed. `mailctl status` shows the
# change feed and the leases, and the outage in them; so do the metrics.
import json
import os
import poplib
import re
import signal
import stat
import subprocess
import threading
import time
import unittest
import urllib.request

import harness
import postgres_support

PASSWORD = "Pg-Secret-1"
LEASE_SECONDS = 5  # cluster_lease_seconds in the two-node test (its lower bound)
DB_PASSWORD = "db-pw-7f3a"  # in the URL; must never be shown


@unittest.skipUnless(postgres_support.available(), "PostgreSQL server binaries are not installed")
class PostgresBackendTest(postgres_support.ScratchPostgresClass, harness.ServerTestCase):
    def database_url(self):
        # Only `init` (inside Server()) sees the URL; everything after it has just --data.
        self.url = self.pg.create_database(password=DB_PASSWORD)
        return self.url

    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox("alice@example.test", PASSWORD)
        server.add_mailbox("bob@example.test", PASSWORD)

    def login_reply(self, user: str = "alice@example.test") -> bytes:
        """The reply to PASS (or the error that ended the login)."""
        p = self.server.pop3()
        try:
            p.user(user)
            return p.pass_(PASSWORD)
        except poplib.error_proto as e:
            return e.args[0] if isinstance(e.args[0], bytes) else str(e.args[0]).encode()
        finally:
            p.close()

    def test_url_recorded_privately_and_login_through_the_daemon(self):
        path = os.path.join(self.server.data, "database.url")
        with open(path) as f:
            self.assertEqual(f.read().strip(), self.url)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertFalse(os.path.exists(os.path.join(self.server.data, "mailroom.db")))
        listed = self.server.mailctl("mailbox", "list").stdout.decode()
        self.assertIn("alice@example.test", listed)
        self.assertTrue(self.login_reply().startswith(b"+OK"))
        # The URL's password shows nowhere: not in init's answer, not in the daemon's log.
        again = self.server.mailctl("init").stdout.decode()
        self.assertIn("postgres:***@", again)
        self.assertNotIn(DB_PASSWORD, again)
        with open(self.server.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        self.assertIn("postgres:***@", log)
        self.assertNotIn(DB_PASSWORD, log)
        # A data directory on SQLite is not switched over (nothing would move its accounts).
        sqlite_dir = os.path.join(self.server.root, "sqlite-node")
        for args, code in ((["init"], 0), (["init", "--database", self.url], 1)):
            run = harness.subprocess.run([harness.MAILCTL, "--data", sqlite_dir] + args, stdout=harness.subprocess.PIPE,
                                         stderr=harness.subprocess.PIPE, timeout=60)
            self.assertEqual(run.returncode, code, run.stderr)
        self.assertIn(b"already keeps its accounts in SQLite", run.stderr)
        self.assertNotIn(DB_PASSWORD.encode(), run.stderr)
        # backup copies SQLite files: on PostgreSQL it points to pg_dump instead.
        refused = self.server.mailctl("backup", os.path.join(self.server.root, "b.tar"), check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn(b"pg_dump", refused.stderr)

    def scrape(self, port: int) -> str:
        """GET /metrics as Prometheus 0.0.4 text."""
        url = "http://%s:%d/metrics" % (harness.LOOPBACK, port)
        with urllib.request.urlopen(url, timeout=harness.IO_TIMEOUT) as response:
            return response.read().decode()

    def database_status(self) -> dict:
        """The status report's "database" object (mailctl status --json: the control socket)."""
        return json.loads(self.server.mailctl("status", "--json").stdout)["database"]

    def test_outage_answers_sys_temp_and_the_next_login_after_it_works(self):
        # With the shortest lease the keeper renews every second (a reload gives it the TTL).
        metrics_port = harness.free_port()
        self.server.mailctl("daemon", "set", "cluster_lease_seconds", str(LEASE_SECONDS))
        self.server.mailctl("daemon", "set", "metrics_listen", "%s:%d" % (harness.LOOPBACK, metrics_port))
        self.wait_until(lambda: self.database_status()["leases"]["ttl_seconds"] == LEASE_SECONDS,
                        what="the daemon applies cluster_lease_seconds")
        self.assertTrue(self.login_reply().startswith(b"+OK"))
        held = self.server.login("bob@example.test", PASSWORD)  # holds its lease through the outage
        self.addCleanup(held.close)
        db = self.database_status()
        self.assertEqual(db["kind"], "postgresql")
        self.assertEqual(db["change_feed"], {"listening": True})
        self.assertEqual(db["leases"]["held"], 1)
        self.assertTrue(db["leases"]["node"])
        failures_before = db["leases"]["renewal_failures"]
        self.assertIn(", change feed listening, 1 mailbox lease held by node %s (ttl %d s)\n"
                      % (db["leases"]["node"], LEASE_SECONDS), self.server.mailctl("status").stdout.decode())
        self.pg.stop()
        try:
            reply = self.login_reply()
            self.assertTrue(reply.startswith(b"-ERR [SYS/TEMP]"), reply)
            # The admin sees the outage: the feed reconnecting, renewal rounds failing.
            self.wait_until(lambda: self.database_status()["change_feed"]["listening"] is False, timeout=5,
                            what="status shows the change feed down")
            self.wait_until(lambda: self.database_status()["leases"]["renewal_failures"] > failures_before,
                            timeout=5, what="status counts a failed lease renewal")
            self.assertIn("change feed NOT listening (reconnecting)", self.server.mailctl("status").stdout.decode())
            # The metrics say the same (the endpoint needs no database).
            scraped = self.wait_until(lambda: self.scrape(metrics_port), what="the metrics endpoint answers")
            self.assertEqual(harness.undocumented_metrics(scraped), [])
            self.assertIn("\nmailroom_change_feed_listening 0\n", scraped)
            self.assertIn("\nmailroom_mailbox_leases_held 1\n", scraped)
            failures = re.search(r"\nmailroom_lease_renewal_failures_total (\d+)\n", scraped)
            self.assertTrue(failures, scraped)
            self.assertGreater(int(failures.group(1)), failures_before)
        finally:
            self.pg.start()
        self.wait_until(lambda: self.database_status()["change_feed"]["listening"] is True, timeout=5,
                        what="the change feed listens again")
        reply = self.login_reply()
        self.assertTrue(reply.startswith(b"+OK"), reply)

    def test_outage_under_load_is_sys_temp_only_and_recovers_by_itself(self):
        # Four clients log in over and over while PostgreSQL stops for two seconds and starts
        # again: every answer is +OK or -ERR [SYS/TEMP], and logins succeed again on their own.
        users = ["load%d@example.test" % i for i in range(4)]
        for user in users:
            self.server.add_mailbox(user, PASSWORD)
        replies = []  # (monotonic time, user, first bytes of the answer)
        lock = threading.Lock()
        stop = threading.Event()

        def client(user):
            while not stop.is_set():
                try:
                    reply = self.login_reply(user)
                except (OSError, EOFError) as e:  # never expected: recorded, so the test says so
                    reply = repr(e).encode()
                with lock:
                    replies.append((time.monotonic(), user, reply[:40]))
                time.sleep(0.02)

        threads = [threading.Thread(target=client, args=(u,), daemon=True) for u in users]
        for t in threads:
            t.start()
        try:
            self.wait_until(lambda: len(replies) >= 20, timeout=30, what="logins under load")
            self.pg.stop()
            down = time.monotonic()
            time.sleep(2)
            starting = time.monotonic()  # the server may take logins before pg_ctl returns
            self.pg.start()
            up = time.monotonic()

            def every_user_back():
                with lock:
                    return {u for t, u, r in replies if t > up and r.startswith(b"+OK")} == set(users)
            self.wait_until(every_user_back, timeout=20, what="every client logged in again after the restart")
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
        with lock:
            answers = list(replies)
        odd = [r for _, _, r in answers if not (r.startswith(b"+OK") or r.startswith(b"-ERR [SYS/TEMP]"))]
        self.assertEqual(odd, [])
        during = [r for t, _, r in answers if down + 0.5 < t < starting]
        self.assertTrue(during)
        self.assertEqual([r for r in during if not r.startswith(b"-ERR [SYS/TEMP]")], [])
        self.assertTrue(self.server.running())

    def test_a_node_with_another_secrets_key_is_refused(self):
        # A second node: its own data directory on the same database.
        node2 = os.path.join(self.server.root, "node2")
        init = harness.subprocess.run([harness.MAILCTL, "--data", node2, "init", "--database", self.url],
                                      stdout=harness.subprocess.PIPE, stderr=harness.subprocess.PIPE, timeout=60)
        self.assertNotEqual(init.returncode, 0)
        self.assertIn(b"copy secrets.key from a node of this cluster", init.stderr)
        # With the cluster's key it joins, and sees the first node's mailboxes.
        with open(os.path.join(self.server.data, "secrets.key"), "rb") as f:
            key = f.read()
        fd = os.open(os.path.join(node2, "secrets.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        init = harness.subprocess.run([harness.MAILCTL, "--data", node2, "init", "--database", self.url],
                                      stdout=harness.subprocess.PIPE, stderr=harness.subprocess.PIPE, timeout=60)
        self.assertEqual(init.returncode, 0, init.stderr)
        listed = harness.subprocess.run([harness.MAILCTL, "--data", node2, "mailbox", "list"],
                                        stdout=harness.subprocess.PIPE, stderr=harness.subprocess.PIPE, timeout=60)
        self.assertIn(b"alice@example.test", listed.stdout)
        # A daemon on a data directory whose key changed since is refused with the same sentence.
        fd = os.open(os.path.join(node2, "secrets.key"), os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
        daemon = harness.subprocess.run([harness.MAILROOMD, "--data", node2] + harness.ROOT_KEEPS_ROOT,
                                        stdout=harness.subprocess.PIPE, stderr=harness.subprocess.PIPE, timeout=30)
        self.assertNotEqual(daemon.returncode, 0)
        self.assertIn(b"copy secrets.key from a node of this cluster", daemon.stderr)

    def start_second_node(self) -> (subprocess.Popen, int):
        """A second mailroomd on the same database: its own data directory (the cluster's secrets
        key copied, `init --database URL`) and its own pop3 port (a node-local setting)."""
        node2 = os.path.join(self.server.root, "node2")
        os.mkdir(node2, 0o700)
        with open(os.path.join(self.server.data, "secrets.key"), "rb") as f:
            key = f.read()
        fd = os.open(os.path.join(node2, "secrets.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)

        def mailctl(*args):
            run = subprocess.run([harness.MAILCTL, "--data", node2] + list(args), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(run.returncode, 0, run.stderr)

        mailctl("init", "--database", self.url)
        port = harness.free_port()
        while port in (self.server.port, self.server.tls_port):
            port = harness.free_port()
        mailctl("service", "set", "--local", "pop3", "port", str(port))
        tls_port = harness.free_port()
        while tls_port in (port, self.server.port, self.server.tls_port):
            tls_port = harness.free_port()
        mailctl("service", "set", "--local", "pop3", "tls_port", str(tls_port))
        log = open(os.path.join(self.server.root, "node2.log"), "ab")
        try:
            proc = subprocess.Popen([harness.MAILROOMD, "--data", node2] + harness.ROOT_KEEPS_ROOT,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        finally:
            log.close()
        self.addCleanup(harness.stop_process, proc)
        self.server.wait_greeting(self.server.banner, port=port)
        return proc, port

    def login_at(self, port: int):
        """(reply to PASS, the logged-in client or None)."""
        p = poplib.POP3(harness.LOOPBACK, port, timeout=harness.IO_TIMEOUT)
        try:
            p.user("alice@example.test")
            return p.pass_(PASSWORD), p
        except poplib.error_proto as e:
            p.close()
            return (e.args[0] if isinstance(e.args[0], bytes) else str(e.args[0]).encode()), None

    def login_when_free(self, port: int, timeout: float):
        """Retries a login refused [IN-USE] until `timeout`; (seconds it took, the client)."""
        started = time.monotonic()
        while True:
            reply, client = self.login_at(port)
            if client is not None:
                return time.monotonic() - started, client
            self.assertIn(b"[IN-USE]", reply)
            if time.monotonic() - started > timeout:
                self.fail("still %r after %.1f s" % (reply, timeout))
            time.sleep(0.2)

    def test_one_session_per_mailbox_across_two_nodes(self):
        self.server.mailctl("daemon", "set", "cluster_lease_seconds", str(LEASE_SECONDS))
        self.server.stop()
        self.server.start()  # the setting applies at start (or at a reload)
        _, port2 = self.start_second_node()
        node1 = self.server.login("alice@example.test", PASSWORD)
        reply, client = self.login_at(port2)
        self.assertIsNone(client)
        self.assertTrue(reply.startswith(b"-ERR [IN-USE]"), reply)
        node1.quit()
        # The row goes just after the session (off the loop): a moment, not a lease period.
        took, node2 = self.login_when_free(port2, 2.0)
        self.assertLess(took, 2.0)
        node2.quit()
        # Node 1 holds the mailbox and dies: node 2 gets it when the lease runs out, not before.
        held = self.server.login("alice@example.test", PASSWORD, in_use_wait=2.0)  # kept open until the kill
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait(timeout=10)
        self.server.proc = None  # killed on purpose
        reply, client = self.login_at(port2)
        self.assertIsNone(client)
        self.assertTrue(reply.startswith(b"-ERR [IN-USE]"), reply)
        took, node2 = self.login_when_free(port2, LEASE_SECONDS + 3)
        self.assertLessEqual(took, LEASE_SECONDS + 3)
        node2.quit()
        held.close()


if __name__ == "__main__":
    unittest.main()
