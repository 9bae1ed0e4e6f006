"""mailctl for scripts (issue 16): --version, typo suggestions, distinct exit codes,
--if-exists/--if-not-exists, one JSON style (key names and types of every listing), settings
checked against each other before they are stored, the bash completion and help topics.

Self-contained (no daemon): runs the real binaries (env MAILCTL, MAILROOMD) on temporary data
directories. docs/mailctl.md and docs/json.md describe what is checked here.
"""
import json
import os
import re
import socket
import subprocess
import unittest

from test_mailctl import MAILCTL, MailctlTestCase

MAILROOMD = os.environ.get("MAILROOMD") or os.path.join(os.path.dirname(MAILCTL), "mailroomd")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class VersionTest(MailctlTestCase):
    def test_both_programs_print_the_project_version(self):
        mailctl = self.ok("--version", data=False).strip()
        daemon = subprocess.run([MAILROOMD, "--version"], capture_output=True, timeout=30)
        self.assertEqual(daemon.returncode, 0, daemon.stderr)
        daemon = daemon.stdout.decode().strip()
        self.assertRegex(mailctl, r"^mailctl \d+\.\d+\.\d+( \(git [^)]+\))?$")
        self.assertRegex(daemon, r"^mailroomd \d+\.\d+\.\d+( \(git [^)]+\))?$")
        # One version for both, the one in CMakeLists.txt.
        self.assertEqual(mailctl.split()[1], daemon.split()[1])
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "CMakeLists.txt")) as f:
            cmake = f.read()
        self.assertIn("project(mailroom VERSION %s " % mailctl.split()[1], cmake)


class UsageTest(MailctlTestCase):
    def test_unknown_command_names_it_and_suggests_the_nearest(self):
        err = self.fails("mailbox", "lst", code=2)
        self.assertEqual(err, "mailctl: unknown command 'lst' for 'mailctl mailbox' (did you mean 'list'?)\n")
        err = self.fails("--json", "mailbox", "lst", code=2)
        self.assertIn("unknown command 'lst' for 'mailctl mailbox'", err)
        err = self.fails("postofice", "list", code=2)
        self.assertIn("unknown command 'postofice' for 'mailctl' (did you mean 'postoffice'?)", err)

    def test_unknown_option_names_it_and_suggests_the_nearest(self):
        err = self.fails("mailbox", "add", "a@example.test", "--pasword", "x", code=2)
        self.assertIn("unknown option '--pasword' for 'mailctl mailbox add' (did you mean '--password'?)", err)
        err = self.fails("service", "list", "--jsno", code=2)
        self.assertIn("(did you mean '--json'?)", err)

    def test_a_group_alone_lists_its_commands(self):
        err = self.fails("mailbox", code=2)
        self.assertEqual(err, "mailctl: 'mailctl mailbox' needs a command: add, remove, show, import-uidls, "
                              "repair-uidls, passwd, enable, disable, list, set, unset\n")
        self.assertIn("'mailctl' needs a command: init, postoffice, mailbox", self.fails(code=2, data=False))

    def test_a_missing_argument_is_still_a_usage_error(self):
        err = self.fails("mailbox", "show", code=2)
        self.assertIn("ADDRESS", err)


class ExitCodeTest(MailctlTestCase):
    def setUp(self):
        super().setUp()
        self.init()
        self.add_postoffice()
        self.add_mailbox()

    def test_not_found_is_4(self):
        self.fails("postoffice", "show", "nowhere.test", code=4)
        self.fails("postoffice", "remove", "nowhere.test", code=4)
        self.fails("mailbox", "show", "nobody@example.test", code=4)
        self.fails("mailbox", "add", "bob@nowhere.test", "--password", "x", code=4)
        self.fails("mailbox", "remove", "nobody@example.test", code=4)
        self.fails("mailbox", "disable", "nobody@example.test", code=4)
        self.fails("deliver", "nobody@example.test", stdin=b"Subject: x\n\nhi\n", code=4)
        self.fails("service", "show", "nosuch", code=4)
        self.fails("service", "set", "pop3", "no_such_key", "1", code=4)
        self.fails("service", "settings-doc", "nosuch", code=4)
        self.fails("access", "list", "nosuch", code=4)
        self.fails("access", "remove", "pop3", "deny", "10.0.0.1", code=4)
        self.fails("block", "remove", "10.0.0.1", code=4)

    def test_already_exists_is_5(self):
        self.fails("postoffice", "add", "example.test", code=5)
        self.fails("mailbox", "add", "alice@example.test", "--password", "x", code=5)
        self.ok("access", "add", "pop3", "deny", "10.0.0.0/8")
        self.fails("access", "add", "pop3", "deny", "10.1.2.3/8", code=5)

    def test_other_failures_are_1_and_a_missing_data_directory_is_not_4(self):
        self.fails("postoffice", "add", "bad_name", code=1)
        self.fails("service", "set", "pop3", "port", "0", code=1)
        self.fails("--data", str(self.root / "nothing-here"), "mailbox", "list", code=1, data=False)

    def test_if_not_exists_and_if_exists_make_scripts_idempotent(self):
        cases = [
            (("postoffice", "add", "example.test", "--if-not-exists"), {"postoffice": "example.test"}),
            (("mailbox", "add", "alice@example.test", "--password", "x", "--if-not-exists"),
             {"address": "alice@example.test"}),
            (("postoffice", "remove", "gone.test", "--if-exists"), {"postoffice": "gone.test"}),
            (("mailbox", "remove", "nobody@example.test", "--if-exists"), {"address": "nobody@example.test"}),
            (("access", "remove", "pop3", "deny", "10.9.9.9", "--if-exists"), {"service": "pop3", "rule": "10.9.9.9"}),
            (("block", "remove", "10.9.9.9", "--if-exists"), {}),
        ]
        for args, keys in cases:
            with self.subTest(args=args):
                text = self.ok(*args)
                self.assertTrue(text.startswith("nothing to do: "), text)
                out = self.ok_json(*args)
                self.assertIs(out["ok"], True)
                self.assertIs(out["changed"], False)
                for k, v in keys.items():
                    self.assertEqual(out[k], v)
        # The first time they do the work, and say so.
        out = self.ok_json("postoffice", "add", "new.test", "--if-not-exists")
        self.assertEqual((out["changed"], out["postoffice"]), (True, "new.test"))
        out = self.ok_json("access", "add", "pop3", "deny", "10.0.0.0/8", "--if-not-exists")
        self.assertIs(out["changed"], True)
        self.assertIs(self.ok_json("access", "add", "pop3", "deny", "10.0.0.0/8", "--if-not-exists")["changed"], False)
        self.assertIs(self.ok_json("block", "add", "10.1.1.1", "--service", "pop3", "--if-not-exists")["changed"], True)
        again = self.ok_json("block", "add", "10.1.1.1", "--service", "pop3", "--if-not-exists")
        self.assertEqual((again["changed"], again["blocks"]), (False, []))
        self.assertIs(self.ok_json("block", "remove", "10.1.1.1", "--if-exists")["changed"], True)
        self.assertIs(self.ok_json("postoffice", "remove", "new.test", "--if-exists")["changed"], True)
        # The flags do not hide other errors: an unknown postoffice or service is still 4.
        self.fails("mailbox", "add", "x@nowhere.test", "--password", "x", "--if-not-exists", code=4)
        self.fails("access", "remove", "nosuch", "deny", "10.0.0.1", "--if-exists", code=4)


class JsonStyleTest(MailctlTestCase):
    """Every listing's --json: the key names and the types of their values (docs/json.md)."""

    def setUp(self):
        super().setUp()
        self.init()
        self.add_postoffice()
        self.add_mailbox()
        self.ok("access", "add", "pop3", "deny", "10.0.0.0/8", "--comment", "c")
        self.ok("block", "add", "10.1.1.1", "--service", "pop3", "--duration", "600")

    def assertTime(self, value, nullable=False):
        if nullable and value is None:
            return
        self.assertIsInstance(value, str)
        self.assertRegex(value, RFC3339)

    def test_postoffice_list_and_show(self):
        listed = self.ok_json("postoffice", "list")
        self.assertEqual(set(listed[0]), {"postoffice", "enabled", "mailbox_count", "created_at", "settings"})
        self.assertEqual(listed[0]["postoffice"], "example.test")
        self.assertIsInstance(listed[0]["enabled"], bool)
        self.assertIsInstance(listed[0]["mailbox_count"], int)
        self.assertTime(listed[0]["created_at"])
        shown = self.ok_json("postoffice", "show", "example.test")
        quota = {"quota_bytes", "quota_messages", "used_bytes", "used_messages", "unreadable_maildirs"}
        self.assertEqual(set(shown), set(listed[0]) | quota)
        self.assertEqual({k: v for k, v in shown.items() if k not in quota}, listed[0])

    def test_mailbox_list_and_show(self):
        m = self.ok_json("mailbox", "list")[0]
        self.assertEqual(set(m), {"address", "mailbox", "postoffice", "enabled", "postoffice_enabled", "maildir",
                                  "password_scheme", "secret_kinds", "created_at", "id", "settings",
                                  "postoffice_settings", "quota_bytes", "quota_messages", "used_bytes",
                                  "used_messages"})
        self.assertEqual((m["address"], m["mailbox"], m["postoffice"]), ("alice@example.test", "alice", "example.test"))
        self.assertTime(m["created_at"])
        self.assertIsInstance(m["id"], int)
        shown = self.ok_json("mailbox", "show", "alice@example.test")
        self.assertEqual(shown["created_at"], m["created_at"])
        self.assertIsInstance(shown["messages"], int)

    def test_service_list_show_and_set_are_typed_by_the_setting(self):
        self.ok("service", "set", "pop3", "port", "1110")
        self.ok("service", "set", "pop3", "starttls", "off")
        services = {s["service"]: s for s in self.ok_json("service", "list")}
        self.assertEqual(set(services["pop3"]), {"service", "module", "enabled", "overrides"})
        self.assertEqual(services["pop3"]["overrides"], {"port": 1110, "starttls": False})
        shown = self.ok_json("service", "show", "pop3")
        self.assertEqual(set(shown), {"service", "module", "enabled", "settings"})
        settings = {s["key"]: s for s in shown["settings"]}
        self.assertEqual(settings["port"]["value"], 1110)
        self.assertEqual(settings["port"]["default"], 110)
        self.assertIs(settings["starttls"]["value"], False)
        self.assertIs(settings["starttls"]["default"], True)
        self.assertEqual(settings["binds"]["value"], "*")
        result = self.ok_json("service", "set", "pop3", "idle_timeout", "700")
        self.assertEqual((result["service"], result["key"], result["value"]), ("pop3", "idle_timeout", 700))
        result = self.ok_json("service", "unset", "pop3", "starttls")
        self.assertIs(result["value"], True)
        doc = {s["key"]: s for s in self.ok_json("service", "settings-doc", "pop3")}
        self.assertEqual(doc["port"]["default"], 110)
        self.assertIs(doc["auto_deny"]["default"], True)

    def test_account_settings_are_typed_and_resolve_mailbox_first(self):
        result = self.ok_json("postoffice", "set", "example.test", "quota_bytes", "1000000")
        self.assertEqual(result, {"ok": True, "postoffice": "example.test", "key": "quota_bytes",
                                  "value": 1000000, "set": True})
        result = self.ok_json("mailbox", "set", "alice@example.test", "expire_days", "7")
        self.assertEqual((result["address"], result["value"]), ("alice@example.test", "7"))
        self.ok("mailbox", "set", "alice@example.test", "login_delay", "300")
        shown = self.ok_json("mailbox", "show", "alice@example.test")
        self.assertEqual(shown["settings"], {"login_delay": 300, "expire_days": "7"})
        self.assertEqual(shown["postoffice_settings"], {"quota_bytes": 1000000})
        self.assertEqual(self.ok_json("postoffice", "show", "example.test")["settings"], {"quota_bytes": 1000000})
        result = self.ok_json("mailbox", "unset", "alice@example.test", "login_delay")
        self.assertEqual((result["value"], result["set"]), (None, False))
        self.assertEqual(self.ok_json("mailbox", "show", "alice@example.test")["settings"], {"expire_days": "7"})
        # Bad key, bad value: exit 1 naming what is allowed, nothing stored; unknown owner: exit 4.
        for args, code, text in [(("mailbox", "set", "alice@example.test", "quota_byte", "1"), 1, "quota_bytes"),
                                 (("mailbox", "set", "alice@example.test", "expire_days", "soon"), 1, "never"),
                                 (("mailbox", "set", "alice@example.test", "login_delay", "-1"), 1, "login_delay"),
                                 (("mailbox", "set", "nobody@example.test", "login_delay", "1"), 4, "nobody"),
                                 (("postoffice", "set", "nowhere.test", "quota_bytes", "1"), 4, "nowhere.test")]:
            r = self.run_mailctl(*args)
            self.assertEqual(r.returncode, code, (args, r.stderr.decode()))
            self.assertIn(text, r.stderr.decode())
        self.assertEqual(self.ok_json("mailbox", "show", "alice@example.test")["settings"], {"expire_days": "7"})

    def test_access_and_block_times_are_rfc3339_under_at_keys(self):
        rules = self.ok_json("access", "list", "pop3")
        self.assertEqual(set(rules), {"service", "access_mode", "rules"})
        rule = rules["rules"][0]
        self.assertEqual(set(rule), {"id", "list", "rule", "comment", "hits", "last_hit_at", "created_at"})
        self.assertTime(rule["created_at"])
        self.assertIsNone(rule["last_hit_at"])
        block = self.ok_json("block", "list")[0]
        self.assertEqual(set(block), {"service", "network", "cause", "reason", "placed_at", "expires_at",
                                      "until_restart", "hits", "last_hit_at"})
        self.assertTime(block["placed_at"])
        self.assertTime(block["expires_at"])
        self.assertIsNone(block["last_hit_at"])
        explained = self.ok_json("access", "explain", "pop3", "10.1.1.1")
        self.assertEqual(explained["block_expires_at"], block["expires_at"])
        self.assertEqual(explained["block"], block)

    def test_deliver_reports_bytes(self):
        out = self.ok_json("deliver", "alice@example.test", stdin=b"Subject: x\n\nhi\n")
        self.assertEqual((out["address"], out["size_bytes"], out["wire_size_bytes"]), ("alice@example.test", 15, 18))

    def test_no_key_is_a_unix_time_or_camel_case(self):
        """Every command that needs no daemon, actions included: keys in one style, times as
        RFC 3339 under _at keys, durations, sizes and counts as numbers, and the names of
        postoffices, mailboxes and services under the keys json.md gives them."""
        backup = str(self.root / "backup.tar")
        cert = ("cert", "generate", "--name", "mail.example.test", "--ip", "127.0.0.1", "--days", "30")
        commands = [
            ("init",), ("postoffice", "list"), ("postoffice", "show", "example.test"),
            ("postoffice", "add", "second.test"), ("postoffice", "add", "second.test", "--if-not-exists"),
            ("postoffice", "set", "second.test", "quota_messages", "9"), ("postoffice", "unset", "second.test", "quota_messages"),
            ("postoffice", "disable", "second.test"), ("postoffice", "enable", "second.test"),
            ("mailbox", "add", "bob@second.test", "--password", "bob-password-1"),
            ("mailbox", "passwd", "bob@second.test", "--password", "bob-password-2"),
            ("mailbox", "list"), ("mailbox", "show", "alice@example.test"),
            ("mailbox", "set", "bob@second.test", "login_delay", "60"), ("mailbox", "unset", "bob@second.test", "login_delay"),
            ("mailbox", "disable", "bob@second.test"), ("mailbox", "enable", "bob@second.test"),
            ("mailbox", "remove", "bob@second.test"), ("mailbox", "remove", "bob@second.test", "--if-exists"),
            ("postoffice", "remove", "second.test"),
            ("service", "list"), ("service", "show", "pop3"), ("service", "set", "pop3", "idle_timeout", "700"),
            ("service", "unset", "pop3", "idle_timeout"), ("service", "disable", "poppassd"),
            ("service", "enable", "poppassd"), ("service", "settings-doc", "smtp"),
            ("access", "list", "pop3"), ("access", "add", "pop3", "allow", "192.0.2.0/24"),
            ("access", "explain", "pop3", "10.1.1.1"), ("access", "remove", "pop3", "allow", "192.0.2.0/24"),
            ("access", "clear", "pop3", "safe"),
            ("block", "list"), ("block", "add", "192.0.2.9", "--service", "smtp"), ("block", "remove", "192.0.2.9"),
            ("daemon", "show"), ("daemon", "set", "log_level", "debug"), ("daemon", "unset", "log_level"),
            ("queue", "list"), ("cert", "show"), cert, ("export",), ("apply", "-", "--dry-run"), ("backup", backup),
        ]
        outputs = {}
        for args in commands:
            stdin = self.ok("export") if args[0] == "apply" else b""
            outputs[args] = self.ok_json(*args, stdin=stdin)
        outputs[("deliver",)] = self.ok_json("deliver", "alice@example.test", stdin=b"Subject: x\n\nhi\n")
        down = self.run_mailctl("--json", "status")
        self.assertEqual((down.returncode, json.loads(down.stdout)), (3, {"running": False}))

        def walk(value, where):
            if isinstance(value, dict):
                for k, v in value.items():
                    self.assertRegex(k, r"^[a-z][a-z0-9_]*$", where)
                    self.assertNotIn(k, ("name", "since", "expires", "last_hit", "size", "domain", "user",
                                         "postoffice_name", "service_name", "time"), where)
                    if k.endswith("_at"):
                        self.assertTime(v, nullable=True)
                    if k.endswith(("_seconds", "_bytes", "_count")) and v is not None:
                        self.assertIs(type(v), int, (where, k))
                    if k in ("ok", "changed", "enabled", "set"):
                        self.assertIs(type(v), bool, (where, k))
                    if k == "postoffice" and isinstance(v, str):
                        self.assertNotIn("@", v, where)
                    if k == "address":
                        self.assertIn("@", v, where)
                    walk(v, where)
            elif isinstance(value, list):
                for v in value:
                    walk(v, where)

        for args, out in outputs.items():
            walk(out, " ".join(args))
        # The same object is named by the same key in every command.
        self.assertEqual(outputs[("postoffice", "add", "second.test")]["postoffice"], "second.test")
        self.assertEqual(outputs[("mailbox", "add", "bob@second.test", "--password", "bob-password-1")]["address"],
                         "bob@second.test")
        self.assertEqual(outputs[("export",)]["postoffices"][0]["postoffice"], "example.test")
        self.assertEqual(outputs[("export",)]["mailboxes"][0]["address"], "alice@example.test")
        self.assertIn("pop3", [s["service"] for s in outputs[("export",)]["services"]])
        self.assertEqual(outputs[("apply", "-", "--dry-run")], {"ok": True, "dry_run": True, "prune": False, "changes": []})
        self.assertEqual(outputs[("block", "add", "192.0.2.9", "--service", "smtp")]["blocks"][0]["service"], "smtp")
        self.assertRegex(outputs[cert]["sha256_fingerprint"], r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")
        self.assertEqual(outputs[cert]["ip_addresses"], ["127.0.0.1"])
        self.assertIsInstance(outputs[("backup", backup)]["mail_bytes"], int)
        self.assertEqual(outputs[("deliver",)]["address"], "alice@example.test")


class InitCertificateTest(MailctlTestCase):
    def test_init_certificate_names_this_host_localhost_and_both_loopbacks(self):
        self.init()
        shown = self.ok_json("cert", "show")
        host = socket.gethostname()
        named = re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*", host)
        expected = [host.lower(), "localhost"] if named and host.lower() != "localhost" else ["localhost"]
        self.assertEqual([n.lower() for n in shown["dns_names"]], expected)
        self.assertEqual(shown["ip_addresses"], ["127.0.0.1", "::1"])
        self.assertEqual(shown["subject"], "CN = " + expected[0])
        self.assertTrue(shown["generated_by_mailctl"])


class SettingsCheckTest(MailctlTestCase):
    def setUp(self):
        super().setUp()
        self.init()

    def test_a_port_used_twice_by_one_service_is_refused(self):
        self.ok("service", "set", "pop3", "port", "1110")
        err = self.fails("service", "set", "pop3", "tls_port", "1110", code=1)
        self.assertIn("port 1110 would be used twice by service pop3: by its port and its tls_port", err)
        self.assertEqual(self.setting("tls_port")["value"], 995, "nothing was stored")
        err = self.fails("service", "set", "pop3", "alt_port", "995", code=1)
        self.assertIn("alt_port", err)

    def test_two_enabled_services_on_one_port_are_refused_naming_both(self):
        err = self.fails("service", "set", "pop3", "port", "25", code=1)
        self.assertIn("port 25 is already used by service smtp (its port); service pop3", err)
        self.ok("service", "disable", "smtp")
        self.ok("service", "set", "pop3", "port", "25")
        err = self.fails("service", "enable", "smtp", code=1)
        self.assertIn("service pop3", err)
        self.assertIs(next(s for s in self.ok_json("service", "list") if s["service"] == "smtp")["enabled"], False)

    def test_a_tls_port_without_a_certificate_is_refused(self):
        (self.data / "tls" / "cert.pem").unlink()
        err = self.fails("service", "set", "pop3", "tls_port", "1995", code=1)
        self.assertIn("mailctl cert generate", err)
        self.ok("service", "set", "pop3", "implicit_tls", "off")
        self.ok("service", "set", "pop3", "tls_port", "1995")  # no TLS listener: nothing to check

    def test_a_bind_address_the_machine_lacks_is_stored_with_a_warning(self):
        p = self.run_mailctl("service", "set", "pop3", "binds", "192.0.2.123")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"warning: this machine has no address 192.0.2.123", p.stderr)
        self.assertEqual(self.setting("binds")["value"], "192.0.2.123")
        p = self.run_mailctl("service", "set", "pop3", "binds", "127.0.0.1, 127.0.0.2")
        self.assertEqual((p.returncode, p.stderr), (0, b""))


class CompletionAndHelpTest(MailctlTestCase):
    def complete(self, *words):
        """What the completion offers after `words` (the last one being completed)."""
        script = self.ok("completion", "bash", data=False)
        line = " ".join(["mailctl"] + [w if w else "''" for w in words])
        program = (f'source /dev/stdin; COMP_WORDS=({line}); COMP_CWORD={len(words)}; _mailctl; '
                   'printf "%s\\n" "${COMPREPLY[@]}"')
        p = subprocess.run(["bash", "-c", program], input=script.encode(), capture_output=True, timeout=30,
                           env=dict(os.environ, PATH=os.path.dirname(MAILCTL) + ":" + os.environ["PATH"],
                                    MAILROOM_DATA=str(self.data)))
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode().split()

    def test_the_script_loads_and_registers_the_completion(self):
        p = subprocess.run(["bash", "-c", f"source <('{MAILCTL}' completion bash); complete -p mailctl"],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode().strip(), "complete -F _mailctl mailctl")

    def test_commands_options_services_and_modules_are_completed(self):
        self.init()
        self.assertEqual(self.complete("mailbox", "l"), ["list"])
        self.assertIn("postoffice", self.complete(""))
        self.assertIn("--if-not-exists", self.complete("postoffice", "add", "--"))
        self.assertIn("--json", self.complete("mailbox", "list", "--"))
        self.assertEqual(sorted(self.complete("service", "show", "")), ["lmtp", "pop3", "poppassd", "smtp"])
        self.assertEqual(sorted(self.complete("--data", str(self.data), "service", "set", "po")), ["pop3", "poppassd"])
        self.assertIn("tls_port", self.complete("service", "set", "pop3", "tls_"))
        self.assertEqual(self.complete("service", "settings-doc", "sm"), ["smtp"])
        self.assertEqual(self.complete("access", "add", "pop3", "d"), ["deny"])
        self.assertEqual(self.complete("block", "list", "--service", "lm"), ["lmtp"])
        self.assertEqual(self.complete("--json", "mailbox", "l"), ["list"])  # a flag takes no value

    def command_tree(self):
        """[(command, [subcommand...])] from the binary itself: 'mailctl help' and each group's
        'needs a command' list."""
        listing = self.ok("help", data=False)
        commands = [line.split()[0] for line in listing.split("Commands")[1].splitlines()[1:] if line.strip()]
        self.assertIn("apply", commands)
        tree = []
        for command in commands:
            p = self.run_mailctl(command, data=False)
            err = p.stderr.decode()
            subs = err.split("needs a command: ")[1].strip().split(", ") if "needs a command: " in err else []
            tree.append((command, subs))
        tree.append(("sessions", ["kill"]))  # 'sessions' alone lists them
        return tree

    def test_every_command_is_in_mailctl_md_and_the_man_page(self):
        root = os.path.join(os.path.dirname(__file__), "..", "..", "docs")
        with open(os.path.join(root, "mailctl.md")) as f:
            headings = [line for line in f.read().splitlines() if line.startswith("#")]
        with open(os.path.join(root, "man", "mailctl.1")) as f:
            man = f.read().replace("\\-", "-")
        man_lines = man.splitlines()
        for command, subs in self.command_tree():
            for sub in subs or [None]:
                with self.subTest(command=command, sub=sub):
                    def names(line):
                        return re.split(r"[\s|,\[\]\"]+", line)
                    documented = [h for h in headings if command in names(h) and (sub is None or sub in names(h))]
                    self.assertTrue(documented, "no heading in docs/mailctl.md for mailctl %s %s" % (command, sub or ""))
                    in_man = [l for l in man_lines if command in names(l) and (sub is None or sub in names(l))]
                    self.assertTrue(in_man, "docs/man/mailctl.1 does not name mailctl %s %s" % (command, sub or ""))

    def test_help_topics(self):
        listing = self.ok("help", data=False)
        for topic in ("exit-codes", "json", "settings", "completion"):
            self.assertIn(topic, listing)
            self.assertTrue(self.ok("help", topic, data=False).strip())
        self.assertIn("4  not found", self.ok("help", "exit-codes", data=False))
        self.assertIn("--if-not-exists", self.ok("help", "postoffice", "add", data=False))
        err = self.fails("help", "jsno", code=2, data=False)
        self.assertIn("(did you mean 'json'?)", err)


if __name__ == "__main__":
    unittest.main()
