# Logging: daemon-wide and per-service targets (file, syslog), levels and formats, SIGHUP reopening for log
# rotation, and debug_transcript with its redactions (docs/logging.md).
import base64
import json
import os
import re
import signal
import socket
import time
import unittest

import subprocess
import tempfile

from harness import MAILROOMD, ServerTestCase, connect_from, make_message

ALICE = "alice@example.test"
ALICE_PW = "Xq7-unique-password-42"
BODY_MARK = b"body-text-that-must-not-be-logged"


def read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


class LoggingTestCase(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        server.deliver(ALICE, make_message("hello", BODY_MARK + b"\n"))
        self.log_file = os.path.join(server.root, "mail.log")

    def pop3_session(self, commands):
        """Logs in with USER/PASS, sends `commands`, says QUIT; returns the replies' first lines."""
        conn = self.server.raw()
        try:
            conn.login(ALICE, ALICE_PW)
            replies = []
            for command in commands:
                replies.append(conn.command(command))
                if command.startswith(("RETR", "TOP")) and replies[-1].startswith(b"+OK"):
                    conn.read_multiline()
            conn.command("QUIT")
            return replies
        finally:
            conn.close()

    def wait_for(self, path: str, needle: str, what: str = ""):
        return self.wait_until(lambda: needle in read(path), what=what or "%r in %s" % (needle, path))


class TranscriptTest(LoggingTestCase):
    def provision(self, server):
        super().provision(server)
        server.mailctl("daemon", "set", "log_target", "file:" + self.log_file)
        server.set("debug_transcript", "on")

    def test_transcript_in_the_file_with_secrets_redacted(self):
        replies = self.pop3_session(["STAT", "RETR 1", "TOP 1 0"])
        self.assertTrue(all(r.startswith(b"+OK") for r in replies), replies)
        # AUTH PLAIN with an initial response, then with the credentials on a continuation line.
        plain = base64.b64encode(b"\0" + ALICE.encode() + b"\0" + ALICE_PW.encode()).decode()
        conn = self.server.raw()
        try:
            conn.readline()
            self.assertTrue(conn.command("AUTH PLAIN " + plain).startswith(b"+OK"))
            conn.command("QUIT")
        finally:
            conn.close()
        conn = self.server.raw()
        try:
            conn.readline()
            self.assertTrue(conn.command("AUTH PLAIN").startswith(b"+ "))
            self.assertTrue(conn.command(plain).startswith(b"+OK"))
            conn.command("QUIT")
        finally:
            conn.close()
        self.wait_until(lambda: read(self.log_file).count("event=pop3.disconnect") >= 3,
                        what="three session summaries in the file")

        text = read(self.log_file)
        transcript = [l for l in text.splitlines() if "event=transcript" in l]
        self.assertTrue(all("service=pop3" in l for l in transcript))
        self.assertTrue(any('dir=in line="PASS <redacted>"' in l for l in transcript), transcript)
        self.assertTrue(any('dir=in line="USER %s"' % ALICE in l for l in transcript))
        self.assertTrue(any('dir=in line="AUTH PLAIN <redacted>"' in l for l in transcript))
        self.assertTrue(any('dir=in line=<redacted>' in l for l in transcript), "the continuation line")
        self.assertTrue(any('dir=out line="+OK' in l for l in transcript))
        self.assertTrue(any(re.search(r'dir=out line="\[\d+ octets\]"', l) for l in transcript), "RETR data")
        self.assertTrue(any('dir=in line="RETR 1"' in l for l in transcript))
        # Nothing secret and no message content anywhere, in the file or on stderr.
        for where in (text, read(self.server.log_path)):
            self.assertNotIn(ALICE_PW, where)
            self.assertNotIn(plain, where)
            self.assertNotIn(BODY_MARK.decode(), where)
        # The session summary goes to the service's target (here the daemon's file).
        self.assertRegex(text, r"event=pop3\.disconnect service=pop3 sid=\d+ .*retrieved=1")
        self.assertNotIn("event=pop3.connect", read(self.server.log_path))


class RotationTest(LoggingTestCase):
    def provision(self, server):
        super().provision(server)
        server.mailctl("daemon", "set", "log_target", "file:" + self.log_file)

    def test_sighup_reopens_the_file(self):
        self.pop3_session(["NOOP"])

        def every_session_ended():  # ours (it logged in) and the harness's start-up probes
            text = read(self.log_file)
            return ("event=pop3.login " in text and
                    text.count("event=pop3.connect ") == text.count("event=pop3.disconnect "))
        # Else a summary logged after the rename would land in the new file.
        self.wait_until(every_session_ended, what="every session's summary in the file")
        self.assertEqual(os.stat(self.log_file).st_mode & 0o777, 0o640)
        rotated = self.log_file + ".1"
        os.rename(self.log_file, rotated)
        self.server.proc.send_signal(signal.SIGHUP)
        self.wait_for(self.log_file, "event=daemon.reload reason=SIGHUP result=applied")
        self.pop3_session(["NOOP"])
        self.wait_for(self.log_file, "event=pop3.disconnect")
        old = read(rotated)
        self.assertIn("event=daemon.signal signal=HUP", old)  # logged before the reopen
        self.assertNotIn("event=daemon.reload reason=SIGHUP", old)  # logged after it
        # The session after the reopen is in the new file only.
        sid = re.compile(r"event=pop3\.disconnect service=pop3 sid=(\d+)")
        new_sids = sid.findall(read(self.log_file))
        self.assertEqual(len(new_sids), 1, new_sids)
        self.assertNotIn(new_sids[0], sid.findall(old))

    def test_shutdown_flushes_and_logs_the_signal(self):
        self.server.stop()
        text = read(self.log_file)
        self.assertIn("event=daemon.signal signal=TERM action=stop", text)
        self.assertIn("event=daemon.exit code=0", text)


class PerServiceTargetTest(LoggingTestCase):
    also = ("smtp",)

    def provision(self, server):
        super().provision(server)
        server.set("log_target", "file:" + self.log_file, service="pop3")
        server.set("log_format", "json", service="pop3")
        server.set("log_level", "warn", service="smtp")  # the daemon's stays info

    def test_each_service_logs_to_its_own_target(self):
        self.pop3_session(["NOOP"])
        smtp = socket.create_connection(("127.0.0.1", self.server.ports["smtp"]), timeout=10)
        try:
            smtp.recv(1024)  # smtp.connect (info) is logged before the greeting is sent
            smtp.sendall(b"QUIT\r\n")
            smtp.recv(1024)
        finally:
            smtp.close()
        # A warn event of smtp passes its level (from another address: auto-deny may list it).
        smtp = connect_from("127.0.0.41", self.server.ports["smtp"])
        try:
            smtp.readline()
            smtp.send(b"X" * 5000 + b"\r\n")
            smtp.readline()
        finally:
            smtp.close()
        self.wait_for(self.log_file, '"event":"pop3.disconnect"')
        self.wait_for(self.server.log_path, "event=smtp.line_too_long service=smtp")
        lines = [json.loads(l) for l in read(self.log_file).splitlines()]
        self.assertTrue(lines)
        self.assertEqual({l["service"] for l in lines}, {"pop3"})
        self.assertTrue(all({"time", "level", "event"} <= l.keys() for l in lines))
        self.assertRegex(lines[0]["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertIn("pop3.login", [l["event"] for l in lines])
        daemon = read(self.server.log_path)
        self.assertNotIn("event=pop3.", daemon)
        self.assertNotIn("level=info event=smtp.", daemon)  # below smtp's own log_level
        self.assertIn("level=info event=daemon.start", daemon)  # the daemon's own level


class JsonFormatTest(LoggingTestCase):
    def test_daemon_format_json_applies_live(self):
        self.server.mailctl("daemon", "set", "log_target", "file:" + self.log_file)
        self.server.mailctl("daemon", "set", "log_format", "json")
        self.wait_until(lambda: '"event":"daemon.reload"' in read(self.log_file), what="a JSON line")
        self.pop3_session(["NOOP"])
        self.wait_for(self.log_file, '"event":"pop3.disconnect"')
        lines = [l for l in read(self.log_file).splitlines() if l.startswith("{")]
        parsed = [json.loads(l) for l in lines]
        login = next(p for p in parsed if p["event"] == "pop3.login")
        self.assertEqual((login["service"], login["result"], login["user"]), ("pop3", "ok", ALICE))
        self.assertEqual(list(login.keys())[:3], ["time", "level", "event"])


class SyslogTest(LoggingTestCase):
    def provision(self, server):
        super().provision(server)
        self.syslog_path = os.path.join(server.root, "syslog.sock")
        self.syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.syslog.bind(self.syslog_path)
        self.syslog.settimeout(0.5)
        self.addCleanup(self.syslog.close)
        # Test-only: the daemon sends to this socket instead of /dev/log.
        os.environ["MAILROOM_SYSLOG_SOCKET"] = self.syslog_path
        self.addCleanup(os.environ.pop, "MAILROOM_SYSLOG_SOCKET", None)
        server.mailctl("daemon", "set", "log_target", "syslog:local3")
        server.set("log_target", "syslog", service="pop3")  # facility mail

    def receive(self, want: int, deadline: float = 10.0):
        got = []
        end = time.monotonic() + deadline
        while time.monotonic() < end and len(got) < want:
            try:
                got.append(self.syslog.recv(65536).decode())
            except socket.timeout:
                pass
        return got

    def test_rfc3164_datagrams_with_facility_and_severity(self):
        raw = self.server.raw()
        try:
            raw.readline()
            raw.send(b"X" * 4000 + b"\r\n")  # over max_command_length: a warn event
            raw.readline()
        finally:
            raw.close()
        datagrams = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("event=pop3.line_too_long" in d for d in datagrams):
            datagrams += self.receive(1, 1.0)
        form = re.compile(r"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d mailroomd\[(\d+)\]: level=(\w+) event=(\S+)")
        parsed = {}
        for d in datagrams:
            m = form.match(d)
            self.assertIsNotNone(m, d)
            self.assertEqual(int(m.group(2)), self.server.proc.pid)
            parsed.setdefault(m.group(4), int(m.group(1)))
        self.assertEqual(parsed.get("daemon.start"), 19 * 8 + 6)  # local3.info
        self.assertEqual(parsed.get("pop3.connect"), 2 * 8 + 6)   # mail.info
        self.assertEqual(parsed.get("pop3.line_too_long"), 2 * 8 + 4)  # mail.warning


class LogLevelOptionTest(unittest.TestCase):
    def test_an_unknown_level_is_a_usage_error_naming_the_levels(self):
        with tempfile.TemporaryDirectory() as data:
            proc = subprocess.run([MAILROOMD, "--data", data, "--log-level", "verbose"], capture_output=True,
                                  timeout=10)
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stderr, b"mailroomd: invalid --log-level 'verbose': must be debug, info, warn or error\n")


if __name__ == "__main__":
    unittest.main()
