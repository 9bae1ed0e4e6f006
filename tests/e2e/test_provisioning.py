"""Declarative provisioning and backup end to end (docs/provisioning.md): mailctl export / apply
against real data directories, and backup -> restore -> a daemon on the restored directory that a
POP3 client cannot tell apart from the original.
"""
import json
import os
import poplib
import pty
import select
import shutil
import subprocess
import tempfile
import unittest

from harness import LOOPBACK, IO_TIMEOUT, MAILCTL, Server, ServerTestCase, make_message, retr_bytes

# `openssl passwd -6 -salt mailroomsalt secret`
SHA512_HASH = ("$6$mailroomsalt$uGZpyORUB/n5eRsRP8RfxBGisJQ0WvHvySYFDe0TQVWCf"
               "v4JRuqKXDMdzTp0QKl9U2P2UJXTXT0aRWK4H1ZTV0")


def export(server):
    return json.loads(server.mailctl("export").stdout)


def apply(server, doc, *flags, check=True):
    """mailctl apply - (the file on stdin)."""
    text = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
    if isinstance(text, str):
        text = text.encode()
    return server.mailctl("apply", "-", *flags, input=text, check=check)


def maildir_paths(server):
    out = []
    for root, dirs, _ in os.walk(os.path.join(server.data, "mail")):
        out.extend(os.path.join(root, d) for d in dirs if d == "Maildir")
    return sorted(out)


class ExportApplyTest(unittest.TestCase):
    """No daemon: the file, the diff and the all-or-nothing write."""

    def setUp(self):
        self.server = Server("pop3")
        self.addCleanup(self.server.cleanup)
        s = self.server
        s.add_postoffice("example.test")
        s.add_mailbox("alice@example.test", "alice-pw")
        s.mailctl("mailbox", "add", "bob@example.test", "--password-hash", SHA512_HASH)
        s.set("apop", "on")
        s.set("port", 1110)
        s.mailctl("access", "add", "pop3", "deny", "10.0.0.0/8", "--comment", "lab")

    def test_export_then_apply_is_a_no_op(self):
        before = export(self.server)
        self.assertEqual(before["version"], 1)
        alice = [m for m in before["mailboxes"] if m["address"] == "alice@example.test"][0]
        self.assertTrue(alice["password_hash"].startswith("$argon2id$"))
        self.assertNotIn("maildir", alice)  # the default one
        pop3 = [s for s in before["services"] if s["service"] == "pop3"][0]
        self.assertIs(pop3["settings"]["apop"], True)  # typed by the setting's spec
        self.assertEqual(pop3["settings"]["port"], 1110)
        for flags in ((), ("--prune",)):
            p = apply(self.server, before, *flags)
            self.assertEqual(p.stdout, b"no changes\n")
            self.assertEqual(p.stderr, b"")
        out = json.loads(apply(self.server, before, "--json").stdout)
        self.assertEqual(out, {"ok": True, "dry_run": False, "prune": False, "changes": []})
        self.assertEqual(export(self.server), before)

    def test_dry_run_changes_nothing(self):
        before = export(self.server)
        doc = json.loads(json.dumps(before))
        doc["mailboxes"].append({"address": "carol@example.test", "password": "carol-pw"})
        doc["postoffices"].append({"postoffice": "new.test", "enabled": False})
        pop3 = [s for s in doc["services"] if s["service"] == "pop3"][0]
        pop3["settings"]["banner"] = "dry run banner"
        out = apply(self.server, doc, "--dry-run").stdout.decode()
        self.assertIn("+ mailbox carol@example.test\n", out)
        self.assertIn("+ postoffice new.test (disabled)\n", out)
        self.assertIn('"dry run banner"', out)
        self.assertIn("dry run: 3 changes, nothing was written", out)
        self.assertNotIn("carol-pw", out)
        changes = json.loads(apply(self.server, doc, "--dry-run", "--json").stdout)["changes"]
        self.assertIn({"action": "add", "object": "mailbox", "address": "carol@example.test", "enabled": True,
                       "maildir": os.path.join(self.server.data, "mail/example.test/carol/Maildir")}, changes)
        self.assertEqual(export(self.server), before)
        self.assertFalse(os.path.exists(os.path.join(self.server.data, "mail", "example.test", "carol")))

    def test_malformed_json_changes_nothing(self):
        before = export(self.server)
        p = apply(self.server, b'{"version": 1, "mailboxes": [', check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, b"")
        err = p.stderr.decode()
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("not valid JSON", err)
        self.assertIn("nothing was changed", err)
        self.assertEqual(export(self.server), before)

    def test_half_invalid_file_changes_nothing_and_names_the_path(self):
        before = export(self.server)
        dirs_before = maildir_paths(self.server)
        doc = json.loads(json.dumps(before))
        doc["mailboxes"] = doc["mailboxes"][:2]
        for i in range(20):
            doc["mailboxes"].append({"address": "user%d@example.test" % i, "password_hash": SHA512_HASH})
        doc["mailboxes"][12]["address"] = "user10@@example.test"  # one bad mailbox among good ones
        p = apply(self.server, doc, check=False)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertIn("mailboxes[12].address: ", err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertEqual(export(self.server), before)
        self.assertEqual(maildir_paths(self.server), dirs_before)
        # What only the database can refuse is refused whole too: a mailbox of a postoffice that
        # does not exist, after 19 good ones.
        doc["mailboxes"][12]["address"] = "user10@nowhere.test"
        p = apply(self.server, doc, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("mailboxes[12].address: postoffice nowhere.test", p.stderr.decode())
        self.assertEqual(export(self.server), before)
        self.assertEqual(maildir_paths(self.server), dirs_before)

    def test_a_port_used_twice_is_refused_whole_as_service_set_refuses_it(self):
        before = export(self.server)
        doc = json.loads(json.dumps(before))
        pop3 = [s for s in doc["services"] if s["service"] == "pop3"][0]
        smtp = [s for s in doc["services"] if s["service"] == "smtp"][0]
        smtp["enabled"] = True
        smtp["settings"]["port"] = 1110  # pop3's port, on the same addresses
        pop3["settings"]["banner"] = "changed with the conflict"
        p = apply(self.server, doc, check=False)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("1110", err)
        self.assertIn("nothing was changed", err)
        self.assertEqual(export(self.server), before)

    def test_prune_removes_only_with_the_flag(self):
        before = export(self.server)
        doc = json.loads(json.dumps(before))
        doc["mailboxes"] = [m for m in doc["mailboxes"] if m["address"] != "bob@example.test"]
        doc["access_rules"] = []
        self.assertEqual(apply(self.server, doc).stdout, b"no changes\n")
        out = apply(self.server, doc, "--prune").stdout.decode()
        self.assertIn("- access_rule pop3 deny 10.0.0.0/8\n", out)
        self.assertIn("- mailbox bob@example.test (its Maildir is kept: ", out)
        self.assertIn("applied 2 changes", out)
        after = export(self.server)
        self.assertEqual([m["address"] for m in after["mailboxes"]], ["alice@example.test"])
        self.assertEqual(after["access_rules"], [])
        # The Maildir stays on disk, as with 'mailbox remove' without --purge.
        self.assertTrue(os.path.isdir(os.path.join(self.server.data, "mail/example.test/bob/Maildir/cur")))

    def test_account_settings_export_apply_set_change_remove(self):
        s = self.server
        s.mailctl("mailbox", "set", "alice@example.test", "quota_bytes", "1048576")
        s.mailctl("postoffice", "set", "example.test", "expire_days", "30")
        before = export(s)
        self.assertEqual(before["postoffices"][0]["settings"], {"expire_days": "30"})
        by_address = {m["address"]: m for m in before["mailboxes"]}
        self.assertEqual(by_address["alice@example.test"]["settings"], {"quota_bytes": 1048576})
        self.assertEqual(by_address["bob@example.test"]["settings"], {})
        for flags in ((), ("--prune",)):
            self.assertEqual(apply(s, before, *flags).stdout, b"no changes\n")

        doc = json.loads(json.dumps(before))
        alice = [m for m in doc["mailboxes"] if m["address"] == "alice@example.test"][0]
        alice["settings"]["quota_bytes"] = 2097152
        doc["mailboxes"].append({"address": "carol@example.test", "password_hash": SHA512_HASH,
                                 "settings": {"quota_messages": 10, "login_delay": "60"}})
        out = apply(s, doc).stdout.decode()
        self.assertEqual(out, "~ mailbox alice@example.test quota_bytes 1048576 -> 2097152\n"
                              "+ mailbox carol@example.test\n"
                              "~ mailbox carol@example.test login_delay (unset) -> 60\n"
                              "~ mailbox carol@example.test quota_messages (unset) -> 10\n"
                              "applied 4 changes\n")
        carol = json.loads(s.mailctl("mailbox", "show", "carol@example.test", "--json").stdout)
        self.assertEqual(carol["settings"], {"login_delay": 60, "quota_messages": 10})
        self.assertEqual(carol["postoffice_settings"], {"expire_days": "30"})

        # Left out of the file: kept, unless --prune.
        alice["settings"] = {}
        self.assertEqual(apply(s, doc).stdout, b"no changes\n")
        changes = json.loads(apply(s, doc, "--prune", "--json").stdout)["changes"]
        self.assertEqual(changes, [{"action": "change", "object": "setting", "address": "alice@example.test",
                                    "key": "quota_bytes", "from": 2097152, "to": None}])
        show = json.loads(s.mailctl("mailbox", "show", "alice@example.test", "--json").stdout)
        self.assertEqual(show["settings"], {})

        # A bad value refuses the whole file, named by its path.
        before = export(s)
        doc = json.loads(json.dumps(before))
        doc["postoffices"][0]["settings"]["expire_days"] = "never"
        doc["mailboxes"][1]["settings"]["quota_bytes"] = -5
        p = apply(s, doc, check=False)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("mailboxes[1].settings.quota_bytes: ", err)
        self.assertIn("nothing was changed", err)
        self.assertEqual(export(s), before)

    def test_daemon_settings_export_apply_prune_and_the_two_that_never_travel(self):
        s = self.server
        s.mailctl("daemon", "set", "loops", "2")
        s.mailctl("daemon", "set", "smarthost_password", "hunter2-secret")
        s.mailctl("daemon", "set", "mail_root", os.path.join(s.data, "mail"))
        before = export(s)
        self.assertEqual(before["daemon_settings"], {"loops": 2})  # typed; no secret, no mail_root
        self.assertNotIn(b"hunter2", s.mailctl("export").stdout)
        for flags in ((), ("--prune",)):
            self.assertEqual(apply(s, before, *flags).stdout, b"no changes\n")

        doc = json.loads(json.dumps(before))
        doc["daemon_settings"] = {"metrics_listen": "127.0.0.1:9110", "rehash_on_login": False}
        out = apply(s, doc).stdout.decode()
        self.assertEqual(out, '~ daemon metrics_listen "off" -> "127.0.0.1:9110"\n'
                              "~ daemon rehash_on_login on -> off\napplied 2 changes\n")
        shown = {x["key"]: x for x in json.loads(s.mailctl("daemon", "show", "--json").stdout)["settings"]}
        self.assertEqual((shown["metrics_listen"]["value"], shown["rehash_on_login"]["value"], shown["loops"]["value"]),
                         ("127.0.0.1:9110", False, 2))
        changes = json.loads(apply(s, doc, "--prune", "--json").stdout)["changes"]
        self.assertEqual(changes, [{"action": "change", "object": "daemon_setting", "key": "loops", "from": 2, "to": 0}])
        shown = {x["key"]: x for x in json.loads(s.mailctl("daemon", "show", "--json").stdout)["settings"]}
        self.assertIs(shown["loops"]["set"], False)
        self.assertIs(shown["smarthost_password"]["set"], True)  # never pruned
        self.assertIs(shown["mail_root"]["set"], True)

        # A secret or mail_root in the file, or a bad value: refused whole, named by path.
        before = export(s)
        for extra, path in (({"smarthost_password": "x"}, "daemon_settings.smarthost_password: "),
                            ({"mail_root": "/elsewhere"}, "daemon_settings.mail_root: "),
                            ({"loops": "many"}, "daemon_settings.loops: ")):
            doc = json.loads(json.dumps(before))
            doc["daemon_settings"]["log_level"] = "debug"
            doc["daemon_settings"].update(extra)
            p = apply(s, doc, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(path, p.stderr.decode())
            self.assertEqual(export(s), before)

    def test_apply_file_argument_and_changes(self):
        doc = export(self.server)
        doc["mailboxes"][0]["enabled"] = False
        path = os.path.join(self.server.root, "provision.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        out = self.server.mailctl("apply", path).stdout.decode()
        self.assertEqual(out, "~ mailbox alice@example.test enabled true -> false\napplied 1 change\n")
        self.assertEqual(self.server.mailctl("apply", path).stdout, b"no changes\n")


class ApplyProgressTest(unittest.TestCase):
    """Plaintext passwords: a progress bar on stderr when it is a terminal, nothing otherwise."""

    def setUp(self):
        self.server = Server("pop3")
        self.addCleanup(self.server.cleanup)
        self.server.add_postoffice("example.test")

    def doc(self, first):
        return json.dumps({"version": 1, "postoffices": [{"postoffice": "example.test"}],
                           "mailboxes": [{"address": "user%d@example.test" % i, "password": "pw-%d" % i}
                                         for i in range(first, first + 3)]}).encode()

    def test_progress_bar_only_on_a_terminal(self):
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        try:
            proc = subprocess.run([MAILCTL, "--data", self.server.data, "apply", "-"], input=self.doc(0),
                                  stdout=subprocess.PIPE, stderr=slave, timeout=60)
        finally:
            os.close(slave)
        self.assertEqual(proc.returncode, 0)
        terminal = b""
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the other side is closed and drained
                break
            if not chunk:
                break
            terminal += chunk
        self.assertIn(b"hashing passwords 3/3 [" + b"#" * 30 + b"]", terminal)
        self.assertIn(b"applied 3 changes", proc.stdout)
        self.assertNotIn(b"hashing", proc.stdout)
        # stderr a pipe: no progress bar, nothing on stderr at all.
        p = self.server.mailctl("apply", "-", input=self.doc(3))
        self.assertEqual(p.stderr, b"")
        self.assertIn(b"applied 3 changes", p.stdout)
        # export carries the hashes apply made, never the plaintext it was given.
        text = self.server.mailctl("export").stdout
        self.assertNotIn(b'"password"', text)
        for i in range(6):
            self.assertNotIn(b"pw-%d" % i, text)
        hashes = [m["password_hash"] for m in json.loads(text)["mailboxes"]]
        self.assertEqual(len(hashes), 6)
        self.assertTrue(all(h.startswith("$argon2id$") for h in hashes), hashes)


class ApplyPlaintextLoginTest(ServerTestCase):
    def test_apply_with_plaintext_passwords_then_pop3_login(self):
        s = self.server
        doc = {"version": 1,
               "postoffices": [{"postoffice": "example.test"}],
               "mailboxes": [{"address": "user%d@example.test" % i, "password": "pw-%d" % i} for i in range(4)]}
        out = apply(s, doc).stdout.decode()
        self.assertIn("applied 5 changes", out)
        for i in range(4):
            self.assertTrue(os.path.isdir(os.path.join(s.data, "mail/example.test/user%d/Maildir/new" % i)))
        s.deliver("user2@example.test", make_message("hello", b"provisioned\n"))
        p = s.login("user2@example.test", "pw-2")
        try:
            self.assertEqual(p.stat()[0], 1)
        finally:
            p.quit()
        # The same plaintext again: verified against the stored hash, nothing changes.
        self.assertEqual(apply(s, doc).stdout, b"no changes\n")
        doc["mailboxes"][2]["password"] = "new-pw"
        self.assertEqual(apply(s, doc).stdout, b"~ mailbox user2@example.test password\napplied 1 change\n")
        p = s.login("user2@example.test", "new-pw")
        p.quit()
        with self.assertRaises(poplib.error_proto):
            s.login("user2@example.test", "pw-2")


class BackupRestoreTest(ServerTestCase):
    USERS = {"alice@example.test": "alice-pw", "bob@example.test": "bob-pw", "carol@other.test": "carol-pw"}

    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_postoffice("other.test")
        # APOP keeps each password encrypted with DATA/secrets.key: a restore without the key
        # could not log in with APOP.
        server.set("apop", "on")
        for address, password in self.USERS.items():
            server.add_mailbox(address, password)
        for n, address in enumerate(self.USERS):
            for k in range(3 + n):
                server.deliver(address, make_message("msg %d" % k, (b"line %d of %s\n" % (k, address.encode())) * (k + 1)))
        server.mailctl("mailbox", "set", "bob@example.test", "quota_messages", "500")

    def mailbox_view(self, server, address, password):
        """UIDL and every message's bytes, as a POP3 client sees them."""
        p = server.login(address, password)
        try:
            uidl = sorted(p.uidl()[1])
            messages = {}
            for line in uidl:
                num, uid = line.split()
                messages[uid] = retr_bytes(p.retr(int(num))[1])
            return uidl, messages
        finally:
            p.quit()

    def restore_and_serve(self, backup):
        """A second daemon on a data directory restored from `backup`."""
        other = Server("pop3")
        self.addCleanup(other.cleanup)
        shutil.rmtree(other.data)
        out = json.loads(other.mailctl("restore", backup, "--json").stdout)
        self.assertTrue(out["ok"])
        self.assertEqual(out["mailboxes_moved"], len(self.USERS))
        other._set_greeting("pop3")  # this daemon's own banner (the restored one is the first's)
        other.start()
        return other

    def test_backup_restore_round_trip_while_running(self):
        s = self.server
        original = {a: self.mailbox_view(s, a, pw) for a, pw in self.USERS.items()}
        backups = tempfile.mkdtemp(prefix="mailroom-backup-")
        self.addCleanup(shutil.rmtree, backups)
        for target in (os.path.join(backups, "full.tar"), os.path.join(backups, "tree")):
            out = json.loads(s.mailctl("backup", target, "--json").stdout)
            self.assertEqual(out["messages"], 3 + 4 + 5)
            self.assertEqual(out["mailboxes"], 3)
            self.assertIs(out["secrets_key"], True)
            self.assertEqual(out["tls_files"], len(os.listdir(os.path.join(s.data, "tls"))))
            other = self.restore_and_serve(target)
            for address, password in self.USERS.items():
                self.assertEqual(self.mailbox_view(other, address, password), original[address], target)
                with self.assertRaises(poplib.error_proto):
                    other.login(address, "wrong-" + password)
                p = other.pop3()
                try:
                    self.assertTrue(p.apop(address, password).startswith(b"+OK"), target)
                finally:
                    p.quit()
            # The same secrets key and certificate: a client that pinned the certificate sees no change.
            for name in ("secrets.key", "tls/cert.pem", "tls/key.pem"):
                with open(os.path.join(s.data, name), "rb") as a, open(os.path.join(other.data, name), "rb") as b:
                    self.assertEqual(a.read(), b.read(), (target, name))
            # The restored database names Maildirs under its own data directory.
            show = json.loads(other.mailctl("mailbox", "show", "alice@example.test", "--json").stdout)
            self.assertTrue(show["maildir"].startswith(other.data + "/"), show["maildir"])
            # Account settings are in the database, so they come along.
            show = json.loads(other.mailctl("mailbox", "show", "bob@example.test", "--json").stdout)
            self.assertEqual(show["settings"], {"quota_messages": 500}, target)
            other.stop()
        # Modes are kept: the database and the key stay private.
        tree = os.path.join(backups, "tree")
        self.assertEqual(os.stat(os.path.join(tree, "mailroom.db")).st_mode & 0o777, 0o600)

    def test_restore_refuses_a_running_daemons_directory_and_a_non_empty_one(self):
        s = self.server
        backups = tempfile.mkdtemp(prefix="mailroom-backup-")
        self.addCleanup(shutil.rmtree, backups)
        target = os.path.join(backups, "b.tar")
        s.mailctl("backup", target)
        p = s.mailctl("restore", target, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("is not empty", p.stderr.decode())
        p = s.mailctl("restore", target, "--force", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("a running mailroomd uses", p.stderr.decode())
        # The daemon goes on serving.
        p = s.login("alice@example.test", "alice-pw")
        p.quit()


if __name__ == "__main__":
    unittest.main()
