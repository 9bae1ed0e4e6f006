"""mailctl end to end: runs the real binary (env MAILCTL) against temporary data directories.

Self-contained (no daemon): checks the admin contract in docs/mailctl.md - output, JSON shapes,
exit codes, one-line errors, and that a failed command leaves nothing half written.
"""
import json
import os
import pathlib
import subprocess
import tempfile
import unittest

HERE = pathlib.Path(__file__).resolve().parent


def find_mailctl():
    env = os.environ.get("MAILCTL")
    if env:
        return os.path.abspath(env)  # some tests run it from another directory
    for build in sorted(HERE.parent.parent.glob("build*")):
        candidate = build / "mailctl"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RuntimeError("set MAILCTL to the mailctl binary")


MAILCTL = find_mailctl()

# `openssl passwd -6 -salt mailroomsalt secret`
SHA512_HASH = ("{SHA512-CRYPT}$6$mailroomsalt$uGZpyORUB/n5eRsRP8RfxBGisJQ0WvHvySYFDe0TQVWCf"
               "v4JRuqKXDMdzTp0QKl9U2P2UJXTXT0aRWK4H1ZTV0")


class MailctlTestCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mailctl-test-")
        self.addCleanup(self._tmp.cleanup)
        self.root = pathlib.Path(self._tmp.name)
        self.data = self.root / "data"

    # ---- helpers ----
    def run_mailctl(self, *args, stdin=b"", data=True, env=None):
        argv = [MAILCTL]
        if data:
            argv += ["--data", str(self.data)]
        argv += list(args)
        full_env = {k: v for k, v in os.environ.items() if k != "MAILROOM_DATA"}
        full_env.update(env or {})
        if isinstance(stdin, str):
            stdin = stdin.encode()
        return subprocess.run(argv, input=stdin, capture_output=True, env=full_env, timeout=60)

    def ok(self, *args, **kw):
        p = self.run_mailctl(*args, **kw)
        self.assertEqual(p.returncode, 0, f"mailctl {' '.join(args)} failed: {p.stderr.decode()}")
        self.assertEqual(p.stderr, b"", "a successful command prints nothing on stderr")
        return p.stdout.decode()

    def setting(self, key):
        """One setting of the pop3 service as `service show --json` reports it."""
        shown = self.ok_json("service", "show", "pop3")
        return next(s for s in shown["settings"] if s["key"] == key)

    def ok_json(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw))

    def fails(self, *args, code=1, **kw):
        """Runs mailctl and expects it to fail (not unittest's fail(), which assertions call)."""
        p = self.run_mailctl(*args, **kw)
        err = p.stderr.decode()
        self.assertEqual(p.returncode, code, f"mailctl {' '.join(args)}: rc={p.returncode} stderr={err!r}")
        self.assertTrue(err.startswith("mailctl: "), f"error must start with 'mailctl: ': {err!r}")
        self.assertTrue(err.endswith("\n") and err.count("\n") == 1, f"error must be one line: {err!r}")
        return err

    def init(self):
        self.ok("init")

    def add_postoffice(self, name="example.test"):
        self.ok("postoffice", "add", name)

    def add_mailbox(self, address="alice@example.test", password="pw-alice-1"):
        return self.ok("mailbox", "add", address, "--password", password)

    def maildir(self, address):
        mailbox, postoffice = address.split("@")
        return self.data / "mail" / postoffice / mailbox / "Maildir"


class InitTest(MailctlTestCase):
    def test_init_creates_data_dir_and_is_idempotent(self):
        out = self.ok("init")
        self.assertIn("initialised", out)
        self.assertNotIn("already", out)
        self.assertTrue((self.data / "mail").is_dir())
        out = self.ok("init")
        self.assertIn("already initialised", out)
        services = self.ok_json("service", "list")
        self.assertEqual(sorted(s["service"] for s in services), ["lmtp", "pop3", "poppassd", "smtp"])
        self.assertEqual({s["service"]: s["module"] for s in services},
                         {"lmtp": "lmtp", "pop3": "pop3", "poppassd": "poppassd", "smtp": "smtp"})
        # poppassd exists but is off until the admin enables it (remote password changes are opt-in).
        self.assertEqual({s["service"]: s["enabled"] for s in services}["poppassd"], False)

    def test_init_json_reports_state(self):
        first = self.ok_json("init")
        self.assertEqual(first["ok"], True)
        self.assertEqual(first["already_initialised"], False)
        self.assertEqual(first["created_services"], ["pop3", "smtp", "lmtp", "poppassd"])
        second = self.ok_json("init")
        self.assertEqual(second["already_initialised"], True)
        self.assertEqual(second["created_services"], [])

    def test_command_without_init_says_to_run_init(self):
        err = self.fails("postoffice", "list")
        self.assertIn("init", err)
        self.assertFalse(self.data.exists(), "a failed command must not create the data dir")

    def test_no_data_dir_at_all_is_a_usage_error(self):
        err = self.fails("postoffice", "list", data=False, code=2)
        self.assertIn("MAILROOM_DATA", err)

    def test_mailroom_data_env_replaces_data_option(self):
        env = {"MAILROOM_DATA": str(self.data)}
        self.ok("init", data=False, env=env)
        self.ok("postoffice", "add", "env.test", data=False, env=env)
        names = [p["postoffice"] for p in self.ok_json("postoffice", "list", data=False, env=env)]
        self.assertEqual(names, ["env.test"])

    def test_data_option_wins_over_env(self):
        self.init()
        self.add_postoffice()
        env = {"MAILROOM_DATA": str(self.root / "elsewhere")}
        names = [p["postoffice"] for p in self.ok_json("postoffice", "list", env=env)]
        self.assertEqual(names, ["example.test"])

    def test_help_exits_zero(self):
        p = self.run_mailctl("--help", data=False)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"mailbox", p.stdout)

    def test_unknown_command_is_usage_error(self):
        self.fails("frobnicate", code=2)
        self.fails("mailbox", code=2)


class PostofficeTest(MailctlTestCase):
    def setUp(self):
        super().setUp()
        self.init()

    def test_add_list_show_remove(self):
        out = self.ok("postoffice", "add", "Example.TEST")
        self.assertEqual(out.strip(), "created postoffice example.test")
        self.assertIn("example.test", self.ok("postoffice", "list"))
        listed = self.ok_json("postoffice", "list")
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0]["postoffice"], "example.test")
        self.assertEqual(listed[0]["mailbox_count"], 0)
        self.assertIs(listed[0]["enabled"], True)
        shown = self.ok_json("postoffice", "show", "example.test")
        self.assertEqual(shown["postoffice"], "example.test")
        self.assertRegex(shown["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        result = self.ok_json("postoffice", "remove", "example.test")
        self.assertEqual(result["ok"], True)
        self.assertEqual(self.ok_json("postoffice", "list"), [])
        self.fails("postoffice", "show", "example.test", code=4)

    def test_global_options_after_subcommand(self):
        self.add_postoffice()
        p = subprocess.run([MAILCTL, "postoffice", "list", "--json", "--data", str(self.data)],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)[0]["postoffice"], "example.test")

    def test_duplicate_postoffice_fails(self):
        self.add_postoffice()
        err = self.fails("postoffice", "add", "example.test", code=5)
        self.assertIn("example.test", err)
        self.assertEqual(len(self.ok_json("postoffice", "list")), 1)

    def test_bad_postoffice_name_fails(self):
        for bad in ["bad_name!", "lead-.test", "a..b", ""]:
            self.fails("postoffice", "add", bad)
        self.assertEqual(self.ok_json("postoffice", "list"), [])

    def test_remove_with_mailboxes_needs_force_and_keeps_maildirs(self):
        self.add_postoffice()
        self.add_mailbox()
        err = self.fails("postoffice", "remove", "example.test")
        self.assertIn("--force", err)
        self.assertEqual(len(self.ok_json("mailbox", "list")), 1)
        out = self.ok("postoffice", "remove", "--force", "example.test")
        self.assertIn("kept", out)
        self.assertEqual(self.ok_json("mailbox", "list"), [])
        self.assertTrue(self.maildir("alice@example.test").is_dir())

    def test_remove_unknown_postoffice_fails(self):
        self.fails("postoffice", "remove", "nowhere.test", code=4)


class MailboxTest(MailctlTestCase):
    def setUp(self):
        super().setUp()
        self.init()
        self.add_postoffice()

    def test_add_creates_record_and_maildir(self):
        out = self.add_mailbox("Alice@Example.test", "pw-alice-1")
        self.assertEqual(out.strip(), "created mailbox alice@example.test")
        self.assertNotIn("pw-alice-1", out)
        shown = self.ok_json("mailbox", "show", "alice@example.test")
        maildir = self.maildir("alice@example.test")
        self.assertEqual(shown["address"], "alice@example.test")
        self.assertEqual(shown["maildir"], str(maildir))
        self.assertIs(shown["enabled"], True)
        self.assertEqual(shown["messages"], 0)
        self.assertNotIn("pw-alice-1", json.dumps(shown))
        for sub in ("cur", "new", "tmp"):
            self.assertTrue((maildir / sub).is_dir())

    def test_add_to_unknown_postoffice_fails_and_creates_nothing(self):
        err = self.fails("mailbox", "add", "bob@nowhere.test", "--password", "x1", code=4)
        self.assertIn("nowhere.test", err)
        self.assertFalse((self.data / "mail" / "nowhere.test").exists())

    def test_duplicate_mailbox_fails_and_leaves_existing_unchanged(self):
        self.add_mailbox("alice@example.test", "pw-alice-1")
        self.ok("deliver", "alice@example.test", stdin=b"Subject: keep me\n\nbody\n")
        before = self.ok_json("mailbox", "show", "alice@example.test")
        files_before = sorted(os.listdir(self.maildir("alice@example.test") / "new"))
        err = self.fails("mailbox", "add", "alice@example.test", "--password", "pw-other-2", code=5)
        self.assertIn("already exists", err)
        self.fails("mailbox", "add", "alice@example.test", "--password-hash", SHA512_HASH, code=5)
        after = self.ok_json("mailbox", "show", "alice@example.test")
        self.assertEqual(before, after)
        self.assertEqual(files_before, sorted(os.listdir(self.maildir("alice@example.test") / "new")))
        self.assertEqual(len(files_before), 1)

    def test_malformed_addresses_fail(self):
        for bad in ["alice", "alice@", "@example.test", "a@b@example.test", "al ice@example.test",
                    "alice#example.test"]:
            self.fails("mailbox", "add", bad, "--password", "x1")
        self.assertEqual(self.ok_json("mailbox", "list"), [])

    def test_password_stdin(self):
        p = self.run_mailctl("mailbox", "add", "carol@example.test", "--password-stdin",
                             stdin=b"s3cret-from-stdin\r\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(b"s3cret", p.stdout + p.stderr)
        self.assertEqual(self.ok_json("mailbox", "show", "carol@example.test")["address"],
                         "carol@example.test")
        self.fails("mailbox", "add", "dave@example.test", "--password-stdin", stdin=b"")
        self.fails("mailbox", "add", "dave@example.test", "--password-stdin", stdin=b"\r\n")
        self.fails("mailbox", "show", "dave@example.test", code=4)

    def test_password_hash_valid_and_invalid(self):
        self.ok("mailbox", "add", "erin@example.test", "--password-hash", SHA512_HASH)
        scheme = self.ok_json("mailbox", "show", "erin@example.test")["password_scheme"]
        self.assertIn("sha512", scheme.lower())
        self.fails("mailbox", "add", "frank@example.test", "--password-hash", "{SHA512-CRYPT}not-a-hash")
        self.fails("mailbox", "show", "frank@example.test", code=4)
        self.assertFalse(self.maildir("frank@example.test").exists(),
                         "the maildir created for a failed add is removed")
        self.assertFalse(self.maildir("frank@example.test").parent.exists())

    def test_password_option_is_required_and_exclusive(self):
        err = self.fails("mailbox", "add", "gina@example.test", code=2)
        self.assertIn("--password", err)
        self.fails("mailbox", "add", "gina@example.test", "--password", "a1", "--password-hash",
                  SHA512_HASH, code=2)
        self.fails("mailbox", "show", "gina@example.test", code=4)
        self.assertFalse(self.maildir("gina@example.test").exists())

    def test_passwd_changes_scheme_and_does_not_echo(self):
        self.add_mailbox("alice@example.test", "pw-alice-1")
        before = self.ok_json("mailbox", "show", "alice@example.test")["password_scheme"]
        out = self.ok("mailbox", "passwd", "alice@example.test", "--password-hash", SHA512_HASH)
        self.assertNotIn("mailroomsalt", out)
        after = self.ok_json("mailbox", "show", "alice@example.test")["password_scheme"]
        self.assertNotEqual(before, after)
        self.assertIn("sha512", after.lower())
        out = self.ok("mailbox", "passwd", "alice@example.test", "--password-stdin", stdin="new-pw-9\n")
        self.assertNotIn("new-pw-9", out)
        self.assertEqual(self.ok_json("mailbox", "show", "alice@example.test")["password_scheme"], before)
        self.fails("mailbox", "passwd", "alice@example.test", code=2)
        self.fails("mailbox", "passwd", "nobody@example.test", "--password", "x1", code=4)

    def test_enable_disable_reflected_in_show(self):
        self.add_mailbox()
        self.ok("mailbox", "disable", "alice@example.test")
        self.assertIs(self.ok_json("mailbox", "show", "alice@example.test")["enabled"], False)
        self.assertIn("disabled", self.ok("mailbox", "show", "alice@example.test"))
        self.ok("mailbox", "enable", "alice@example.test")
        self.assertIs(self.ok_json("mailbox", "show", "alice@example.test")["enabled"], True)
        self.fails("mailbox", "disable", "nobody@example.test", code=4)

    def test_list_filters_by_postoffice(self):
        self.add_postoffice("other.test")
        self.add_mailbox("alice@example.test")
        self.add_mailbox("bob@example.test")
        self.add_mailbox("carl@other.test")
        everyone = sorted(m["address"] for m in self.ok_json("mailbox", "list"))
        self.assertEqual(everyone, ["alice@example.test", "bob@example.test", "carl@other.test"])
        other = [m["address"] for m in self.ok_json("mailbox", "list", "other.test")]
        self.assertEqual(other, ["carl@other.test"])
        table = self.ok("mailbox", "list", "example.test")
        self.assertIn("bob@example.test", table)
        self.assertNotIn("carl@other.test", table)
        self.fails("mailbox", "list", "nowhere.test", code=4)

    def test_remove_keeps_maildir_unless_purge(self):
        self.add_mailbox("alice@example.test")
        self.add_mailbox("bob@example.test")
        out = self.ok("mailbox", "remove", "alice@example.test")
        self.assertIn("kept", out)
        self.assertTrue(self.maildir("alice@example.test").is_dir())
        self.fails("mailbox", "show", "alice@example.test", code=4)
        out = self.ok("mailbox", "remove", "--purge", "bob@example.test")
        self.assertIn("deleted", out)
        self.assertFalse(self.maildir("bob@example.test").exists())
        self.fails("mailbox", "remove", "bob@example.test", code=4)
        # Re-adding reuses the kept Maildir with its mail.
        out = self.add_mailbox("alice@example.test")
        self.assertIn("reusing", out)


    def test_add_with_existing_maildir_uses_it_as_is(self):
        imported = self.root / "imported" / "Maildir"
        for sub in ("cur", "new"):
            (imported / sub).mkdir(parents=True)
        msg = imported / "cur" / "1762164000.M0P1.bench,S=20,W=22:2,"
        msg.write_bytes(b"Subject: old\n\nmail\n")
        # A relative path is taken from the current directory.
        p = subprocess.run([MAILCTL, "--data", str(self.data), "--json", "mailbox", "add", "imp@example.test",
                            "--password-hash", SHA512_HASH, "--maildir", "imported/Maildir"],
                           capture_output=True, cwd=self.root, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["maildir"], str(imported))
        shown = self.ok_json("mailbox", "show", "imp@example.test")
        self.assertEqual(shown["maildir"], str(imported))
        self.assertEqual(shown["messages"], 1)
        self.assertEqual(msg.read_bytes(), b"Subject: old\n\nmail\n", "the message is left untouched")
        self.assertTrue((imported / "tmp").is_dir(), "tmp/ is added for deliveries")
        self.assertFalse(self.maildir("imp@example.test").exists(), "no Maildir is made under DATA/mail")
        # Mail delivered afterwards lands in the given Maildir.
        self.ok("deliver", "imp@example.test", stdin=b"Subject: new\n\nhi\n")
        self.assertEqual(len(os.listdir(imported / "new")), 1)

    def test_add_with_missing_or_non_maildir_path_fails(self):
        missing = self.root / "no-such" / "Maildir"
        err = self.fails("mailbox", "add", "ghost@example.test", "--password", "x1", "--maildir", str(missing))
        self.assertIn(str(missing), err)
        self.assertFalse(missing.exists(), "a missing --maildir is not created")
        plain_dir = self.root / "not-a-maildir"
        plain_dir.mkdir()
        err = self.fails("mailbox", "add", "ghost@example.test", "--password", "x1", "--maildir", str(plain_dir))
        self.assertIn("cur/", err)
        self.fails("mailbox", "show", "ghost@example.test", code=4)
        self.assertEqual(self.ok_json("mailbox", "list"), [])


class DeliverTest(MailctlTestCase):
    def setUp(self):
        super().setUp()
        self.init()
        self.add_postoffice()
        self.add_mailbox()

    def test_deliver_writes_message_to_new_with_lf_line_ends(self):
        message = b"From: a@example.test\r\nSubject: hello\r\n\r\nline one\r\n.dot line\r\n"
        result = self.ok_json("deliver", "alice@example.test", stdin=message)
        self.assertEqual(result["ok"], True)
        new = self.maildir("alice@example.test") / "new"
        files = os.listdir(new)
        self.assertEqual(len(files), 1)
        self.assertEqual((new / files[0]).read_bytes(), message.replace(b"\r\n", b"\n"))
        self.assertEqual(self.ok_json("mailbox", "show", "alice@example.test")["messages"], 1)

    def test_deliver_to_unknown_mailbox_fails(self):
        self.fails("deliver", "nobody@example.test", stdin=b"Subject: x\n\nx\n", code=4)
        self.fails("deliver", "alice@nowhere.test", stdin=b"Subject: x\n\nx\n", code=4)
        self.fails("deliver", "not-an-address", stdin=b"Subject: x\n\nx\n")

    def test_deliver_empty_message_fails(self):
        self.fails("deliver", "alice@example.test", stdin=b"")
        self.assertEqual(os.listdir(self.maildir("alice@example.test") / "new"), [])


class ServiceTest(MailctlTestCase):
    def setUp(self):
        super().setUp()
        self.init()

    def test_list_and_show(self):
        services = {s["service"]: s for s in self.ok_json("service", "list")}
        self.assertEqual(services["pop3"]["module"], "pop3")
        self.assertIn("pop3", self.ok("service", "list"))
        shown = self.ok_json("service", "show", "pop3")
        self.assertEqual(shown["service"], "pop3")
        self.assertEqual(shown["module"], "pop3")
        self.assertIs(shown["enabled"], True)
        keys = [s["key"] for s in shown["settings"]]
        self.assertIn("port", keys)
        self.assertIn("max_bad_commands", keys)
        port = self.setting("port")
        self.assertEqual(port, {"key": "port", "value": 110, "default": 110, "set": False, "local": False,
                                "type": "int", "doc": port["doc"]})
        self.assertTrue(port["doc"])
        text = self.ok("service", "show", "pop3")
        self.assertIn("port = 110", text)

    def test_set_and_unset(self):
        out = self.ok("service", "set", "pop3", "port", "1110")
        self.assertIn("1110", out)
        self.assertEqual(self.setting("port")["value"], 1110)
        self.assertIs(self.setting("port")["set"], True)
        listed = {s["service"]: s for s in self.ok_json("service", "list")}
        self.assertEqual(listed["pop3"]["overrides"], {"port": 1110})
        self.assertEqual(listed["smtp"]["overrides"], {})
        self.ok("service", "set", "pop3", "capa_implementation", "yes")
        self.assertIs(self.setting("capa_implementation")["value"], True, "stored canonical")
        result = self.ok_json("service", "unset", "pop3", "port")
        self.assertEqual(result["value"], 110)
        self.assertEqual(self.setting("port"), {**self.setting("port"), "value": 110, "set": False})

    def test_unknown_setting_and_service(self):
        err = self.fails("service", "set", "pop3", "foo", "1", code=4)
        self.assertIn("unknown setting 'foo' for service pop3", err)
        self.assertIn("mailctl service show pop3", err)
        self.fails("service", "unset", "pop3", "foo", code=4)
        self.fails("service", "set", "imap9", "port", "1", code=4)
        self.fails("service", "show", "imap9", code=4)

    def test_bad_values_are_rejected_and_nothing_changes(self):
        self.ok("service", "set", "pop3", "port", "2110")
        for bad in ["70000", "abc", "0", "", "-5"]:
            err = self.fails("service", "set", "pop3", "port", bad)
            self.assertIn("port", err)
        self.fails("service", "set", "pop3", "capa_implementation", "maybe")
        self.fails("service", "set", "pop3", "binds", "not an address")
        self.assertEqual(self.setting("port")["value"], 2110)

    def test_smtp_and_lmtp_services_have_their_own_settings(self):
        smtp = {s["key"]: s for s in self.ok_json("service", "show", "smtp")["settings"]}
        self.assertEqual(smtp["port"]["value"], 25)
        self.assertEqual(smtp["idle_timeout"]["value"], 300)
        self.assertEqual(smtp["max_recipients"]["value"], 100)
        self.assertIs(smtp["count_unknown_recipients"]["value"], True)
        lmtp = {s["key"]: s for s in self.ok_json("service", "show", "lmtp")["settings"]}
        self.assertEqual(lmtp["port"]["value"], 24)
        self.assertIs(lmtp["count_unknown_recipients"]["value"], False)
        self.ok("service", "set", "smtp", "bare_line_endings", "normalise")
        err = self.fails("service", "set", "smtp", "bare_line_endings", "fix")
        self.assertIn("reject", err)
        self.fails("service", "set", "smtp", "max_recipients", "0")
        self.assertNotIn("apop", smtp)  # POP3's own settings are not the SMTP service's

    def test_settings_doc_prints_markdown_table(self):
        out = self.ok("service", "settings-doc", "pop3", data=False)
        self.assertIn("| Key | Type | Default | Description |", out)
        self.assertIn("| `port` |", out)
        self.assertIn("| `banner` |", out)


if __name__ == "__main__":
    unittest.main()
