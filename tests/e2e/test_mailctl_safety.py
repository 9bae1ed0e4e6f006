"""mailctl safety end to end (issue 12, findings 4 and 10): a Maildir belongs to one mailbox,
secret files are never readable by others (not even for a moment), init tightens a loosened
data directory, cipher lists are checked when set, and errors never echo control characters.

Self-contained (no daemon), on the helpers of test_mailctl.
"""
import json
import os
import pathlib
import sqlite3
import stat
import subprocess

from test_mailctl import MAILCTL, SHA512_HASH, MailctlTestCase


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def tree(path):
    """Every entry under `path` with its content (files) or None (directories): a snapshot.
    `.mailroom-index` is left out: it is a cache of the listing, which any reader may refresh
    (`mailbox list` reads every Maildir's usage and writes the index once the folders have
    settled, about a second after the last delivery)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), path)] = None
        for f in filenames:
            if f == ".mailroom-index":
                continue
            full = os.path.join(dirpath, f)
            out[os.path.relpath(full, path)] = pathlib.Path(full).read_bytes()
    return out


class MaildirOwnershipTest(MailctlTestCase):
    """`mailbox add --maildir` refuses a Maildir that another mailbox uses; `--purge` refuses one
    that another mailbox still uses."""

    def setUp(self):
        super().setUp()
        self.init()
        self.add_postoffice()
        self.add_mailbox("alice@example.test")
        self.ok("deliver", "alice@example.test", stdin=b"Subject: keep me\n\nalice's mail\n")
        self.alice = self.maildir("alice@example.test")

    def make_maildir(self, path):
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        return path

    def assert_refused(self, maildir, *, names, code=1):
        before_list = self.ok_json("mailbox", "list")
        before_alice = tree(self.alice)
        for json_flag in ((), ("--json",)):
            err = self.fails(*json_flag, "mailbox", "add", "bob@example.test", "--password-hash", SHA512_HASH,
                            "--maildir", str(maildir), code=code)
            self.assertIn(names, err)
        self.assertEqual(self.ok_json("mailbox", "list"), before_list, "no mailbox was added")
        self.assertEqual(tree(self.alice), before_alice, "alice's Maildir is untouched")
        return err

    def test_same_path_is_refused(self):
        err = self.assert_refused(self.alice, names="alice@example.test")
        self.assertIn(str(self.alice), err)

    def test_same_directory_through_a_symlink_or_dotdot_is_refused(self):
        alias = self.root / "alias"
        alias.symlink_to(self.alice.parent)
        self.assert_refused(alias / "Maildir", names="alice@example.test")
        self.assert_refused(f"{self.alice}/cur/..", names="alice@example.test")
        # A relative path from another directory, through the symlink.
        p = subprocess.run([MAILCTL, "--data", str(self.data), "mailbox", "add", "bob@example.test",
                            "--password-hash", SHA512_HASH, "--maildir", "alias/./Maildir"],
                           capture_output=True, cwd=self.root, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"alice@example.test", p.stderr)

    def test_maildir_inside_another_mailboxs_maildir_is_refused(self):
        # A Maildir++ subfolder of alice's Maildir is itself a Maildir (cur/ new/ tmp/).
        sent = self.make_maildir(self.alice / ".Sent")
        self.assert_refused(sent, names="alice@example.test")

    def test_maildir_containing_another_mailboxs_maildir_is_refused(self):
        outer = self.make_maildir(self.root / "outer")
        inner = self.make_maildir(outer / "carol" / "Maildir")
        self.ok("mailbox", "add", "carol@example.test", "--password-hash", SHA512_HASH, "--maildir", str(inner))
        before = tree(outer)
        err = self.fails("mailbox", "add", "bob@example.test", "--password-hash", SHA512_HASH,
                        "--maildir", str(outer))
        self.assertIn("carol@example.test", err)
        self.assertEqual(tree(outer), before)
        self.fails("mailbox", "show", "bob@example.test", code=4)

    def test_default_maildir_of_another_address_is_refused(self):
        # zed@example.test has no mailbox (yet): its place in DATA/mail is still not bob's.
        zed = self.make_maildir(self.maildir("zed@example.test"))
        err = self.assert_refused(zed, names=str(self.data / "mail"))
        self.assertIn("zed", err)
        # And the place taken by an imported Maildir is refused to the address it belongs to.
        self.assert_refused(self.maildir("alice@example.test"), names="alice@example.test")

    def test_default_maildir_taken_through_a_symlink_is_refused(self):
        # bob's default place is a symlink to alice's Maildir folder: adding bob must not share it.
        (self.data / "mail" / "example.test" / "bob").symlink_to(self.alice.parent)
        err = self.fails("mailbox", "add", "bob@example.test", "--password", "pw-bob-1")
        self.assertIn("alice@example.test", err)
        self.fails("mailbox", "show", "bob@example.test", code=4)
        self.assertEqual(len(os.listdir(self.alice / "new")), 1)

    def test_a_separate_maildir_is_still_accepted(self):
        own = self.make_maildir(self.root / "imports" / "bob" / "Maildir")
        out = self.ok("mailbox", "add", "bob@example.test", "--password-hash", SHA512_HASH, "--maildir", str(own))
        self.assertIn(str(own), out)
        # Its own default place in DATA/mail is fine too (the same as giving no --maildir).
        carol = self.make_maildir(self.maildir("carol@example.test"))
        self.ok("mailbox", "add", "carol@example.test", "--password-hash", SHA512_HASH, "--maildir", str(carol))


class PurgeTest(MailctlTestCase):
    """`mailbox remove --purge` never deletes a Maildir another mailbox still uses, even when the
    database (from before the check, or edited by hand) has two mailboxes on one Maildir."""

    def setUp(self):
        super().setUp()
        self.init()
        self.add_postoffice()
        self.add_mailbox("alice@example.test")
        self.add_mailbox("bob@example.test")
        self.ok("deliver", "alice@example.test", stdin=b"Subject: keep me\n\nalice's mail\n")
        self.alice = self.maildir("alice@example.test")

    def set_maildir(self, address, path):
        mailbox, postoffice = address.split("@")
        with sqlite3.connect(self.data / "mailroom.db") as db:
            db.execute("UPDATE mailboxes SET maildir = ? WHERE name = ? AND postoffice_id = "
                       "(SELECT id FROM postoffices WHERE name = ?)", (str(path), mailbox, postoffice))
        db.close()

    def assert_purge_refused(self, address, other):
        before = tree(self.alice)
        for json_flag in ((), ("--json",)):
            err = self.fails(*json_flag, "mailbox", "remove", "--purge", address)
            self.assertIn(other, err)
        self.assertEqual(tree(self.alice), before, "the shared Maildir and its mail are intact")
        self.ok("mailbox", "show", address)  # the record is kept: nothing was done

    def test_purge_of_a_shared_maildir_is_refused_both_ways(self):
        self.set_maildir("bob@example.test", self.alice)
        self.assert_purge_refused("alice@example.test", "bob@example.test")
        self.assert_purge_refused("bob@example.test", "alice@example.test")
        # Without --purge the record goes and the Maildir stays; then the purge is allowed.
        self.ok("mailbox", "remove", "bob@example.test")
        self.assertEqual(len(os.listdir(self.alice / "new")), 1)
        self.ok("mailbox", "remove", "--purge", "alice@example.test")
        self.assertFalse(self.alice.exists())

    def test_purge_of_a_maildir_shared_through_a_symlink_is_refused(self):
        alias = self.root / "alias"
        alias.symlink_to(self.alice.parent)
        self.set_maildir("bob@example.test", alias / "Maildir")
        self.assert_purge_refused("alice@example.test", "bob@example.test")
        self.assert_purge_refused("bob@example.test", "alice@example.test")

    def test_purge_of_a_maildir_around_another_is_refused(self):
        sent = self.alice / ".Sent"
        for sub in ("cur", "new", "tmp"):
            (sent / sub).mkdir(parents=True)
        self.set_maildir("bob@example.test", sent)
        self.assert_purge_refused("alice@example.test", "bob@example.test")
        self.assert_purge_refused("bob@example.test", "alice@example.test")


class SecretFileModeTest(MailctlTestCase):
    """Private keys are created 0600 (never 0666 and then chmod), directories holding them 0700,
    whatever the umask."""

    def run_umask0(self, *args, code=0):
        argv = [MAILCTL, "--data", str(self.data), *args]
        env = {k: v for k, v in os.environ.items() if k != "MAILROOM_DATA"}
        p = subprocess.run(argv, capture_output=True, env=env, timeout=120, preexec_fn=lambda: os.umask(0))
        self.assertEqual(p.returncode, code, p.stderr)
        return p

    def source_certificate(self):
        """A valid certificate and key, made by `mailctl init` in another data directory."""
        other = self.root / "other"
        subprocess.run([MAILCTL, "--data", str(other), "init"], check=True, capture_output=True, timeout=120)
        return other / "tls" / "cert.pem", other / "tls" / "key.pem"

    def test_init_under_umask_0_makes_private_dirs_and_keys(self):
        self.run_umask0("init")
        self.assertEqual(mode(self.data), 0o700)
        self.assertEqual(mode(self.data / "tls"), 0o700)
        self.assertEqual(mode(self.data / "mail"), 0o700)
        self.assertEqual(mode(self.data / "tls" / "key.pem"), 0o600)
        self.assertEqual(mode(self.data / "mailroom.db"), 0o600)
        self.assertEqual(mode(self.data / "tls" / "cert.pem") & 0o077 & 0o022, 0, "nobody else may write the cert")

    def test_cert_import_under_umask_0_writes_the_key_0600(self):
        cert, key = self.source_certificate()
        self.run_umask0("init")
        self.run_umask0("cert", "import", str(cert), str(key))
        tls = self.data / "tls"
        self.assertEqual((tls / "key.pem").read_bytes(), key.read_bytes())
        self.assertEqual(mode(tls / "key.pem"), 0o600)
        self.assertEqual(mode(tls / "cert.pem"), 0o644)
        self.assertEqual(sorted(os.listdir(tls)), ["cert.pem", "key.pem"], "no temporary file is left")
        # Over an imported certificate only with --force, which keeps a 0600 copy of the key.
        self.run_umask0("cert", "generate", "--hostname", "mail.example.test", "--force")
        self.assertEqual(mode(tls / "key.pem"), 0o600)
        backups = [name for name in os.listdir(tls) if name.startswith("key.pem.bak-")]
        self.assertEqual(len(backups), 1, os.listdir(tls))
        self.assertEqual(mode(tls / backups[0]), 0o600)

    def test_cert_import_never_writes_the_key_into_a_file_others_can_open(self):
        # Someone who could open the temporary file while it was world-readable keeps reading it
        # after the chmod: simulate that with a file that is already there, mode 0666, held open.
        cert, key = self.source_certificate()
        self.run_umask0("init")
        tls = self.data / "tls"
        planted = tls / "key.pem.tmp"
        planted.write_bytes(b"")
        os.chmod(planted, 0o666)
        with open(planted, "rb") as spy:
            self.run_umask0("cert", "import", str(cert), str(key))
            leaked = spy.read()
        self.assertNotIn(b"PRIVATE KEY", leaked, "the key went through a file another user had open")
        self.assertEqual((tls / "key.pem").read_bytes(), key.read_bytes())
        self.assertEqual(mode(tls / "key.pem"), 0o600)

    def test_cert_generate_never_writes_the_key_into_a_file_others_can_open(self):
        self.run_umask0("init")
        planted = self.data / "tls" / "key.pem.tmp"
        planted.write_bytes(b"")
        os.chmod(planted, 0o666)
        with open(planted, "rb") as spy:
            self.run_umask0("cert", "generate", "--hostname", "mail.example.test")
            leaked = spy.read()
        self.assertNotIn(b"PRIVATE KEY", leaked)
        self.assertEqual(mode(self.data / "tls" / "key.pem"), 0o600)


class InitTightensTest(MailctlTestCase):
    def loosen(self):
        self.ok("service", "set", "pop3", "apop", "on")
        self.ok("postoffice", "add", "example.test")
        self.add_mailbox()  # with apop on, the password itself is sealed: secrets.key appears
        loose = {self.data: 0o777, self.data / "tls": 0o755, self.data / "mail": 0o775,
                 self.data / "tls" / "key.pem": 0o644, self.data / "secrets.key": 0o640,
                 self.data / "mailroom.db": 0o666}
        for path, m in loose.items():
            os.chmod(path, m)
        return loose

    def test_init_tightens_a_loosened_data_dir_and_says_what_it_changed(self):
        self.init()
        loose = self.loosen()
        out = self.ok("init")
        self.assertIn("already initialised", out)
        self.assertIn("tightened", out)
        self.assertIn(str(self.data / "tls" / "key.pem"), out)
        self.assertIn("0644 -> 0600", out)
        want = {self.data: 0o700, self.data / "tls": 0o700, self.data / "mail": 0o700,
                self.data / "tls" / "key.pem": 0o600, self.data / "secrets.key": 0o600,
                self.data / "mailroom.db": 0o600}
        self.assertEqual({p: mode(p) for p in loose}, want)
        self.assertEqual(mode(self.data / "tls" / "cert.pem"), 0o644, "the certificate stays public")
        # Nothing left to do: a second run says nothing about modes.
        self.assertNotIn("tightened", self.ok("init"))
        # The secrets key still opens: the mailbox's secrets remain usable.
        self.ok("mailbox", "passwd", "alice@example.test", "--password", "pw-alice-2")

    def test_init_json_lists_what_it_tightened(self):
        self.init()
        self.loosen()
        result = self.ok_json("init")
        changed = {c["path"]: (c["from"], c["to"]) for c in result["tightened"]}
        self.assertEqual(changed[str(self.data)], ("0777", "0700"))
        self.assertEqual(changed[str(self.data / "tls" / "key.pem")], ("0644", "0600"))
        self.assertEqual(changed[str(self.data / "secrets.key")], ("0640", "0600"))
        self.assertEqual(self.ok_json("init")["tightened"], [])
        fresh = json.loads(self.ok("--json", "--data", str(self.root / "fresh"), "init", data=False))
        self.assertEqual(fresh["tightened"], [])

    def test_init_does_not_follow_a_symlinked_key(self):
        self.init()
        outside = self.root / "shared-key.pem"
        outside.write_bytes((self.data / "tls" / "key.pem").read_bytes())
        os.chmod(outside, 0o640)
        (self.data / "tls" / "key.pem").unlink()
        (self.data / "tls" / "key.pem").symlink_to(outside)
        self.ok("init")
        self.assertEqual(mode(outside), 0o640, "a file outside the data directory is the admin's to manage")


class ControlCharacterTest(MailctlTestCase):
    """No argument echoed in an error reaches the terminal with its control bytes."""

    def setUp(self):
        super().setUp()
        self.init()

    def assert_escaped(self, err, *escapes):
        raw = err.encode("utf-8", "surrogateescape")
        for byte in list(range(0x00, 0x20)) + [0x7f, 0x9b]:
            if byte == 0x0a:
                continue  # the one trailing newline
            self.assertNotIn(bytes([byte]), raw, f"raw byte 0x{byte:02x} in {err!r}")
        for e in escapes:
            self.assertIn(e, err)

    def fail_raw(self, *args, code=1):
        argv = [MAILCTL, "--data", str(self.data), *args]
        env = {k: v for k, v in os.environ.items() if k != "MAILROOM_DATA"}
        p = subprocess.run([os.fsencode(a) for a in argv], capture_output=True, env=env, timeout=60)
        err = p.stderr.decode("utf-8", "surrogateescape")
        self.assertEqual(p.returncode, code, err)
        self.assertTrue(err.startswith("mailctl: ") and err.endswith("\n") and err.count("\n") == 1, repr(err))
        return err

    def test_escape_sequences_in_an_address_are_shown_escaped(self):
        for json_flag in ((), ("--json",)):
            err = self.fail_raw(*json_flag, "mailbox", "add", "a\x1b[31m@x", "--password", "p")
            self.assert_escaped(err, "\\x1b[31m")

    def test_cr_lf_tab_del_and_c1_bytes_are_shown_escaped(self):
        err = self.fail_raw("postoffice", "add", "bad\rname\nline\ttab\x7f")
        self.assert_escaped(err, "\\x0d", "\\x0a", "\\x09", "\\x7f")
        err = self.fail_raw("postoffice", "add", "csi\udc9b2J")  # a raw 0x9b byte: C1 CSI
        self.assert_escaped(err, "\\x9b")
        err = self.fail_raw("postoffice", "add", "c1\u009b2J")  # U+009B in UTF-8
        self.assert_escaped(err, "\\xc2\\x9b")
        # Ordinary UTF-8 passes through.
        err = self.fail_raw("postoffice", "add", "b\u00fccher_x")
        self.assertIn("b\u00fccher_x", err)

    def test_usage_errors_are_escaped_too(self):
        # CLI11's own messages echo what was typed.
        err = self.fail_raw("postoffice", "list", "\x1b]0;pwned\x07", code=2)
        self.assert_escaped(err, "\\x1b]0;pwned\\x07")
        err = self.fail_raw("cert", "generate", "--days", "1\x1b[2J", code=2)
        self.assert_escaped(err, "1\\x1b[2J")
        err = self.fail_raw("service", "set", "pop3", "banner", "hi\x1b[2J")
        self.assert_escaped(err, "\\x1b[2J", "banner")


class CipherValidationTest(MailctlTestCase):
    def setUp(self):
        super().setUp()
        self.init()

    def test_unknown_cipher_lists_are_refused_and_nothing_changes(self):
        err = self.fails("service", "set", "pop3", "tls_ciphers", "NOPE")
        self.assertIn("tls_ciphers", err)
        self.assertIn("NOPE", err)
        err = self.fails("service", "set", "pop3", "tls_ciphersuites", "NOPE")
        self.assertIn("tls_ciphersuites", err)
        # A TLS 1.3 suite is not a TLS 1.2 cipher: the message says where it goes.
        err = self.fails("service", "set", "pop3", "tls_ciphers", "TLS_AES_128_GCM_SHA256")
        self.assertIn("tls_ciphersuites", err)
        self.assertEqual(self.setting("tls_ciphers")["set"], False)
        self.assertEqual(self.setting("tls_ciphersuites")["set"], False)

    def test_valid_cipher_lists_are_stored(self):
        self.ok("service", "set", "pop3", "tls_ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")
        self.ok("service", "set", "pop3", "tls_ciphers", "HIGH:!aNULL:!MD5")
        self.ok("service", "set", "pop3", "tls_ciphersuites", "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256")
        result = self.ok_json("service", "set", "pop3", "tls_ciphersuites", "TLS_AES_128_GCM_SHA256")
        self.assertEqual(result["value"], "TLS_AES_128_GCM_SHA256")
        self.ok("service", "unset", "pop3", "tls_ciphers")
