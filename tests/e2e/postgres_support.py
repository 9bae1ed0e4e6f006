# A private PostgreSQL for e2e tests (scripts/pg-scratch): unix socket only, in a scratch directory
# under /tmp, trust authentication; run as root, the server runs as `nobody`. Every wait is bounded
# (pg_ctl -w -t 30, subprocess timeouts); remove() stops it and deletes everything.
import os
import subprocess
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PG_SCRATCH = os.path.join(REPO, "scripts", "pg-scratch")
PG_BINDIR = os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin")
COMMAND_TIMEOUT = 60


def available() -> bool:
    """Whether PostgreSQL's server binaries are installed (a test skips itself otherwise)."""
    return os.access(os.path.join(PG_BINDIR, "pg_ctl"), os.X_OK)


class ScratchPostgresClass:
    """Mixin for a TestCase class: one private server for the whole class (cls.pg), removed after
    its last test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pg = ScratchPostgres()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.pg.remove()
        finally:
            super().tearDownClass()


class ScratchPostgres:
    """One private PostgreSQL server: start() (initdb the first time), stop(), remove()."""

    def __init__(self):
        # Short and right under /tmp: the socket path must fit, and `nobody` must reach it.
        self.dir = tempfile.mkdtemp(prefix="mr-pg-", dir="/tmp")
        self.databases = 0
        self.start()

    def _run(self, *args):
        proc = subprocess.run([PG_SCRATCH, *args, self.dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=COMMAND_TIMEOUT, env=dict(os.environ, PG_BINDIR=PG_BINDIR))
        if proc.returncode != 0:
            raise AssertionError("pg-scratch %s failed: %s" % (" ".join(args), proc.stderr.decode(errors="replace")))
        return proc.stdout.decode().strip()

    def start(self):
        self._run("start")

    def stop(self):
        self._run("stop")

    def remove(self):
        self._run("remove")

    def url(self, database: str = "postgres", password: str = None) -> str:
        """The URL of `database`; with `password` in the user part (trust authentication ignores
        it: a test can check that it never shows)."""
        if password:
            return "postgresql://postgres:%s@/%s?host=%s" % (password, database, self.dir)
        return "postgresql:///%s?host=%s&user=postgres" % (database, self.dir)

    def create_database(self, password: str = None) -> str:
        """A fresh database on this server; returns its URL (see url())."""
        self.databases += 1
        name = "mailroom_%d" % self.databases
        proc = subprocess.run([os.path.join(PG_BINDIR, "createdb"), "-h", self.dir, "-U", "postgres", name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=COMMAND_TIMEOUT)
        if proc.returncode != 0:
            raise AssertionError("createdb failed: " + proc.stderr.decode(errors="replace"))
        return self.url(name, password)
