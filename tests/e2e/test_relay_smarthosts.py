"""The relay against another SMTP implementation as smarthost (issue 17): aiosmtpd (Debian's
python3-aiosmtpd) on loopback, so AUTH and STARTTLS are checked against a server that is not
Mailroom's own (which offers no AUTH). One mailroomd (A) whose queue is filled by the test-only
tool queue_fill; each case points A's `smarthost` at its own aiosmtpd server.

Checked: STARTTLS then AUTH PLAIN (the credentials from smarthost_user/smarthost_password
reach the server, the message and envelope arrive); AUTH LOGIN when PLAIN is not offered;
refused credentials defer the message (nothing delivered, the reason in `queue list`); a
smarthost without STARTTLS gets nothing (no MAIL, no AUTH) unless smarthost_tls is none.
"""
import json
import os
import ssl
import subprocess
import sys
import threading
import unittest

try:
    import aiosmtpd  # noqa: F401
except ImportError:  # Debian's python3-aiosmtpd, when the tests run on another Python
    sys.path.append("/usr/lib/python3/dist-packages")
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from harness import MAILCTL, LOOPBACK, Server, ServerTestCase, free_port, make_message

QUEUE_FILL = os.environ.get("QUEUE_FILL") or os.path.join(os.path.dirname(MAILCTL), "tests", "queue_fill")

ALICE = "alice@local.test"
RCPT = "dave@far.test"
USER, PASSWORD = "relay-user", "relay-secret-1"
RELAY_WAIT = 15.0  # the relay scans every 2 s


class Smarthost:
    """One aiosmtpd server on loopback recording what it was sent and who logged in."""

    def __init__(self, cert: str, key: str, tls: bool = True, mechanisms=("PLAIN", "LOGIN")):
        self.messages, self.logins, self.commands = [], [], []
        self.lock = threading.Lock()
        kwargs = {}
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            kwargs.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        else:
            kwargs.update(auth_require_tls=False)
        excluded = [m for m in ("PLAIN", "LOGIN") if m not in mechanisms]
        self.port = free_port()
        self.controller = Controller(self, hostname=LOOPBACK, port=self.port, authenticator=self.authenticate,
                                     auth_exclude_mechanism=excluded, **kwargs)
        self.controller.start()

    def stop(self):
        self.controller.stop()

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and \
            auth_data.password == PASSWORD.encode()
        with self.lock:
            self.logins.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd sends the 535 itself

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            self.commands.append("MAIL")
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content,
                                  session.authenticated))
        return "250 2.0.0 queued here"


class RelaySmarthostsTest(ServerTestCase):
    service = "pop3"

    def provision(self, server: Server):
        server.add_postoffice("local.test")
        server.add_mailbox(ALICE, "alice-pw")
        self.cert = os.path.join(server.data, "tls", "cert.pem")  # 127.0.0.1 is among its SANs
        self.key = os.path.join(server.data, "tls", "key.pem")
        server.mailctl("daemon", "set", "smarthost_ca_file", self.cert)
        server.mailctl("daemon", "set", "smarthost_user", USER)
        server.mailctl("daemon", "set", "smarthost_password", PASSWORD)
        server.mailctl("daemon", "set", "queue_retry_min", 300)  # a deferred entry stays put

    def smarthost(self, **kwargs) -> Smarthost:
        host = Smarthost(self.cert, self.key, **kwargs)
        self.addCleanup(host.stop)
        return host

    def set_live(self, key, value, shown=None):
        """Sets a daemon-wide setting and waits for the daemon to log that it applies it."""
        line = "event=daemon.setting key=%s value=%s" % (key, shown if shown is not None else value)
        before = self.server.log_tail(100000).count(line)
        self.server.mailctl("daemon", "set", key, value)
        self.wait_until(lambda: self.server.log_tail(100000).count(line) > before, what="%s applied" % key)

    def point_at(self, host: Smarthost):
        self.set_live("smarthost", "%s:%d" % (LOOPBACK, host.port))

    def enqueue(self, subject: str) -> str:
        message = make_message(subject, b"through another smarthost\n", sender=ALICE.encode(), to=RCPT.encode())
        p = subprocess.run([QUEUE_FILL, "add", self.server.data, ALICE, RCPT], input=message,
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode().strip()

    def queue(self) -> list:
        return json.loads(self.server.mailctl("queue", "list", "--json").stdout)

    def attempted(self, entry_id: str):
        entry = next((e for e in self.queue() if e["id"] == entry_id), None)
        return entry if entry and entry["attempts"] >= 1 else None

    def test_starttls_and_auth_plain(self):
        host = self.smarthost()
        self.point_at(host)
        self.enqueue("plain auth")
        self.wait_until(lambda: not self.queue(), timeout=RELAY_WAIT, what="the queue empties")
        self.assertEqual(host.logins, [("PLAIN", True)])
        sender, rcpts, content, authenticated = host.messages[0]
        self.assertEqual((sender, rcpts, authenticated), (ALICE, [RCPT], True))
        self.assertIn(b"Subject: plain auth", content)
        with open(self.server.log_path, "rb") as f:
            self.assertNotIn(PASSWORD.encode(), f.read())

    def test_auth_login_when_plain_is_not_offered(self):
        host = self.smarthost(mechanisms=("LOGIN",))
        self.point_at(host)
        self.enqueue("login auth")
        self.wait_until(lambda: not self.queue(), timeout=RELAY_WAIT, what="the queue empties")
        self.assertEqual(host.logins, [("LOGIN", True)])
        self.assertEqual(len(host.messages), 1)

    def test_refused_credentials_defer_and_send_nothing(self):
        host = self.smarthost()
        self.point_at(host)
        self.set_live("smarthost_password", "not-the-password", shown="(set)")
        entry_id = self.enqueue("wrong password")
        entry = self.wait_until(lambda: self.attempted(entry_id), timeout=RELAY_WAIT, what="one attempt")
        self.assertIn("refused the credentials", entry["last_error"])
        self.assertEqual(entry["recipients"][0]["state"], "pending")
        self.assertEqual((host.logins, host.messages, host.commands), ([("PLAIN", False)], [], []))

    def test_no_starttls_no_mail_unless_tls_is_off(self):
        host = self.smarthost(tls=False)
        self.point_at(host)
        entry_id = self.enqueue("no starttls")
        entry = self.wait_until(lambda: self.attempted(entry_id), timeout=RELAY_WAIT, what="one attempt")
        self.assertIn("offers no STARTTLS", entry["last_error"])
        self.assertEqual((host.logins, host.messages, host.commands), ([], [], []))
        # Told that TLS is off (a smarthost on loopback), it sends in plain text, AUTH included.
        self.set_live("smarthost_tls", "none")
        self.server.mailctl("queue", "retry", entry_id)
        self.wait_until(lambda: not self.queue(), timeout=RELAY_WAIT, what="the queue empties")
        self.assertEqual(host.logins, [("PLAIN", True)])
        self.assertEqual(len(host.messages), 1)


if __name__ == "__main__":
    unittest.main()
