# Running as an appliance: mailroomd started as root opens its listeners (a port below 1024 here)
# and becomes the service user (--user) with no capability left; it refuses a data dir others
# can write; mailctl run as root writes as the data dir's owner; a message file the daemon cannot
# open is refused with -ERR before any +OK and not counted as retrieved.
# Needs root (CI runs as root): starting as root is what is tested.
import glob
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (LOOPBACK, MAILCTL, MAILROOMD, START_TIMEOUT, ServerTestCase, make_message, crlf,
                     retr_bytes)

ALICE = "alice@example.test"
ALICE_PW = "alice-secret-1"
SERVICE_USER = "nobody"  # exists on every Debian system; the package creates 'mailroom'

IS_ROOT = os.geteuid() == 0


def privileged_free_port() -> int:
    """A free loopback port below 1024 (only root can bind it, which is the point)."""
    candidates = list(range(700, 1000))
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((LOOPBACK, port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port below 1024 on loopback")


def owned_by_others(path: str, uid: int) -> list:
    """Every file or directory under `path` (itself included) not owned by `uid`."""
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
            try:
                if os.lstat(name).st_uid != uid:
                    found.append(name)
            except FileNotFoundError:
                pass  # a file the daemon replaced meanwhile
    return sorted(set(found))


def proc_status(pid: int, task: str = None) -> dict:
    path = "/proc/%d/task/%s/status" % (pid, task) if task else "/proc/%d/status" % pid
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def run_daemon(data: str, *args, user=None, timeout=20) -> subprocess.CompletedProcess:
    """mailroomd run to completion (a refusal), optionally as another user."""
    preexec = None
    if user is not None:
        entry = pwd.getpwnam(user)

        def preexec():
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
    return subprocess.run([MAILROOMD, "--data", data] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=preexec)


@unittest.skipUnless(IS_ROOT, "starting mailroomd as root is what these tests check: run them as root (CI does)")
class RootStartTest(ServerTestCase):
    """mailroomd started as root with --user nobody on a data dir that nobody owns."""

    def provision(self, server):
        self.user = pwd.getpwnam(SERVICE_USER)
        # The test's temporary root is 0700 root: the service user must be able to reach its data.
        os.chmod(server.root, 0o711)
        shutil.chown(server.data, self.user.pw_uid, self.user.pw_gid)
        for dirpath, dirnames, filenames in os.walk(server.data):
            for name in dirnames + filenames:
                os.lchown(os.path.join(dirpath, name), self.user.pw_uid, self.user.pw_gid)
        # From here on mailctl (run as root) acts as the data dir's owner.
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        self.first = make_message("first", b"delivered by mailctl as root\n")
        server.deliver(ALICE, self.first)
        server.run_as = SERVICE_USER
        self.low_port = privileged_free_port()
        server.set("port", self.low_port)
        # start() assigns free high ports; the plain port goes below 1024 again before the spawn.
        assign = server._assign_ports

        def assign_with_low_port():
            assign()
            server.set("port", self.low_port)
            server.port = server.ports["pop3"] = self.low_port
        server._assign_ports = assign_with_low_port

    def test_listens_below_1024_then_runs_as_the_user_with_no_capability(self):
        pid = self.server.proc.pid
        status = proc_status(pid)
        uid, gid = str(self.user.pw_uid), str(self.user.pw_gid)
        self.assertEqual(status["Uid"].split(), [uid] * 4)
        self.assertEqual(status["Gid"].split(), [gid] * 4)
        self.assertEqual(status["NoNewPrivs"], "1")
        tasks = os.listdir("/proc/%d/task" % pid)
        self.assertGreater(len(tasks), 1, "the worker threads exist by now")
        for task in tasks:  # capabilities are per thread: every thread has none
            t = proc_status(pid, task)
            for key in ("CapEff", "CapPrm", "CapAmb", "CapInh"):
                self.assertEqual(int(t[key], 16), 0, "thread %s %s=%s" % (task, key, t[key]))
        p = self.server.login(ALICE, ALICE_PW)
        _, lines, _ = p.retr(1)
        p.quit()
        self.assertEqual(retr_bytes(lines), crlf(self.first))
        st = self.server.mailctl("service", "status").stdout.decode()
        self.assertIn("user %s" % SERVICE_USER, st)
        self.assertIn("127.0.0.1:%d" % self.low_port, st)

    def test_every_file_it_and_mailctl_make_belongs_to_the_user(self):
        second = make_message("second", b"after the start\n")
        self.server.deliver(ALICE, second)                   # mailctl as root
        self.server.mailctl("cert", "generate")              # a new key and certificate
        self.server.mailctl("mailbox", "add", "bob@example.test", "--password", "bob-secret-1")
        p = self.server.login(ALICE, ALICE_PW)               # the daemon writes its index, moves to cur/
        self.assertEqual(p.stat()[0], 2)
        p.dele(1)
        p.quit()
        self.wait_until(lambda: os.path.exists(os.path.join(self.server.data, "run", "status.json")))
        others = owned_by_others(self.server.data, self.user.pw_uid)
        self.assertEqual(others, [], "files not owned by %s" % SERVICE_USER)
        key = os.path.join(self.server.data, "tls", "key.pem")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)

    def test_cert_import_reads_a_root_only_key_and_installs_it_as_the_user(self):
        private = tempfile.mkdtemp(prefix="mailroom-root-only-")
        self.addCleanup(shutil.rmtree, private)
        os.chmod(private, 0o700)  # like /etc/letsencrypt/live: root only
        cert, key = os.path.join(private, "cert.pem"), os.path.join(private, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=import.e2e.test", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=60)
        os.chmod(key, 0o600)
        self.server.mailctl("cert", "import", cert, key)
        installed = os.path.join(self.server.data, "tls", "key.pem")
        self.assertEqual(os.stat(installed).st_uid, self.user.pw_uid)
        self.assertEqual(os.stat(installed).st_mode & 0o777, 0o600)
        self.assertIn("import.e2e.test", self.server.mailctl("cert", "show").stdout.decode())

    def test_a_privileged_port_added_later_is_reported_as_needing_a_restart(self):
        other = privileged_free_port()
        while other == self.low_port:
            other = privileged_free_port()
        self.server.set("port", other)

        def reported():
            out = self.server.mailctl("service", "status", "pop3").stdout.decode()
            return "127.0.0.1:%d" % other in out and "restart mailroomd" in out
        self.wait_until(reported, what="the failed bind of port %d" % other)
        # The listener it had keeps serving.
        p = self.server.login(ALICE, ALICE_PW)
        self.assertEqual(p.stat()[0], 1)
        p.quit()

    def test_a_message_it_cannot_open_is_refused_before_ok_and_not_counted(self):
        # What a root-run delivery used to leave: a root-owned 0600 file in the user's Maildir.
        maildir = glob.glob(os.path.join(self.server.data, "mail", "*", "alice", "Maildir"))[0]
        body = make_message("root only", b"unreadable for the daemon\n")
        # Named as a delivery names it (sizes in the name): listed without opening the file.
        stray = os.path.join(maildir, "new", "1600000000.M1P1.root-made,S=%d,W=%d" % (len(body), len(crlf(body))))
        with open(stray, "wb") as f:
            f.write(body)
        os.chmod(stray, 0o600)
        conn = self.server.raw()
        conn.login(ALICE, ALICE_PW)
        listing = conn.command("LIST")
        self.assertTrue(listing.startswith(b"+OK"), listing)
        lines = conn.read_multiline()
        self.assertEqual(len(lines), 2, lines)  # the stray file (its size from its name) and the first
        unreadable = None
        for number in (1, 2):
            reply = conn.command("RETR %d" % number)
            if reply.startswith(b"-ERR"):
                unreadable = number
                self.assertIn(b"[SYS/TEMP]", reply)
            else:
                self.assertTrue(reply.startswith(b"+OK"), reply)
                self.assertEqual(b"".join(conn.read_multiline()).count(b"delivered by mailctl as root"), 1)
        self.assertIsNotNone(unreadable, "one RETR must fail")
        self.assertTrue(conn.command("QUIT").startswith(b"+OK"))

        def logged():
            log = open(self.server.log_path, "rb").read().decode(errors="replace")
            return ("event=pop3.retr_failed" in log and 'action="-ERR sent"' in log
                    and "retrieved=1 " in log)
        self.wait_until(logged, what="retr_failed logged and the logout counting 1 retrieved")
        self.assertTrue(os.path.exists(stray), "a message that could not be read is never deleted")


@unittest.skipUnless(IS_ROOT, "starting mailroomd as root is what these tests check: run them as root (CI does)")
class RefusalTest(unittest.TestCase):
    """What mailroomd refuses to start with, and what it says to fix it."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mailroom-e2e-priv-")
        self.addCleanup(shutil.rmtree, self.tmp)
        os.chmod(self.tmp, 0o711)
        self.data = os.path.join(self.tmp, "data")
        subprocess.run([MAILCTL, "--data", self.data, "init"], check=True, capture_output=True, timeout=60)
        self.user = pwd.getpwnam(SERVICE_USER)

    def give_to_user(self):
        for dirpath, dirnames, filenames in os.walk(self.data):
            os.lchown(dirpath, self.user.pw_uid, self.user.pw_gid)
            for name in filenames:
                os.lchown(os.path.join(dirpath, name), self.user.pw_uid, self.user.pw_gid)

    def assert_refused(self, run, *needles):
        self.assertEqual(run.returncode, 1, run.stderr)
        for needle in needles:
            self.assertIn(needle, run.stderr)

    def test_the_default_user_is_mailroom(self):
        run = run_daemon(self.data)
        try:
            pwd.getpwnam("mailroom")
        except KeyError:
            self.assert_refused(run, "runs as user 'mailroom'", "does not exist", "adduser --system --group mailroom",
                                "--user NAME")
        else:  # the package's user exists here: the root-owned data dir is not its own
            self.assert_refused(run, "belongs to root, but mailroomd runs as mailroom", "chown -R mailroom: ")

    def test_a_data_dir_owned_by_someone_else_is_refused(self):
        run = run_daemon(self.data, "--user", SERVICE_USER)
        # root's 0700 data dir cannot even be entered by the service user
        self.assert_refused(run, "refusing to run", "chown -R %s: %s" % (SERVICE_USER, self.data))
        os.chmod(self.data, 0o755)
        run = run_daemon(self.data, "--user", SERVICE_USER)
        self.assert_refused(run, "belongs to root, but mailroomd runs as %s" % SERVICE_USER)

    def test_a_data_dir_others_can_write_is_refused(self):
        self.give_to_user()
        os.chmod(self.data, 0o777)
        run = run_daemon(self.data, "--user", SERVICE_USER)
        self.assert_refused(run, "%s is writable by every user (mode 0777)" % self.data, "chmod go-w %s" % self.data)
        os.chmod(self.data, 0o700)
        db = os.path.join(self.data, "mailroom.db")
        os.chown(db, self.user.pw_uid, 0)  # group root, not the service user's group
        os.chmod(db, 0o660)
        run = run_daemon(self.data, "--user", SERVICE_USER)
        self.assert_refused(run, "%s is writable by its group" % db, "chmod go-w %s" % db)
        # Also when root is kept: a group other than root's may write it.
        os.chown(db, 0, self.user.pw_gid)
        run = run_daemon(self.data, "--user", "root")
        self.assert_refused(run, "%s is writable by its group" % db)

    def test_user_needs_root(self):
        self.give_to_user()
        run = run_daemon(self.data, "--user", "root", user=SERVICE_USER)
        self.assert_refused(run, "--user root needs mailroomd to be started as root (it runs as %s)" % SERVICE_USER)


if __name__ == "__main__":
    unittest.main()
