# Accounts on PostgreSQL (docs/postgresql.md): `mailctl init --database URL` records the URL, later
# commands and mailroomd need only --data; a node with another secrets key is refused; an outage
# answers logins -ERR [SYS/TEMP] and the next login after the server is back succeeds.
import os
import poplib
import stat
import unittest

import harness
import postgres_support

PASSWORD = "Pg-Secret-1"
DB_PASSWORD = "db-pw-7f3a"  # in the URL; must never be shown


@unittest.skipUnless(postgres_support.available(), "PostgreSQL server binaries are not installed")
class PostgresBackendTest(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = postgres_support.ScratchPostgres()

    @classmethod
    def tearDownClass(cls):
        cls.pg.remove()

    def setUp(self):
        self.url = self.pg.create_database(password=DB_PASSWORD)
        # Only `init` (inside Server()) sees the URL; everything after it has just --data.
        os.environ["MAILROOM_DATABASE"] = self.url
        try:
            super().setUp()
        finally:
            os.environ.pop("MAILROOM_DATABASE", None)

    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox("alice@example.test", PASSWORD)

    def login_reply(self) -> bytes:
        """The reply to PASS (or the error that ended the login)."""
        p = self.server.pop3()
        try:
            p.user("alice@example.test")
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

    def test_outage_answers_sys_temp_and_the_next_login_after_it_works(self):
        self.assertTrue(self.login_reply().startswith(b"+OK"))
        self.pg.stop()
        try:
            reply = self.login_reply()
            self.assertTrue(reply.startswith(b"-ERR [SYS/TEMP]"), reply)
        finally:
            self.pg.start()
        reply = self.login_reply()
        self.assertTrue(reply.startswith(b"+OK"), reply)

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


if __name__ == "__main__":
    unittest.main()
