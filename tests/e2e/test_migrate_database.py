# mailctl migrate-database (docs/postgresql.md, "Moving a single box to PostgreSQL (and back)"): a
# SQLite data directory moves to PostgreSQL and back; after each move the daemon, started with
# only --data, serves the same PLAIN and SCRAM logins and the same access rule and block, and a
# change made on PostgreSQL comes back to SQLite.
import json
import os
import shutil
import subprocess
import unittest

import harness
import postgres_support

PASSWORD = "Move-Secret-1"
DB_PASSWORD = "db-pw-91c2"  # in the URL; must never be shown


@unittest.skipUnless(postgres_support.available(), "PostgreSQL server binaries are not installed")
@unittest.skipUnless(shutil.which("mpop") and shutil.which("curl"), "mpop and curl are needed")
class MigrateDatabaseTest(postgres_support.ScratchPostgresClass, harness.ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.set("auth_mechanisms", "PLAIN SCRAM-SHA-256 SCRAM-SHA-1")
        server.set("failure_delay", 0)
        server.add_mailbox("alice@example.test", PASSWORD)
        server.add_mailbox("bob@example.test", PASSWORD)
        server.mailctl("postoffice", "set", "example.test", "quota_messages", "100")
        server.mailctl("mailbox", "set", "bob@example.test", "expire_days", "30")
        server.mailctl("daemon", "set", "password_min_length", "10")
        server.mailctl("access", "add", "pop3", "deny", "127.0.0.9", "--comment", "moved along")
        server.mailctl("block", "add", "127.0.0.10", "--service", "pop3", "--reason", "kept")

    def plain_login(self, user: str) -> int:
        """curl's exit code for AUTH PLAIN and a listing (0: logged in)."""
        return subprocess.run(
            ["curl", "-s", "--max-time", "20", "--login-options", "AUTH=PLAIN", "-u", "%s:%s" % (user, PASSWORD),
             "pop3://%s:%d/" % (harness.LOOPBACK, self.server.port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60).returncode

    def scram_login(self, user: str) -> subprocess.CompletedProcess:
        mbox = os.path.join(self.server.root, "mpop.mbox")
        open(mbox, "ab").close()
        return subprocess.run(
            ["mpop", "--host=" + harness.LOOPBACK, "--port=%d" % self.server.port, "--tls=off",
             "--auth=scram-sha-256", "--user=" + user, "--passwordeval=printf '%%s' '%s'" % PASSWORD,
             "--keep=on", "--only-new=off", "--delivery=mbox," + mbox, "--timeout=20", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, env={**os.environ, "HOME": self.server.root})

    def assert_serves_the_same(self, users):
        for user in users:
            self.assertEqual(self.plain_login(user), 0, user)
            scram = self.scram_login(user)
            self.assertEqual(scram.returncode, 0, scram.stderr)
        self.assertNotEqual(self.plain_login("nobody@example.test"), 0)
        self.assertEqual(harness.first_bytes("127.0.0.9", self.server.port), b"", "the deny rule holds")
        self.assertEqual(harness.first_bytes("127.0.0.10", self.server.port), b"", "the block holds")
        self.assertTrue(harness.first_bytes("127.0.0.11", self.server.port).startswith(b"+OK"))
        rules = json.loads(self.server.mailctl("access", "list", "pop3", "--json").stdout)
        self.assertIn("moved along", json.dumps(rules))
        shown = json.loads(self.server.mailctl("mailbox", "show", "bob@example.test", "--json").stdout)
        self.assertIn('"expire_days": "30"', json.dumps(shown))

    def migrate(self, *args, check=True):
        return self.server.mailctl("migrate-database", *args, check=check)

    def test_to_postgresql_and_back(self):
        url = self.pg.create_database(password=DB_PASSWORD)
        self.assert_serves_the_same(["alice@example.test", "bob@example.test"])
        running = self.migrate("--to", url, check=False)
        self.assertEqual(running.returncode, 1)
        self.assertIn(b"stop it first", running.stderr)
        self.server.stop()

        moved = self.migrate("--to", url, "--json")
        report = json.loads(moved.stdout)
        self.assertTrue(report["verified"])
        self.assertTrue(all(t["match"] and len(t["source_sha256"]) == 64 for t in report["tables"]))
        rows = {t["table"]: t["target_rows"] for t in report["tables"]}
        self.assertEqual((rows["mailboxes"], rows["access_rules"], rows["blocks"]), (2, 1, 1))
        self.assertNotIn(DB_PASSWORD.encode(), moved.stdout + moved.stderr)
        with open(os.path.join(self.server.data, "database.url")) as f:
            self.assertEqual(f.read().strip(), url)
        again = self.migrate("--to", url, check=False)  # this directory already uses it
        self.assertEqual(again.returncode, 1)

        self.server.start()
        self.assert_serves_the_same(["alice@example.test", "bob@example.test"])
        self.server.add_mailbox("carol@example.test", PASSWORD)  # made on PostgreSQL
        self.server.stop()

        # DATA/mailroom.db still holds the data from before the move: only --force replaces it.
        kept = self.migrate("--to", "sqlite", check=False)
        self.assertEqual(kept.returncode, 5, kept.stderr)
        self.assertIn(b"--force", kept.stderr)
        back = self.migrate("--to", "sqlite", "--force").stdout.decode()
        self.assertIn("restart mailroomd", back)
        self.assertFalse(os.path.exists(os.path.join(self.server.data, "database.url")))
        self.server.start()
        self.assert_serves_the_same(["alice@example.test", "bob@example.test", "carol@example.test"])


if __name__ == "__main__":
    unittest.main()
