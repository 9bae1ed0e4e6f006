# End-to-end fixture: a real mailroomd on a private data dir and loopback port, provisioned with mailctl.
# Every wait is bounded in time and count; every server is stopped and its data dir removed after the test.
import os
import resource
import poplib
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

MAILCTL = os.environ.get("MAILCTL", "mailctl")
MAILROOMD = os.environ.get("MAILROOMD", "mailroomd")

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 10.0
START_ATTEMPTS = 3
# Started as root, mailroomd runs as the 'mailroom' user unless told otherwise; the test data dirs
# belong to whoever runs the tests, so the daemon keeps that identity (test_privileges covers --user).
ROOT_KEEPS_ROOT = ["--user", "root"] if os.geteuid() == 0 else []
# The binaries are an AddressSanitizer build (scripts/test's second pass): memory figures mean
# nothing there (shadow memory, the quarantine of freed blocks), so memory bounds are checked by
# the plain pass of the same run only; everything else is checked in both.
SANITIZED = os.environ.get("MAILROOM_SANITIZED") == "1"


def assert_memory_below(test: unittest.TestCase, value_kib: int, limit_kib: int, message: str):
    """A memory bound: asserted, except against a sanitizer build (see SANITIZED), where it is
    only printed."""
    if SANITIZED:
        sys.stderr.write("\n  memory bound not checked in the sanitizer build: %s (%d KiB, bound %d KiB)\n" % (
            message, value_kib, limit_kib))
        return
    test.assertLess(value_kib, limit_kib, message)


# Settings written by mailctl reach the running daemon by polling (~1-2 s); allow a margin.
LIVE_CHANGE_TIMEOUT = 8.0


def crlf(message: bytes) -> bytes:
    """The exact octets a POP3 client gets for a message stored with LF endings.

    The server turns LF into CRLF and ends the last line if the message did not.
    """
    out = message.replace(b"\n", b"\r\n")
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


def retr_bytes(lines) -> bytes:
    """poplib's retr() lines joined back into the message octets (already un-dot-stuffed)."""
    return b"".join(line + b"\r\n" for line in lines)


def stop_process(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM, wait up to `timeout`, then SIGKILL; True if it had to be killed."""
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
        return False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
        return True


def undocumented_metrics(prometheus_text: str) -> list:
    """The metric families in a scrape (Prometheus 0.0.4 text: `# TYPE name type`) that
    docs/metrics.md's tables do not name (a counter is documented, and typed in this text, with its
    `_total`)."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "metrics.md")) as f:
        doc = f.read()
    missing = []
    for line in prometheus_text.splitlines():
        if not line.startswith("# TYPE "):
            continue
        name, kind = line.split()[2:4]
        if "| `%s` |" % (name + "_total" if kind == "counter" and not name.endswith("_total") else name) not in doc:
            missing.append(name)
    return missing


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def make_message(subject: str, body: bytes, sender=b"sender@example.org", to=b"alice@example.test") -> bytes:
    head = (b"From: " + sender + b"\n"
            b"To: " + to + b"\n"
            b"Subject: " + subject.encode() + b"\n"
            b"Message-ID: <" + secrets.token_hex(8).encode() + b"@e2e.test>\n"
            b"\n")
    return head + body


class RawConnection:
    """A plain socket to the server for sending arbitrary bytes and reading CRLF lines with a timeout."""

    def __init__(self, port: int, timeout: float = IO_TIMEOUT, sock=None):
        """Connects to `port` on loopback, or wraps `sock` (e.g. an ssl socket) when given."""
        self.sock = sock if sock is not None else socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.buf = b""
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes):
        self.sock.sendall(data)

    def command(self, line: str) -> bytes:
        self.send(line.encode() + b"\r\n")
        return self.readline()

    def _fill(self, deadline: float, size: int = 65536) -> bool:
        """Reads more bytes; False on EOF or connection reset (or a TLS end without close_notify)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from server within %.1f s" % self.timeout)
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(size)
        except (ConnectionResetError, ssl.SSLEOFError):
            return False
        except socket.timeout:
            raise TimeoutError("no data from server within %.1f s" % self.timeout)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def readline(self, timeout: float = None) -> bytes:
        """One line without its CRLF; raises EOFError if the server closed first."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 24:
                raise AssertionError("server line longer than 16 MiB")
            if not self._fill(deadline):
                raise EOFError("server closed the connection (pending %r)" % self.buf[:200])
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_multiline(self, timeout: float = None) -> list:
        """Lines of a multi-line body up to the terminating '.', un-dot-stuffed."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        lines = []
        while True:
            line = self.readline(max(0.01, deadline - time.monotonic()))
            if line == b".":
                return lines
            if line.startswith(b"."):
                line = line[1:]
            lines.append(line)

    def nothing_more(self, wait: float = 0.5) -> bytes:
        """Whatever else arrives within `wait` seconds (b'' if the server stays silent)."""
        deadline = time.monotonic() + wait
        try:
            while self._fill(deadline):
                pass
        except TimeoutError:
            pass
        extra, self.buf = self.buf, b""
        return extra

    def wait_closed(self, timeout: float = IO_TIMEOUT) -> bytes:
        """Waits for EOF; returns whatever arrived before it. Raises TimeoutError if still open."""
        deadline = time.monotonic() + timeout
        while True:
            if not self._fill(deadline):
                data, self.buf = self.buf, b""
                return data

    def login(self, user: str, password: str):
        greeting = self.readline()
        assert greeting.startswith(b"+OK"), greeting
        reply = self.command("USER " + user)
        assert reply.startswith(b"+OK"), reply
        reply = self.command("PASS " + password)
        assert reply.startswith(b"+OK"), reply


def connect_from(source, port: int, host: str = LOOPBACK, timeout: float = 5.0) -> RawConnection:
    """A connection to host:port whose source address is `source` (any 127.0.0.0/8 address works
    on Linux; "::1" for IPv6), or the kernel's choice when `source` is None."""
    sock = socket.socket(socket.AF_INET6 if ":" in (source or host) else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        if source:
            sock.bind((source, 0))
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return RawConnection(port, timeout=timeout, sock=sock)


def first_bytes(source, port: int, host: str = LOOPBACK) -> bytes:
    """What the server sends first to a client from `source`: b"" when it closes without a word."""
    conn = connect_from(source, port, host)
    try:
        return conn.readline()
    except (EOFError, ConnectionResetError):
        return b""
    finally:
        conn.close()


# The services `mailctl init` creates. A test's daemon serves only the one it drives and those it
# asks for with `also`: the others are disabled, so that e.g. a POP3 test never binds smtp's port
# 25 (as root that bind would succeed and collide between parallel tests).
DEFAULT_SERVICES = ("pop3", "smtp", "lmtp", "poppassd")
# Those `mailctl init` creates disabled: enabled when a test drives them or asks for them.
DISABLED_BY_DEFAULT = ("poppassd",)
# How each service's greeting begins when it is up, and which of its settings puts the test's
# unique token into that greeting.
READY = {"pop3": b"+OK", "smtp": b"220", "lmtp": b"220", "poppassd": b"200"}
GREETING_SETTING = {"pop3": "banner", "smtp": "hostname", "lmtp": "hostname", "poppassd": "banner"}


class Server:
    """One mailroomd with its own temporary data dir and port, serving the test's `service`.

    `service` is the mailctl service the test drives (its settings, ports and banner); `ready` is
    how that protocol's greeting begins when the service is up (b"+OK" for POP3, b"220" for SMTP).
    `also` names other services that run too, each on its own free loopback ports (e.g. deliver
    over SMTP, read over POP3: `Server("smtp", b"220", also=("pop3",))`); `ports[name]` and
    `tls_ports[name]` give them. Every other default service is disabled.
    """

    def __init__(self, service: str = "pop3", ready: bytes = None, also=(), join: "Server" = None,
                 database: str = None):
        """`database`: a PostgreSQL URL for `init --database` (the accounts' database; later
        commands need only --data). `join`: a second node of `join`'s cluster (its database is PostgreSQL): this node's data
        directory gets the cluster's secrets key and `init --database` with its URL, and shares
        its banner and services; only the listener ports are its own (service set --local)."""
        self.service = service
        self.ready = ready if ready is not None else READY.get(service, b"+OK")
        self.also = tuple(s for s in also if s != service)
        self._tmp = tempfile.TemporaryDirectory(prefix="mailroom-e2e-")
        self.root = self._tmp.name
        self.data = os.path.join(self.root, "data")
        self.log_path = os.path.join(self.root, "mailroomd.log")
        self.port = None
        self.tls_port = None
        self.ports = {}
        self.tls_ports = {}
        self.proc = None
        self.exit_code = None
        self.rlimit_nofile = None  # (soft, hard) descriptor limit for the daemon, None = inherited
        self.run_as = None  # mailroomd --user NAME; None: keep the test's own identity
        # A unique banner proves the greeting comes from this daemon, not from a parallel test's.
        # SMTP and LMTP greet with their host name: `hostname` is the banner plus a test domain.
        self.banner = "mailroom-e2e-" + secrets.token_hex(6)
        self.hostname = self.banner + ".e2e.test"
        if join is not None:
            self._join(join)
            return
        self.mailctl("init", *(("--database", database) if database else ()))
        if os.environ.get("MAILROOM_E2E_LOOPS"):  # run a suite with that many event loops (docs/scaling.md)
            self.mailctl("daemon", "set", "loops", os.environ["MAILROOM_E2E_LOOPS"])
        for name in DEFAULT_SERVICES:
            if name != service and name not in self.also and name not in DISABLED_BY_DEFAULT:
                self.mailctl("service", "disable", name)
        for name in (service,) + self.also:
            if name in DISABLED_BY_DEFAULT:
                self.mailctl("service", "enable", name)
            self._set_greeting(name)

    def _join(self, first: "Server"):
        self.banner, self.hostname = first.banner, first.hostname
        os.makedirs(self.data, mode=0o700)
        with open(os.path.join(first.data, "secrets.key"), "rb") as f:
            key = f.read()
        fd = os.open(os.path.join(self.data, "secrets.key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        with open(os.path.join(first.data, "database.url")) as f:
            self.mailctl("init", "--database", f.read().strip())

    def shares_database(self) -> bool:
        """On PostgreSQL (init --database): settings are the cluster's, ports are set per node
        (and stay so once set: DATA/node.json outlives a move back to SQLite)."""
        return any(os.path.exists(os.path.join(self.data, f)) for f in ("database.url", "node.json"))

    def _set_greeting(self, name: str):
        setting = GREETING_SETTING.get(name, "banner")
        value = self.banner if setting == "banner" else self.hostname
        self.set(setting, value, service=name)

    # -- provisioning ---------------------------------------------------------------------------

    def mailctl(self, *args, input: bytes = None, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [MAILCTL, "--data", self.data] + [str(a) for a in args]
        proc = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s" % (
                " ".join(cmd), proc.returncode, proc.stdout.decode(errors="replace"),
                proc.stderr.decode(errors="replace")))
        return proc

    def add_postoffice(self, name: str):
        self.mailctl("postoffice", "add", name)

    def add_mailbox(self, address: str, password: str):
        self.mailctl("mailbox", "add", address, "--password", password)

    def deliver(self, address: str, message: bytes):
        self.mailctl("deliver", address, input=message)

    def set(self, key: str, value, service: str = None):
        """Sets one setting of this server's service (or of `service`)."""
        self.mailctl("service", "set", service or self.service, key, str(value))

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self):
        last_error = None
        for _ in range(START_ATTEMPTS):
            self._assign_ports()
            self._spawn()
            try:
                self.wait_greeting(self.banner)
                for name in self.also:
                    self.wait_greeting(self.banner, port=self.ports[name], ready=READY.get(name, b"+OK"))
                return
            except AssertionError as e:
                # Most likely another process took the port between probing and binding.
                last_error = e
                self.stop()
        raise AssertionError("mailroomd did not start after %d attempts: %s\n%s" % (
            START_ATTEMPTS, last_error, self.log_tail()))

    def _assign_ports(self):
        """Distinct free loopback ports (plain and TLS) for the driven service and each of `also`."""
        taken = set()
        for name in (self.service,) + self.also:
            pair = []
            for _ in range(2):
                port = free_port()
                while port in taken:  # the kernel may hand out the same free port twice
                    port = free_port()
                taken.add(port)
                pair.append(port)
            self.ports[name], self.tls_ports[name] = pair
            # On a shared database each node keeps its own ports (a cluster-wide port would move
            # every node's listener).
            scope = ("--local",) if self.shares_database() else ()
            for key, value in (("binds", LOOPBACK), ("port", pair[0]),
                               # Never the default *:995 or *:465: tests stay on loopback and out of each other's way.
                               ("tls_binds", LOOPBACK), ("tls_port", pair[1])):
                self.mailctl("service", "set", *scope, name, key, str(value))
        self.port = self.ports[self.service]
        self.tls_port = self.tls_ports[self.service]

    def _spawn(self):
        self.exit_code = None
        log = open(self.log_path, "ab")
        try:
            limits = self.rlimit_nofile
            user_args = ["--user", self.run_as] if self.run_as else ROOT_KEEPS_ROOT

            def preexec():
                if limits is not None:
                    resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            self.proc = subprocess.Popen([MAILROOMD, "--data", self.data] + user_args, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, preexec_fn=preexec)
        finally:
            log.close()

    def greeting(self, timeout: float = 2.0, port: int = None) -> bytes:
        """Connects, reads the greeting, says QUIT; raises OSError/EOFError/TimeoutError."""
        conn = RawConnection(port or self.port, timeout=timeout)
        try:
            line = conn.readline()
            try:
                conn.send(b"QUIT\r\n")
            except OSError:
                pass
            return line
        finally:
            conn.close()

    def wait_greeting(self, needle: str, timeout: float = START_TIMEOUT, port: int = None,
                      ready: bytes = None) -> bytes:
        """Waits until a fresh connection's greeting is '<ready> ...needle...'; returns it."""
        ready = ready or self.ready
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("mailroomd exited with %d" % self.proc.returncode)
            try:
                last = self.greeting(port=port)
                if last.startswith(ready) and needle.encode() in last:
                    return last
            except (OSError, EOFError, TimeoutError) as e:
                last = repr(e)
            time.sleep(0.1)
        raise AssertionError("no '%s ... %s' greeting on port %s within %.0f s (last: %r)" % (
            ready.decode(), needle, port or self.port, timeout, last))

    def stop(self) -> int:
        """SIGTERM, wait up to 10 s, then SIGKILL. Returns the exit code (negative = signal)."""
        if self.proc is None:
            return self.exit_code
        if stop_process(self.proc):
            with open(self.log_path, "ab") as log:
                log.write(b"e2e: mailroomd ignored SIGTERM for 10 s; killed\n")
        self.exit_code = self.proc.returncode
        self.proc = None
        return self.exit_code

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        try:
            self.stop()
        finally:
            self._tmp.cleanup()

    def log_tail(self, lines: int = 60) -> str:
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return "(no daemon log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- clients --------------------------------------------------------------------------------

    def pop3(self) -> poplib.POP3:
        """A POP3 client of the pop3 service (driven, or running `also`)."""
        return poplib.POP3(LOOPBACK, self.ports["pop3"], timeout=IO_TIMEOUT)

    def login(self, user: str, password: str, in_use_wait: float = 5.0) -> poplib.POP3:
        """A logged-in poplib session. Retries briefly on [IN-USE]: a previous session's lock is
        released asynchronously after its connection closes."""
        deadline = time.monotonic() + in_use_wait
        while True:
            p = self.pop3()
            try:
                p.user(user)
                p.pass_(password)
                return p
            except poplib.error_proto as e:
                p.close()
                reply = e.args[0] if e.args else b""
                if isinstance(reply, str):  # poplib reports EOF as the str '-ERR EOF'
                    reply = reply.encode()
                if b"[IN-USE]" not in reply or time.monotonic() >= deadline:
                    raise
            except BaseException:
                p.close()
                raise
            time.sleep(0.1)

    def raw(self, timeout: float = IO_TIMEOUT) -> RawConnection:
        return RawConnection(self.port, timeout=timeout)


def wait_until(predicate, timeout: float = LIVE_CHANGE_TIMEOUT, interval: float = 0.2, what: str = ""):
    """Polls predicate() (exceptions count as False) until it returns something true, and returns
    that; raises AssertionError (a test failure) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except Exception as e:  # the condition is not reached yet
            last = e
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (timeout, what or predicate, last))


def stop_server(server: Server):
    """Stops `server` (SIGTERM) and removes its files: (exit code, whether it had died before the
    stop, the tail of its log)."""
    crashed = server.proc is not None and server.proc.poll() is not None
    try:
        code = server.stop()
        tail = server.log_tail()
    finally:
        server.cleanup()
    return code, crashed, tail


class ServerTestCase(unittest.TestCase):
    """Gives each test a started server (self.server) and prints the daemon log when a test fails.

    After the test the daemon must still be running and must exit 0 on SIGTERM: a crash or a
    sanitizer report fails the test that caused it. A suite for another service sets `service`
    (and `also`, `ready` when needed; see Server).
    """

    service = "pop3"
    ready = None  # READY[service]
    also = ()     # other services to run, each on its own free ports (see Server)

    def setUp(self):
        self._daemon_log = None
        self.server = Server(self.service, self.ready, also=self.also, database=self.database_url())
        self.addCleanup(self._finish_server, self.server)
        self.provision(self.server)
        self.server.start()

    def database_url(self):
        """Override to keep the server's accounts in that PostgreSQL database (None: SQLite)."""
        return None

    def provision(self, server: Server):
        """Override to add postoffices, mailboxes, mail and settings before the daemon starts."""

    def _finish_server(self, server: Server):
        code, crashed, self._daemon_log = stop_server(server)
        if crashed:
            self.fail("mailroomd died during the test (exit %s)" % code)
        if code is not None and code != 0 and not getattr(self, "expect_nonzero_exit", False):
            self.fail("mailroomd exited %s on SIGTERM (expected 0)" % code)

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before and self._daemon_log_available():
            sys.stderr.write("\n----- mailroomd log tail (%s) -----\n%s\n----- end of log -----\n" % (
                self.id(), self._daemon_log))
        return outcome

    def _daemon_log_available(self) -> bool:
        return getattr(self, "_daemon_log", None) is not None

    # -- helpers shared by the suites -------------------------------------------------------

    def wait_until(self, predicate, timeout: float = LIVE_CHANGE_TIMEOUT, interval: float = 0.2, what: str = ""):
        """Polls predicate() (exceptions count as False) until true; fails the test after timeout."""
        return wait_until(predicate, timeout, interval, what)
