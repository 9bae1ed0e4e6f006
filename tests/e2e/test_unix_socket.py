# The core's unix-domain socket listener (`unix_socket`, `unix_socket_mode`) and `binds none`,
# driven through the pop3 service: a POP3 session over AF_UNIX, the socket file's mode, a stale
# socket file replaced at start, a regular file at the path refused and left alone, live changes
# of the path, the file removed on shutdown, and the IP policy not applying to unix clients.
import json
import os
import socket
import stat
import time
import unittest

from harness import IO_TIMEOUT, LOOPBACK, RawConnection, ServerTestCase

ALICE = "alice@example.test"
ALICE_PW = "alice-secret-1"
SOCKET_NAME = "pop3.sock"


def unix_connect(path: str, timeout: float = IO_TIMEOUT) -> RawConnection:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return RawConnection(0, timeout=timeout, sock=sock)


def leave_stale_socket(path: str):
    """A socket file as a daemon that died leaves it: bound, listened on, closed, never unlinked."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(1)
    sock.close()


class UnixSocketBase(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        server.deliver(ALICE, b"Subject: one\n\nhello over a unix socket\n")
        server.set("unix_socket", SOCKET_NAME)

    @property
    def socket_path(self) -> str:
        return os.path.join(self.server.data, SOCKET_NAME)

    def listeners(self):
        doc = json.loads(self.server.mailctl("service", "status", "--json").stdout)
        return doc["services"]["pop3"]["listeners"]

    def unix_listeners(self):
        return [l for l in self.listeners() if l["kind"] == "unix"]

    def login_over_socket(self):
        """USER/PASS as alice over the unix socket (asserting +OK), then hang up."""
        conn = unix_connect(self.socket_path)
        try:
            conn.login(ALICE, ALICE_PW)
        finally:
            conn.close()

    def wait_unix_greeting(self, path: str) -> bytes:
        def greeted():
            conn = unix_connect(path, timeout=2.0)
            try:
                return conn.readline()
            finally:
                conn.close()
        return self.wait_until(greeted, what="a greeting on " + path)


class UnixSocketTest(UnixSocketBase):
    def test_pop3_session_over_the_unix_socket(self):
        conn = unix_connect(self.socket_path)
        try:
            greeting = conn.readline()
            self.assertTrue(greeting.startswith(b"+OK"), greeting)
            self.assertIn(self.server.banner.encode(), greeting)
            # A unix client is local: plaintext logins are allowed as from loopback.
            self.assertTrue(conn.command("USER " + ALICE).startswith(b"+OK"))
            self.assertTrue(conn.command("PASS " + ALICE_PW).startswith(b"+OK"))
            stat_reply = conn.command("STAT")
            self.assertTrue(stat_reply.startswith(b"+OK 1 "), stat_reply)
            self.assertTrue(conn.command("QUIT").startswith(b"+OK"))
            conn.wait_closed()
        finally:
            conn.close()
        self.assertIn("ip=local", self.server.log_tail(200))

    def test_socket_file_mode_defaults_to_0660_and_follows_the_setting(self):
        self.assertEqual(stat.S_IMODE(os.lstat(self.socket_path).st_mode), 0o660)
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.socket_path).st_mode))
        self.server.set("unix_socket_mode", "0600")
        self.wait_until(lambda: stat.S_IMODE(os.lstat(self.socket_path).st_mode) == 0o600,
                        what="the socket file's mode changed to 0600")
        self.assertNotEqual(self.server.mailctl("service", "set", "pop3", "unix_socket_mode", "0999",
                                                check=False).returncode, 0)

    def test_status_lists_the_unix_listener(self):
        self.assertEqual([(l["bind"], l["listening"]) for l in self.unix_listeners()],
                         [("unix:" + self.socket_path, True)])
        self.assertIn("unix:" + self.socket_path, self.server.mailctl("service", "status").stdout.decode())

    def test_ip_deny_rule_does_not_block_the_unix_client(self):
        self.server.mailctl("access", "add", "pop3", "deny", LOOPBACK)

        def tcp_refused():
            conn = RawConnection(self.server.port, timeout=2.0)
            try:
                conn.readline()
                return False
            except (EOFError, ConnectionResetError):
                return True
            finally:
                conn.close()
        self.wait_until(tcp_refused, what="TCP clients from 127.0.0.1 denied")
        conn = unix_connect(self.socket_path)
        try:
            self.assertTrue(conn.readline().startswith(b"+OK"))
            # Failed logins over the socket never block it (no anti-hammering for unix clients).
            self.server.set("max_login_failures", 1)
            self.assertTrue(conn.command("USER " + ALICE).startswith(b"+OK"))
            self.assertTrue(conn.command("PASS wrong").startswith(b"-ERR"))
        finally:
            conn.close()
        self.login_over_socket()

    def test_changing_the_path_opens_the_new_socket_and_removes_the_old(self):
        self.server.set("unix_socket", "other.sock")
        other = os.path.join(self.server.data, "other.sock")
        self.assertTrue(self.wait_unix_greeting(other).startswith(b"+OK"))
        self.wait_until(lambda: not os.path.exists(self.socket_path), what="the old socket file removed")
        self.server.mailctl("service", "unset", "pop3", "unix_socket")
        self.wait_until(lambda: not os.path.exists(other), what="the socket file removed with the setting")
        self.wait_until(lambda: self.unix_listeners() == [], what="no unix listener in status")

    def test_binds_none_leaves_only_the_unix_socket(self):
        self.server.set("binds", "none")
        self.server.set("tls_binds", "none")

        def tcp_closed():
            try:
                socket.create_connection((LOOPBACK, self.server.port), timeout=2).close()
                return False
            except ConnectionRefusedError:
                return True
        self.wait_until(tcp_closed, what="the TCP listener closed")
        self.assertEqual([l["kind"] for l in self.listeners()], ["unix"])
        self.login_over_socket()

    def test_socket_file_is_removed_on_clean_shutdown(self):
        self.assertTrue(os.path.exists(self.socket_path))
        self.assertEqual(self.server.stop(), 0)
        self.assertFalse(os.path.exists(self.socket_path))


class StaleSocketTest(UnixSocketBase):
    def provision(self, server):
        super().provision(server)
        leave_stale_socket(os.path.join(server.data, SOCKET_NAME))

    def test_a_stale_socket_file_is_replaced_at_start(self):
        self.login_over_socket()


class RegularFileAtPathTest(UnixSocketBase):
    def provision(self, server):
        super().provision(server)
        with open(os.path.join(server.data, SOCKET_NAME), "w") as f:
            f.write("not a socket\n")

    def test_a_regular_file_is_a_bind_error_and_is_left_alone(self):
        failed = self.wait_until(lambda: [l for l in self.unix_listeners() if not l["listening"]],
                                 what="the failed unix bind in service status")
        self.assertIn("not a socket", failed[0]["error"])
        self.assertIn("FAILED", self.server.mailctl("service", "status").stdout.decode())
        self.assertIn("service.bind_failed", self.server.log_tail(200))
        # The TCP listener serves meanwhile, and the file is untouched, even after shutdown.
        self.assertTrue(self.server.greeting().startswith(b"+OK"))
        self.server.stop()
        with open(self.socket_path) as f:
            self.assertEqual(f.read(), "not a socket\n")


if __name__ == "__main__":
    unittest.main()
