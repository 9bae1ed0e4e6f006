# End-to-end TLS: STLS and the implicit TLS port seen by real clients (openssl s_client, poplib, curl),
# protocol versions, plaintext injection, login policy, handshake failures and live certificate reload.
import hashlib
import os
import poplib
import random
import shutil
import socket
import ssl
import subprocess
import time
import unittest

from harness import (LIVE_CHANGE_TIMEOUT, LOOPBACK, IO_TIMEOUT, RawConnection, ServerTestCase, crlf, free_port,
                     make_message,
                     retr_bytes)

ALICE = "alice@example.test"
ALICE_PW = "s3cret-tls"
TLS_READY_TIMEOUT = 10.0
CLIENT_TIMEOUT = 30  # seconds for one openssl/curl run


_BIG = {}


def big_message(size: int = 5 * 1024 * 1024) -> bytes:
    """About `size` bytes of lines of 0..120 octets (printable and 8-bit), every 53rd starting with '.'."""
    if size not in _BIG:
        rng = random.Random(995)
        alphabet = bytes(range(0x20, 0x7f)) + bytes(range(0xa0, 0x100))
        table = bytes(alphabet[i % len(alphabet)] for i in range(256))
        noise = rng.randbytes(size).translate(table)
        lines = []
        pos = 0
        n = 0
        while pos < size:
            length = rng.randint(0, 120)
            line = noise[pos:pos + length]
            lines.append(b"." + line if n % 53 == 0 else line)
            pos += length + 1
            n += 1
        _BIG[size] = make_message("big over tls", b"\n".join(lines) + b"\n")
    return _BIG[size]


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def cert_der(path: str) -> bytes:
    with open(path, "r") as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class TlsLines(RawConnection):
    """CRLF lines over an already connected (often ssl) socket, with the harness's bounded reads."""

    def __init__(self, sock, timeout: float = IO_TIMEOUT):
        super().__init__(None, timeout, sock=sock)

    def fill(self, deadline: float, size: int = 65536) -> bool:
        return self._fill(deadline, size)


class TlsTestCase(ServerTestCase):
    """A started server with an implicit TLS listener on 127.0.0.1 and a 'localhost' certificate."""

    messages = ()

    def provision(self, server):
        server.tls_port = free_port()
        server.set("tls_port", server.tls_port)
        server.set("tls_binds", LOOPBACK)
        server.mailctl("cert", "generate", "--hostname", "localhost")
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        self.delivered = []
        for m in self.messages_to_deliver():
            server.deliver(ALICE, m)
            self.delivered.append(m)
        self.tune(server)

    def messages_to_deliver(self):
        return [make_message("first", b"Hello over TLS.\n.dotted\n"), make_message("second", b"Two.\n")]

    def tune(self, server):
        """Extra settings before start."""

    def setUp(self):
        super().setUp()
        self.wait_tls_ready()

    # -- paths and contexts -------------------------------------------------------------------

    @property
    def cert_path(self) -> str:
        return os.path.join(self.server.data, "tls", "cert.pem")

    @property
    def key_path(self) -> str:
        return os.path.join(self.server.data, "tls", "key.pem")

    @property
    def tls_port(self) -> int:
        return self.server.tls_port

    def client_context(self, minimum=None, maximum=None, verify=True) -> ssl.SSLContext:
        """Trusts exactly the generated certificate; the name checked is the IP 127.0.0.1 (in its SAN)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify:
            ctx.load_verify_locations(cafile=self.cert_path)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
        return ctx

    def wait_tls_ready(self):
        """start() only waits for the plain port: wait for a TLS greeting with our banner too. If the
        probed port was taken meanwhile, move the TLS listener to another one (a live change)."""
        last = None
        for _ in range(3):
            deadline = time.monotonic() + TLS_READY_TIMEOUT
            while time.monotonic() < deadline:
                try:
                    p = poplib.POP3_SSL(LOOPBACK, self.tls_port, timeout=2,
                                        context=self.client_context(verify=False))
                    try:
                        welcome = p.getwelcome()
                    finally:
                        p.close()
                    if self.server.banner.encode() in welcome:
                        return
                    last = welcome
                except (OSError, EOFError, poplib.error_proto) as e:
                    last = e
                time.sleep(0.1)
            if "bind_failed" not in self.server.log_tail(200):
                break
            self.server.tls_port = free_port()
            self.server.set("tls_port", self.server.tls_port)
        self.fail("implicit TLS port %d not serving within %.0f s (last: %r)\n%s" % (
            self.tls_port, TLS_READY_TIMEOUT, last, self.server.log_tail()))

    # -- clients ------------------------------------------------------------------------------

    def pop3_ssl(self, ctx=None) -> poplib.POP3_SSL:
        p = poplib.POP3_SSL(LOOPBACK, self.tls_port, timeout=IO_TIMEOUT, context=ctx or self.client_context())
        self.addCleanup(p.close)
        return p

    def pop3_stls(self, ctx=None) -> poplib.POP3:
        p = poplib.POP3(LOOPBACK, self.server.port, timeout=IO_TIMEOUT)
        self.addCleanup(p.close)
        p.stls(ctx or self.client_context())
        return p

    def login(self, p, user=ALICE, password=ALICE_PW):
        self.assertTrue(p.user(user).startswith(b"+OK"))
        self.assertTrue(p.pass_(password).startswith(b"+OK"))
        return p

    def raw_plain(self, timeout=IO_TIMEOUT) -> TlsLines:
        conn = TlsLines(socket.create_connection((LOOPBACK, self.server.port), timeout=timeout), timeout)
        self.addCleanup(conn.close)
        return conn

    def raw_tls(self, ctx=None, timeout=IO_TIMEOUT, sock=None) -> TlsLines:
        if sock is None:
            sock = socket.create_connection((LOOPBACK, self.tls_port), timeout=timeout)
        sock.settimeout(timeout)
        tls = (ctx or self.client_context()).wrap_socket(sock, server_hostname=LOOPBACK)
        conn = TlsLines(tls, timeout)
        self.addCleanup(conn.close)
        return conn

    def s_client(self, args, stdin: bytes = b"") -> subprocess.CompletedProcess:
        if not have("openssl"):
            self.skipTest("openssl is not installed")
        return subprocess.run(["openssl", "s_client"] + [str(a) for a in args], input=stdin,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CLIENT_TIMEOUT)

    def peer_cert(self) -> bytes:
        """DER of the certificate a new implicit-TLS connection is shown (not verified)."""
        p = poplib.POP3_SSL(LOOPBACK, self.tls_port, timeout=IO_TIMEOUT, context=self.client_context(verify=False))
        try:
            return p.sock.getpeercert(binary_form=True)
        finally:
            p.close()

    def assert_retr_exact(self, p, n, message):
        resp, lines, octets = p.retr(n)
        self.assertTrue(resp.startswith(b"+OK"), resp)
        got = retr_bytes(lines)
        expected = crlf(message)
        self.assertEqual(len(got), len(expected))
        self.assertTrue(got == expected, "RETR %d differs from the delivered message" % n)
        self.assertEqual(octets, len(expected))
        fields = p.list(n).split()
        self.assertEqual(int(fields[2]), len(expected), "LIST size != octets")


class TlsClientsTest(TlsTestCase):
    """Real clients over STLS and implicit TLS; capabilities; plaintext injection; junk on the TLS port."""

    def test_openssl_s_client_starttls_logs_in_and_stats(self):
        proc = self.s_client(["-starttls", "pop3", "-connect", "%s:%d" % (LOOPBACK, self.server.port),
                              "-CAfile", self.cert_path, "-verify_return_error", "-verify_ip", LOOPBACK, "-quiet"],
                             stdin=("USER %s\r\nPASS %s\r\nSTAT\r\nQUIT\r\n" % (ALICE, ALICE_PW)).encode())
        out = proc.stdout
        total = sum(len(crlf(m)) for m in self.delivered)
        self.assertRegex(out, rb"\+OK %d %d\r\n" % (len(self.delivered), total),
                         "stdout: %r\nstderr: %r" % (out, proc.stderr))
        self.assertNotIn(b"-ERR", out)
        self.assertEqual(proc.returncode, 0, proc.stderr[-500:])  # e.g. no close_notify: "unexpected eof"
        self.assertNotIn(b"verify error", proc.stderr)

    def test_openssl_s_client_implicit_tls_logs_in_and_stats(self):
        proc = self.s_client(["-connect", "%s:%d" % (LOOPBACK, self.tls_port), "-CAfile", self.cert_path,
                              "-verify_return_error", "-verify_ip", LOOPBACK, "-quiet"],
                             stdin=("USER %s\r\nPASS %s\r\nSTAT\r\nQUIT\r\n" % (ALICE, ALICE_PW)).encode())
        out = proc.stdout
        self.assertTrue(out.startswith(b"+OK " + self.server.banner.encode()), out[:200])
        total = sum(len(crlf(m)) for m in self.delivered)
        self.assertRegex(out, rb"\+OK %d %d\r\n" % (len(self.delivered), total),
                         "stdout: %r\nstderr: %r" % (out, proc.stderr))
        self.assertNotIn(b"-ERR", out)
        self.assertEqual(proc.returncode, 0, proc.stderr[-500:])  # e.g. no close_notify: "unexpected eof"

    def test_poplib_stls_verifies_certificate_and_hides_stls_afterwards(self):
        p = poplib.POP3(LOOPBACK, self.server.port, timeout=IO_TIMEOUT)
        self.addCleanup(p.close)
        before = p.capa()
        self.assertIn("STLS", before)
        self.assertIn("USER", before)  # loopback is exempt from tls_required_for_login by default
        p.stls(self.client_context())
        self.assertIn(p.sock.version(), ("TLSv1.2", "TLSv1.3"))
        after = p.capa()
        self.assertNotIn("STLS", after)
        self.assertIn("USER", after)
        self.login(p)
        self.assertEqual(p.stat(), (len(self.delivered), sum(len(crlf(m)) for m in self.delivered)))
        self.assert_retr_exact(p, 1, self.delivered[0])
        # A second STLS inside TLS is refused (it is no longer offered either).
        with self.assertRaises(poplib.error_proto):
            p._shortcmd("STLS")
        self.assertTrue(p.quit().startswith(b"+OK"))

    def test_poplib_pop3_ssl_on_implicit_port(self):
        p = self.pop3_ssl()
        self.assertIn(self.server.banner.encode(), p.getwelcome())
        caps = p.capa()
        self.assertNotIn("STLS", caps)
        self.assertIn("USER", caps)
        self.login(p)
        self.assert_retr_exact(p, 2, self.delivered[1])
        with self.assertRaises(poplib.error_proto):
            p._shortcmd("STLS")
        self.assertTrue(p.quit().startswith(b"+OK"))

    def test_stls_refused_on_the_implicit_tls_port(self):
        p = self.pop3_ssl()
        with self.assertRaises(poplib.error_proto) as cm:
            p._shortcmd("STLS")
        self.assertTrue(cm.exception.args[0].startswith(b"-ERR"), cm.exception.args)
        self.assertIn("USER", p.capa())  # the session is still usable

    def curl(self, url, *extra):
        if not have("curl"):
            self.skipTest("curl is not installed")
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        proc = subprocess.run(
            ["curl", "-s", "-S", "-v", "--max-time", "20", "--cacert", self.cert_path,
             "--resolve", "localhost:%d:%s" % (port, LOOPBACK), url, "-u", "%s:%s" % (ALICE, ALICE_PW)] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CLIENT_TIMEOUT)
        if proc.returncode != 0:
            trace = [l for l in proc.stderr.decode(errors="replace").splitlines()
                     if l[:2] in ("< ", "> ") or "failed" in l or "rror" in l]
            self.fail("curl %s failed (exit %d). Note: curl uses APOP when the greeting has a timestamp and "
                      "CAPA lists no SASL. Protocol trace:\n%s" % (url, proc.returncode, "\n".join(trace[-25:])))
        return proc.stdout

    def test_curl_pop3s_retrieves_a_message(self):
        got = self.curl("pop3s://localhost:%d/1" % self.tls_port)
        self.assertEqual(got, crlf(self.delivered[0]))

    def test_curl_ssl_reqd_uses_stls(self):
        got = self.curl("pop3://localhost:%d/2" % self.server.port, "--ssl-reqd")
        self.assertEqual(got, crlf(self.delivered[1]))

    def test_capa_pipelined_with_stls_is_discarded(self):
        conn = self.raw_plain()
        greeting = conn.readline()
        self.assertTrue(greeting.startswith(b"+OK"), greeting)
        conn.send(b"STLS\r\nCAPA\r\n")  # one segment: CAPA is read together with STLS
        reply = conn.readline()
        self.assertTrue(reply.startswith(b"+OK Begin TLS"), reply)
        self.assertEqual(conn.buf, b"", "plaintext after the STLS reply: %r" % conn.buf)
        tls = self.raw_tls(sock=conn.sock)
        # After the handshake the server must not answer the injected CAPA.
        self.assertEqual(tls.nothing_more(0.5), b"", "server answered a command sent before the handshake")
        tls.send(b"CAPA\r\n")
        self.assertEqual(tls.readline(), b"+OK Capability list follows")
        caps = tls.read_multiline()
        self.assertNotIn(b"STLS", caps)
        self.assertIn(b"USER", caps)
        self.assertEqual(tls.command("NOOP")[:4], b"-ERR")  # NOOP is a TRANSACTION command: the next line is ours
        self.assertEqual(tls.nothing_more(0.3), b"", "more than one reply to our CAPA")

    def test_user_sent_before_stls_is_forgotten(self):
        conn = self.raw_plain()
        conn.readline()
        self.assertTrue(conn.command("USER " + ALICE).startswith(b"+OK"))
        self.assertTrue(conn.command("STLS").startswith(b"+OK"))
        tls = self.raw_tls(sock=conn.sock)
        reply = tls.command("PASS " + ALICE_PW)
        self.assertTrue(reply.startswith(b"-ERR"), reply)
        self.assertTrue(tls.command("USER " + ALICE).startswith(b"+OK"))
        self.assertTrue(tls.command("PASS " + ALICE_PW).startswith(b"+OK"))
        self.assertTrue(tls.command("QUIT").startswith(b"+OK"))

    def test_plain_login_from_loopback_allowed_by_default(self):
        p = poplib.POP3(LOOPBACK, self.server.port, timeout=IO_TIMEOUT)
        self.addCleanup(p.close)
        self.login(p)
        self.assertEqual(p.stat()[0], len(self.delivered))
        p.quit()

    def test_quit_over_tls_ends_with_close_notify(self):
        sock = socket.create_connection((LOOPBACK, self.tls_port), timeout=IO_TIMEOUT)
        tls = self.client_context().wrap_socket(sock, server_hostname=LOOPBACK, suppress_ragged_eofs=False)
        conn = TlsLines(tls)
        self.addCleanup(conn.close)
        self.assertTrue(conn.readline().startswith(b"+OK"))
        self.assertTrue(conn.command("QUIT").startswith(b"+OK"))
        tls.settimeout(5.0)
        try:
            rest = tls.recv(1024)
        except ssl.SSLEOFError:
            self.fail("the server closed the TLS connection without close_notify after QUIT (RFC 8446 6.1; "
                      "openssl s_client reports 'unexpected eof while reading' and exits 1)")
        self.assertEqual(rest, b"")

    def test_busy_service_refuses_tls_client_promptly(self):
        self.server.set("max_connections", 1)
        hold = self.pop3_ssl()  # the one allowed connection

        def plain_busy():
            c = TlsLines(socket.create_connection((LOOPBACK, self.server.port), timeout=2), 2)
            try:
                return b"[SYS/TEMP]" in c.readline()
            finally:
                c.close()

        self.wait_until(plain_busy, what="the busy reply once max_connections is 1")
        # On the TLS port the refusal must come quickly: the reply over TLS, or at least a prompt close.
        start = time.monotonic()
        try:
            p = poplib.POP3_SSL(LOOPBACK, self.tls_port, timeout=5, context=self.client_context())
            try:
                welcome = p.getwelcome()
            finally:
                p.close()
            self.fail("a TLS client got %r past max_connections" % welcome)
        except poplib.error_proto as e:
            self.assertIn(b"[SYS/TEMP]", e.args[0])
        except (ssl.SSLError, ConnectionError, EOFError):
            pass  # closed without a reply (the busy reply is not sent over TLS)
        self.assertLess(time.monotonic() - start, 4.0)
        self.assertIn("USER", hold.capa())  # the held session is untouched

    def test_plaintext_on_tls_port_is_closed_and_logged(self):
        sock = socket.create_connection((LOOPBACK, self.tls_port), timeout=IO_TIMEOUT)
        self.addCleanup(sock.close)
        sock.sendall(b"USER x\r\n")
        received = b""
        deadline = time.monotonic() + 5.0
        while True:
            remaining = deadline - time.monotonic()
            self.assertGreater(remaining, 0, "TLS port kept a plaintext client open (got %r)" % received[:100])
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(4096)
            except ConnectionResetError:
                break
            except socket.timeout:
                continue
            if not chunk:
                break
            received += chunk
        self.assertNotIn(b"+OK", received)
        self.assertNotIn(b"-ERR", received)  # no plaintext reply, at most a TLS alert record
        if received:
            self.assertEqual(received[0], 0x15, "expected a TLS alert record, got %r" % received[:20])
        # The daemon keeps serving TLS.
        p = self.pop3_ssl()
        self.login(p)
        p.quit()
        self.wait_until(lambda: "tls.handshake_failed" in self.server.log_tail(500), timeout=5,
                        what="tls.handshake_failed in the daemon log")


class TlsVersionTest(TlsTestCase):
    """TLS 1.2 and 1.3 by default; 1.0/1.1 only when tls_min_version allows; SSLv3 never."""

    def s_client_implicit(self, *args):
        return self.s_client(["-connect", "%s:%d" % (LOOPBACK, self.tls_port), "-quiet"] + list(args),
                             stdin=b"QUIT\r\n")

    def greeted(self, proc) -> bool:
        return (b"+OK " + self.server.banner.encode()) in proc.stdout

    def test_tls12_and_tls13_succeed_on_both_ports(self):
        for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            with self.subTest(version=name, port="implicit"):
                p = self.pop3_ssl(self.client_context(minimum=version, maximum=version))
                self.assertEqual(p.sock.version(), name)
                self.login(p)
                p.quit()
            with self.subTest(version=name, port="stls"):
                p = self.pop3_stls(self.client_context(minimum=version, maximum=version))
                self.assertEqual(p.sock.version(), name)
                self.login(p)
                p.quit()
        # The default TLS 1.2 ciphers are forward-secret AEAD ones.
        p = self.pop3_ssl(self.client_context(maximum=ssl.TLSVersion.TLSv1_2))
        cipher = p.sock.cipher()[0]
        self.assertRegex(cipher, r"^(ECDHE|DHE)-.*(GCM|CHACHA20)", cipher)
        p.quit()

    def test_openssl_tls12_and_tls13_succeed(self):
        for flag in ("-tls1_2", "-tls1_3"):
            with self.subTest(flag=flag):
                proc = self.s_client_implicit(flag, "-CAfile", self.cert_path, "-verify_return_error")
                self.assertTrue(self.greeted(proc), "stdout %r stderr %r" % (proc.stdout, proc.stderr[-500:]))

    def test_tls10_and_tls11_refused_by_default_accepted_with_legacy(self):
        old = ("-cipher", "DEFAULT@SECLEVEL=0")
        for flag in ("-tls1", "-tls1_1"):
            with self.subTest(flag=flag, setting="default"):
                proc = self.s_client_implicit(flag, *old)
                self.assertFalse(self.greeted(proc), "%s handshake succeeded: %r" % (flag, proc.stdout))
                self.assertNotEqual(proc.returncode, 0)
        self.server.set("tls_min_version", "legacy")
        for flag in ("-tls1", "-tls1_1"):
            with self.subTest(flag=flag, setting="legacy"):
                deadline = time.monotonic() + LIVE_CHANGE_TIMEOUT
                while True:
                    proc = self.s_client_implicit(flag, *old)
                    if self.greeted(proc):
                        break
                    if time.monotonic() >= deadline:
                        err = proc.stderr.decode(errors="replace")
                        if "no protocols available" in err or "no ciphers available" in err:
                            self.skipTest("the local OpenSSL client refuses %s itself: %s" % (flag, err[-300:]))
                        self.fail("%s not accepted within %.0f s after tls_min_version legacy: %s" % (
                            flag, LIVE_CHANGE_TIMEOUT, err[-500:]))
                    time.sleep(0.3)
                # And a real session works at that version.
                proc = self.s_client(["-connect", "%s:%d" % (LOOPBACK, self.tls_port), "-quiet", flag] + list(old),
                                     stdin=("USER %s\r\nPASS %s\r\nSTAT\r\nQUIT\r\n" % (ALICE, ALICE_PW)).encode())
                self.assertRegex(proc.stdout, rb"\+OK %d \d+\r\n" % len(self.delivered))
        # STLS honours the setting too.
        proc = self.s_client(["-starttls", "pop3", "-connect", "%s:%d" % (LOOPBACK, self.server.port), "-quiet",
                              "-tls1"] + list(old), stdin=b"CAPA\r\nQUIT\r\n")
        self.assertIn(b"+OK Capability list follows", proc.stdout, proc.stderr[-500:])

    def test_min_version_13_refuses_tls12(self):
        self.server.set("tls_min_version", "1.3")
        tls12 = self.client_context(maximum=ssl.TLSVersion.TLSv1_2)

        def refused():
            try:
                p = poplib.POP3_SSL(LOOPBACK, self.tls_port, timeout=IO_TIMEOUT, context=tls12)
            except (ssl.SSLError, OSError):
                return True
            p.close()
            return False

        self.wait_until(refused, what="TLS 1.2 refused after tls_min_version 1.3")
        p = self.pop3_ssl(self.client_context(minimum=ssl.TLSVersion.TLSv1_3))
        self.assertEqual(p.sock.version(), "TLSv1.3")
        p.quit()

    def test_sslv3_is_refused_by_mailctl(self):
        proc = self.server.mailctl("service", "set", "pop3", "tls_min_version", "ssl3", check=False)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn("SSLv3", (proc.stdout + proc.stderr).decode(errors="replace"))
        # The running service still speaks TLS 1.2.
        p = self.pop3_ssl(self.client_context(maximum=ssl.TLSVersion.TLSv1_2))
        self.assertEqual(p.sock.version(), "TLSv1.2")
        p.quit()


class TlsRequiredForLoginTest(TlsTestCase):
    """tls_required_for_login with the loopback exemption switched off."""

    def tune(self, server):
        server.set("plaintext_login_from_loopback", "off")

    def test_plain_user_refused_and_hidden(self):
        conn = self.raw_plain()
        conn.readline()
        conn.send(b"CAPA\r\n")
        self.assertTrue(conn.readline().startswith(b"+OK"))
        caps = conn.read_multiline()
        self.assertNotIn(b"USER", caps)
        self.assertIn(b"STLS", caps)
        reply = conn.command("USER " + ALICE)
        self.assertTrue(reply.startswith(b"-ERR [AUTH]"), reply)
        reply = conn.command("PASS " + ALICE_PW)
        self.assertTrue(reply.startswith(b"-ERR [AUTH]"), reply)
        self.assertTrue(conn.command("QUIT").startswith(b"+OK"))

    def test_login_after_stls_works(self):
        p = poplib.POP3(LOOPBACK, self.server.port, timeout=IO_TIMEOUT)
        self.addCleanup(p.close)
        self.assertNotIn("USER", p.capa())
        p.stls(self.client_context())
        self.assertIn("USER", p.capa())
        self.login(p)
        self.assertEqual(p.stat()[0], len(self.delivered))
        p.quit()

    def test_login_on_implicit_port_works(self):
        p = self.pop3_ssl()
        self.assertIn("USER", p.capa())
        self.login(p)
        self.assertEqual(p.stat()[0], len(self.delivered))
        p.quit()

    def test_curl_without_tls_cannot_log_in(self):
        if not have("curl"):
            self.skipTest("curl is not installed")
        proc = subprocess.run(["curl", "-s", "-S", "--max-time", "20", "pop3://%s:%d/1" % (LOOPBACK, self.server.port),
                               "-u", "%s:%s" % (ALICE, ALICE_PW)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CLIENT_TIMEOUT)
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, b"")


class TlsLargeMessageTest(TlsTestCase):
    """5 MB byte-exact over implicit TLS and STLS, also to a client that reads slowly."""

    def messages_to_deliver(self):
        return [big_message(), make_message("small", b"small one\n")]

    def tune(self, server):
        server.set("output_buffer_size", 65536)  # reach the high-water mark often

    def test_retr_5mb_over_implicit_tls(self):
        p = self.login(self.pop3_ssl())
        self.assert_retr_exact(p, 1, self.delivered[0])
        self.assert_retr_exact(p, 2, self.delivered[1])
        p.quit()

    def test_retr_5mb_over_stls(self):
        p = self.login(self.pop3_stls())
        self.assert_retr_exact(p, 1, self.delivered[0])
        p.quit()

    def test_slow_reader_gets_5mb_exact(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # let the server's queue fill up
        sock.settimeout(IO_TIMEOUT)
        sock.connect((LOOPBACK, self.tls_port))
        conn = self.raw_tls(sock=sock)
        self.assertTrue(conn.readline().startswith(b"+OK"))
        self.assertTrue(conn.command("USER " + ALICE).startswith(b"+OK"))
        self.assertTrue(conn.command("PASS " + ALICE_PW).startswith(b"+OK"))
        conn.send(b"RETR 1\r\n")
        slow_until = time.monotonic() + 2.5
        while time.monotonic() < slow_until:
            conn.fill(time.monotonic() + IO_TIMEOUT, size=1024)
            time.sleep(0.005)
        slow_bytes = len(conn.buf)
        self.assertLess(slow_bytes, len(self.delivered[0]), "the slow phase already read everything")
        self.assertTrue(conn.readline().startswith(b"+OK"))
        lines = conn.read_multiline(timeout=60)
        got = retr_bytes(lines)
        expected = crlf(self.delivered[0])
        self.assertEqual(len(got), len(expected))
        self.assertTrue(got == expected, "slowly read RETR differs")
        # The session is still in step afterwards.
        self.assertEqual(conn.command("STAT"), b"+OK 2 %d" % sum(len(crlf(m)) for m in self.delivered))
        self.assertTrue(conn.command("QUIT").startswith(b"+OK"))


class TlsIdleHandshakeTest(TlsTestCase):
    """A client that stalls in the handshake is dropped by idle_timeout."""

    def tune(self, server):
        server.set("idle_timeout", 2)

    def wait_eof(self, sock, timeout: float) -> float:
        """Seconds until the server closes `sock`; fails after `timeout`."""
        start = time.monotonic()
        deadline = start + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.fail("server kept a stalled handshake open for %.0f s" % timeout)
            sock.settimeout(remaining)
            try:
                if not sock.recv(65536):
                    return time.monotonic() - start
            except ConnectionResetError:
                return time.monotonic() - start
            except socket.timeout:
                continue

    def test_silent_client_on_tls_port_is_dropped(self):
        sock = socket.create_connection((LOOPBACK, self.tls_port), timeout=IO_TIMEOUT)
        self.addCleanup(sock.close)
        elapsed = self.wait_eof(sock, 10.0)
        self.assertGreater(elapsed, 1.0, "closed before idle_timeout")

    def test_client_stalled_after_client_hello_is_dropped(self):
        sock = socket.create_connection((LOOPBACK, self.tls_port), timeout=IO_TIMEOUT)
        self.addCleanup(sock.close)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = self.client_context().wrap_bio(incoming, outgoing, server_hostname=LOOPBACK)
        with self.assertRaises(ssl.SSLWantReadError):
            obj.do_handshake()
        sock.sendall(outgoing.read())  # the ClientHello; the server answers, we never continue
        start = time.monotonic()
        elapsed = self.wait_eof(sock, 10.0)
        self.assertGreater(time.monotonic() - start, 1.0)
        self.assertLess(elapsed, 10.0)

    def test_idle_tls_session_gets_goodbye_over_tls(self):
        conn = self.raw_tls()
        self.assertTrue(conn.readline().startswith(b"+OK"))
        self.assertTrue(conn.command("USER " + ALICE).startswith(b"+OK"))
        self.assertTrue(conn.command("PASS " + ALICE_PW).startswith(b"+OK"))
        start = time.monotonic()
        line = conn.readline(timeout=10)
        self.assertGreater(time.monotonic() - start, 1.0)
        self.assertTrue(line.startswith(b"-ERR"), line)
        with self.assertRaises(EOFError):
            conn.readline(timeout=5)

    def test_client_stalled_after_stls_is_dropped(self):
        conn = self.raw_plain()
        conn.readline()
        self.assertTrue(conn.command("STLS").startswith(b"+OK"))
        self.assertGreater(self.wait_eof(conn.sock, 10.0), 1.0)
        # The service is fine afterwards.
        p = self.login(self.pop3_ssl())
        p.quit()


class TlsCertificateReloadTest(TlsTestCase):
    """Replaced certificates are served to new connections without a restart; bad ones never are."""

    def wait_for_cert(self, der: bytes, what: str):
        self.wait_until(lambda: self.peer_cert() == der, what=what)

    def test_regenerated_certificate_is_served_live_and_old_session_survives(self):
        old_der = cert_der(self.cert_path)
        self.assertEqual(self.peer_cert(), old_der)
        old_session = self.login(self.pop3_ssl())
        self.server.mailctl("cert", "generate", "--hostname", "localhost")
        new_der = cert_der(self.cert_path)
        self.assertNotEqual(fingerprint(new_der), fingerprint(old_der))
        self.wait_for_cert(new_der, "the regenerated certificate on new connections")
        # The old session keeps its context and works.
        self.assertEqual(old_session.sock.getpeercert(binary_form=True), old_der)
        self.assertEqual(old_session.stat()[0], len(self.delivered))
        self.assertTrue(old_session.quit().startswith(b"+OK"))
        # New clients verify against the new certificate (STLS too).
        p = self.login(self.pop3_stls())
        self.assertEqual(p.sock.getpeercert(binary_form=True), new_der)
        p.quit()

    def make_pair(self, name: str):
        cert = os.path.join(self.server.root, name + "-cert.pem")
        key = os.path.join(self.server.root, name + "-key.pem")
        proc = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                               "-out", cert, "-days", "30", "-subj", "/CN=localhost",
                               "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CLIENT_TIMEOUT)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return cert, key

    def test_import_of_mismatched_pair_fails_and_keeps_serving(self):
        if not have("openssl"):
            self.skipTest("openssl is not installed")
        current = cert_der(self.cert_path)
        with open(self.cert_path, "rb") as f:
            cert_before = f.read()
        with open(self.key_path, "rb") as f:
            key_before = f.read()
        good_cert, good_key = self.make_pair("good")
        other_cert, other_key = self.make_pair("other")
        proc = self.server.mailctl("cert", "import", good_cert, other_key, check=False)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn("does not match", (proc.stdout + proc.stderr).decode(errors="replace"))
        with open(self.cert_path, "rb") as f:
            self.assertEqual(f.read(), cert_before)
        with open(self.key_path, "rb") as f:
            self.assertEqual(f.read(), key_before)
        time.sleep(2.5)  # more than the daemon's poll interval
        self.assertEqual(self.peer_cert(), current)
        p = self.login(self.pop3_ssl())
        p.quit()
        # A matching pair imports and is served live.
        self.server.mailctl("cert", "import", good_cert, good_key)
        self.wait_for_cert(cert_der(good_cert), "the imported certificate on new connections")

    def test_broken_certificate_file_keeps_previous_context(self):
        current = cert_der(self.cert_path)
        with open(self.cert_path + ".tmp", "wb") as f:
            f.write(b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        os.replace(self.cert_path + ".tmp", self.cert_path)
        self.wait_until(lambda: "tls.context_failed" in self.server.log_tail(500),
                        what="tls.context_failed in the daemon log")
        self.assertEqual(self.peer_cert(), current)
        p = self.login(self.pop3_stls(self.client_context(verify=False)))
        self.assertEqual(p.sock.getpeercert(binary_form=True), current)
        p.quit()


if __name__ == "__main__":
    unittest.main()
