# systemd readiness (Type=notify) of a real mailroomd: with $NOTIFY_SOCKET naming a unix datagram
# socket it sends READY=1 once its listeners are open, RELOADING=1 (with MONOTONIC_USEC) and then
# READY=1 around a SIGHUP reload, and STOPPING=1 on SIGTERM. Without $NOTIFY_SOCKET (every other
# e2e test) it sends nothing and runs as before.
import os
import signal
import socket
import time
import unittest

from harness import Server

WAIT = 10.0


class SdNotifyTest(unittest.TestCase):
    def setUp(self):
        self.server = Server("pop3")
        self.addCleanup(self.server.cleanup)
        self.notify_path = os.path.join(self.server.root, "notify")
        self.manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.manager.close)
        self.manager.bind(self.notify_path)

    def receive(self, timeout: float = WAIT) -> str:
        self.manager.settimeout(timeout)
        try:
            return self.manager.recv(4096).decode()
        except socket.timeout:
            self.fail("no notification within %.0f s\n%s" % (timeout, self.server.log_tail()))

    def start_notified(self):
        saved = os.environ.get("NOTIFY_SOCKET")
        os.environ["NOTIFY_SOCKET"] = self.notify_path
        try:
            self.server.start()
        finally:
            if saved is None:
                del os.environ["NOTIFY_SOCKET"]
            else:
                os.environ["NOTIFY_SOCKET"] = saved

    def test_ready_reload_stopping(self):
        self.start_notified()
        # READY=1 goes out before the loop runs, so before the greeting start() waited for.
        self.assertEqual(self.receive(timeout=1.0), "READY=1")

        before_us = time.monotonic_ns() // 1000
        self.server.proc.send_signal(signal.SIGHUP)
        reloading = self.receive().split("\n")
        self.assertEqual(reloading[0], "RELOADING=1")
        self.assertTrue(reloading[1].startswith("MONOTONIC_USEC="), reloading)
        stamp_us = int(reloading[1].split("=", 1)[1])
        self.assertGreaterEqual(stamp_us, before_us)  # the same clock: CLOCK_MONOTONIC
        self.assertLess(stamp_us - before_us, WAIT * 1_000_000)
        self.assertEqual(self.receive(), "READY=1")  # the reload finished
        self.server.wait_greeting(self.server.banner)  # still serving

        self.assertEqual(self.server.stop(), 0)
        self.assertEqual(self.receive(), "STOPPING=1")

    def test_an_unusable_socket_is_logged_and_the_daemon_runs_on(self):
        self.manager.close()
        os.unlink(self.notify_path)  # named, but nobody listens there
        self.start_notified()
        self.server.wait_greeting(self.server.banner)
        self.assertEqual(self.server.stop(), 0)
        with open(self.server.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        self.assertIn("daemon.sd_notify", log)


if __name__ == "__main__":
    unittest.main()
