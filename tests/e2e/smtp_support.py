# What the SMTP and LMTP e2e suites share: a raw SMTP connection that reads multi-line replies,
# a test case with mailboxes (delivered over SMTP or LMTP, read back over POP3), and the parsing of
# the trace headers (Return-Path, Received) the server puts in front of every stored message.
import os
import pathlib
import re
import shutil
import subprocess
import time

from harness import IO_TIMEOUT, RawConnection, ServerTestCase, connect_from, retr_bytes

POSTOFFICE = "example.test"
ALICE = "alice@example.test"
ALICE_PW = "alice-pw"
BOB = "bob@example.test"
BOB_PW = "bob-pw"
CAROL = "carol@example.test"  # disabled mailbox
CAROL_PW = "carol-pw"
CLOSED = "closed.test"        # disabled postoffice
DAVE = "dave@closed.test"
DAVE_PW = "dave-pw"
SENDER = "sender@example.org"
CLIENT_NAME = "client.e2e.test"  # what the clients say in EHLO/HELO/LHLO
CLIENT_TIMEOUT = 60              # seconds for one swaks/curl run


class Reply:
    """One SMTP reply: its code and the text of each line (without the code and separator)."""

    def __init__(self, code: int, lines: list, raw: list):
        self.code = code
        self.lines = lines
        self.raw = raw  # the lines as received, e.g. b"250-PIPELINING"

    @property
    def text(self) -> bytes:
        return b"\n".join(self.lines)

    def __repr__(self):
        return "Reply(%r)" % b" | ".join(self.raw)


class SmtpConnection(RawConnection):
    """A socket to an SMTP/LMTP service that sends arbitrary bytes and reads whole replies."""

    def reply(self, timeout: float = None) -> Reply:
        lines, raw = [], []
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            line = self.readline(max(0.01, deadline - time.monotonic()))
            raw.append(line)
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
                raise AssertionError("not an SMTP reply line: %r (so far %r)" % (line, raw))
            lines.append(line[4:])
            if line[3:4] != b"-":
                return Reply(int(line[:3]), lines, raw)

    def cmd(self, line, timeout: float = None) -> Reply:
        self.send((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.reply(timeout)

    def replies(self, n: int, timeout: float = None) -> list:
        return [self.reply(timeout) for _ in range(n)]


def smtp_connect(port: int, source: str = None, timeout: float = IO_TIMEOUT) -> SmtpConnection:
    """A connection to `port` on loopback (from `source` when given); the greeting is not read."""
    if source is None:
        return SmtpConnection(port, timeout=timeout)
    plain = connect_from(source, port, timeout=timeout)
    return SmtpConnection(None, timeout=timeout, sock=plain.sock)


def dot_stuff(data: bytes) -> bytes:
    """CRLF-lined data as it goes on the wire after DATA: leading dots doubled, then <CRLF>.<CRLF>."""
    assert data.endswith(b"\r\n") or data == b""
    stuffed = re.sub(rb"(?m)^\.", b"..", data)
    return stuffed + b".\r\n"


def to_crlf(message: bytes) -> bytes:
    """LF-lined text as the CRLF-lined octets a client sends (and POP3 RETR returns)."""
    out = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return out if out.endswith(b"\r\n") else out + b"\r\n"


def split_trace(message: bytes):
    """(Return-Path header, Received header unfolded, the rest) of a message as POP3 returns it."""
    lines = message.split(b"\r\n")
    assert lines[0].startswith(b"Return-Path: "), message[:300]
    assert lines[1].startswith(b"Received: "), message[:300]
    received = lines[1]
    n = 2
    while n < len(lines) and lines[n][:1] in (b" ", b"\t"):
        received += b" " + lines[n].strip()
        n += 1
    return lines[0], re.sub(rb"\s+", b" ", received), b"\r\n".join(lines[n:])


def strip_trace(message: bytes) -> bytes:
    """A message without the Return-Path and Received headers (and their continuation lines) the
    server puts in front; as stored (LF lines) or as POP3 returns it (CRLF lines); unchanged if it
    has none (e.g. delivered by `mailctl deliver`)."""
    first = message.find(b"\n")
    eol = b"\r\n" if first > 0 and message[first - 1:first] == b"\r" else b"\n"
    pos = 0
    while message.startswith((b"Return-Path:", b"Received:"), pos):
        end = message.find(eol, pos)
        while end >= 0 and message[end + len(eol):end + len(eol) + 1] in (b" ", b"\t"):
            end = message.find(eol, end + len(eol))
        if end < 0:
            return message[pos:]
        pos = end + len(eol)
    return message[pos:]


def received_pattern(helo: str, hostname: str, protocol: str, rcpt: str = None) -> bytes:
    """The Received header of the contract: from <helo> ([ip]) by <hostname> (Mailroom)
    with <protocol> id <id> [for <rcpt>]; <date>, with an optional "(using <TLS>)" comment after
    "(Mailroom)", the protocol or the id (the contract says only "inside"); see tls_comment()."""
    def tls(n):
        return rb"( \(using (?P<tls%d>[^)]*)\))?" % n
    for_part = rb" for <" + re.escape(rcpt.encode()) + rb">" if rcpt else b""
    return (rb"^Received: from " + re.escape(helo.encode()) + rb" \(\[127\.0\.0\.1\]\) by " +
            re.escape(hostname.encode()) + rb" \(Mailroom\)" + tls(1) + rb" with " + protocol.encode() +
            tls(2) + rb" id \S+" + tls(3) + for_part +
            rb"; (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
            rb"\d{4} \d\d:\d\d:\d\d [+-]\d{4}( \([A-Za-z]+\))?$")


def tls_comment(received: bytes, helo: str, hostname: str, protocol: str, rcpt: str = None):
    """The text of the "(using ...)" comment of a Received header, None when there is none."""
    m = re.match(received_pattern(helo, hostname, protocol, rcpt), received)
    assert m, received
    found = [m.group("tls%d" % n) for n in (1, 2, 3) if m.group("tls%d" % n)]
    return found[0] if found else None


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


class SmtpTestCase(ServerTestCase):
    """A started smtp service (self.server.port) with POP3 alongside to read what arrived.

    Mailboxes: alice and bob (enabled), carol (disabled) in example.test; dave in the disabled
    postoffice closed.test. Subclasses add settings in `configure(server)`.
    """

    service = "smtp"
    also = ("pop3",)

    def provision(self, server):
        server.add_postoffice(POSTOFFICE)
        server.add_mailbox(ALICE, ALICE_PW)
        server.add_mailbox(BOB, BOB_PW)
        server.add_mailbox(CAROL, CAROL_PW)
        server.mailctl("mailbox", "disable", CAROL)
        server.add_postoffice(CLOSED)
        server.add_mailbox(DAVE, DAVE_PW)
        server.mailctl("postoffice", "disable", CLOSED)
        self.configure(server)

    def configure(self, server):
        """Override to change settings before the daemon starts."""

    # -- clients --------------------------------------------------------------------------------

    def connect(self, source: str = None, port: int = None, timeout: float = IO_TIMEOUT) -> SmtpConnection:
        """A connection whose greeting was read and checked."""
        conn = smtp_connect(port or self.server.port, source, timeout)
        self.addCleanup(conn.close)
        greeting = conn.reply()
        self.assertEqual(greeting.code, 220, greeting)
        return conn

    def session(self, source: str = None, hello: str = "EHLO") -> SmtpConnection:
        """A connection after a successful EHLO (or `hello`) from CLIENT_NAME."""
        conn = self.connect(source)
        reply = conn.cmd("%s %s" % (hello, CLIENT_NAME))
        self.assertEqual(reply.code, 250, reply)
        return conn

    def transaction(self, conn, recipients, data: bytes, sender: str = SENDER) -> Reply:
        """MAIL, RCPT (each must be accepted), DATA, the dot-stuffed CRLF data; the final reply."""
        reply = conn.cmd("MAIL FROM:<%s>" % sender)
        self.assertEqual(reply.code, 250, reply)
        for rcpt in recipients:
            reply = conn.cmd("RCPT TO:<%s>" % rcpt)
            self.assertEqual(reply.code, 250, reply)
        reply = conn.cmd("DATA")
        self.assertEqual(reply.code, 354, reply)
        conn.send(dot_stuff(data))
        return conn.reply()

    def messages(self, address: str, password: str) -> list:
        """Every message of a mailbox as POP3 RETR returns it (CRLF lines), oldest first."""
        p = self.server.login(address, password)
        try:
            count, _ = p.stat()
            out = [retr_bytes(p.retr(n)[1]) for n in range(1, count + 1)]
            p.quit()
            return out
        finally:
            p.close()

    def maildir(self, address: str) -> pathlib.Path:
        mailbox, postoffice = address.split("@")
        return pathlib.Path(self.server.data) / "mail" / postoffice / mailbox / "Maildir"

    def stored_files(self, address: str, folders=("new", "cur", "tmp")) -> list:
        box = self.maildir(address)
        return [box / f / name for f in folders for name in sorted(os.listdir(box / f))]

    def assert_nothing_stored(self, *addresses):
        for address in addresses or (ALICE, BOB):
            self.assertEqual(self.stored_files(address), [], "nothing may be stored for %s" % address)

    def assert_delivered(self, address: str, password: str, data: bytes, protocol: str = "ESMTP",
                         rcpt=True, helo: str = CLIENT_NAME, sender: str = SENDER) -> bytes:
        """The mailbox holds exactly one message: the trace headers, then `data` (CRLF octets).
        Returns its Received header (unfolded)."""
        msgs = self.messages(address, password)
        self.assertEqual(len(msgs), 1, "exactly one message for %s" % address)
        return_path, received, rest = split_trace(msgs[0])
        self.assertEqual(return_path, b"Return-Path: <" + sender.encode() + b">")
        self.assertRegex(received, received_pattern(helo, self.server.hostname, protocol,
                                                    address if rcpt else None))
        comment = tls_comment(received, helo, self.server.hostname, protocol, address if rcpt else None)
        if protocol != "ESMTPS":
            self.assertIsNone(comment, received)
        self.assertEqual(len(rest), len(data))
        self.assertEqual(rest, data)
        return received

    def run_tool(self, args, input: bytes = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(args, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=CLIENT_TIMEOUT)
        return proc

    def setting_names(self, module: str) -> str:
        return self.server.mailctl("service", "settings-doc", module).stdout.decode()
