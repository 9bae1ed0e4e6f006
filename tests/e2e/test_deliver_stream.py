"""mailctl deliver streams stdin through the store's DeliveryWriter: bounded memory for any
message size, the --max-size cap, nothing left behind on failure, and POP3 serving exactly what
was streamed (docs/mailctl.md, "deliver").

The large-message test streams 512 MiB into mailctl (about 3-4 s and 512 MiB of disk in a
temporary directory) and checks the child's peak RSS with wait4(); set
MAILROOM_E2E_DELIVER_MIB to change the size (e.g. 64 on a small disk).
"""
import hashlib
import os
import subprocess
import unittest

from harness import ServerTestCase, assert_memory_below
from test_mailctl import MAILCTL, MailctlTestCase

MIB = 1024 * 1024
LARGE_MIB = int(os.environ.get("MAILROOM_E2E_DELIVER_MIB", "512"))
RSS_LIMIT_KIB = 64 * 1024  # far below any message size tested here
TIME = "/usr/bin/time"


def stored_form(message: bytes) -> bytes:
    """CRLF -> LF; a lone CR is kept (what the store writes)."""
    return message.replace(b"\r\n", b"\n")


def wire_form(stored: bytes) -> bytes:
    """LF -> CRLF unless a CR precedes it, a final CRLF if missing (what POP3 sends)."""
    out = bytearray()
    prev = None
    for b in stored:
        if b == 0x0A and prev != 0x0D:
            out += b"\r"
        out.append(b)
        prev = b
    if stored and not stored.endswith(b"\n"):
        out += b"\r\n"
    return bytes(out)


def only_file(folder):
    files = os.listdir(folder)
    assert len(files) == 1, files
    return folder / files[0]


class DeliverStreamTest(MailctlTestCase):
    def setUp(self):
        super().setUp()
        self.init()
        self.add_postoffice()
        self.add_mailbox()
        self.box = self.maildir("alice@example.test")

    def assert_nothing_left(self):
        self.assertEqual(os.listdir(self.box / "new"), [], "nothing may reach new/")
        self.assertEqual(os.listdir(self.box / "tmp"), [], "nothing may stay in tmp/")

    def stream(self, total: int, block: bytes, *args):
        """Runs mailctl deliver with `total` bytes of repeated `block` written to its stdin as it
        runs; returns (exit code, stdout, stderr, peak RSS in KiB, sha256 of the stored form).

        The peak RSS comes from /usr/bin/time when there is one: wait4() of a child Python forked
        also counts Python's own memory at the fork (Linux keeps the high-water mark across exec),
        which only makes it an upper bound."""
        argv = [MAILCTL, "--data", str(self.data), "deliver", "alice@example.test", *args]
        rss_file = self.root / "rss"
        if os.access(TIME, os.X_OK):
            argv = [TIME, "-f", "%M", "-o", str(rss_file)] + argv
        proc = subprocess.Popen(argv,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        digest = hashlib.sha256()
        stored_block = stored_form(block)
        assert total % len(block) == 0 and not block.endswith(b"\r")
        try:
            for _ in range(total // len(block)):
                proc.stdin.write(block)
                digest.update(stored_block)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # mailctl stopped reading (the cap): its exit code tells
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
        out = proc.stdout.read()
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss_kib = int(rss_file.read_text().split()[-1]) if rss_file.exists() else usage.ru_maxrss
        return proc.returncode, out.decode(), err.decode(), rss_kib, digest.hexdigest()

    def test_large_message_streams_in_bounded_memory(self):
        line = b"x" * 74 + b"\r\n"  # 76 octets on the wire, 75 stored
        block = line * 13797        # about 1 MiB
        total = LARGE_MIB * MIB // len(block) * len(block)
        rc, out, err, rss_kib, digest = self.stream(total, block, "--json", "--max-size", "1G")
        self.assertEqual(rc, 0, err)
        stored, wire = total // 76 * 75, total
        path = only_file(self.box / "new")
        self.assertTrue(path.name.endswith(f",S={stored},W={wire}"), path.name)
        self.assertEqual(path.stat().st_size, stored)
        self.assertIn(f'"wire_size_bytes": {wire}', out)
        sha = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(4 * MIB):
                sha.update(chunk)
        self.assertEqual(sha.hexdigest(), digest, "the stored file is the LF form of what was streamed")
        self.assertEqual(os.listdir(self.box / "tmp"), [])
        print(f"\n  deliver of {total / MIB:.0f} MiB: mailctl peak RSS {rss_kib / 1024:.1f} MiB", flush=True)
        assert_memory_below(self, rss_kib, RSS_LIMIT_KIB, "mailctl must not hold the message in memory")

    def test_default_cap_is_64_mib_of_wire_octets(self):
        # 64 MiB of LF-only lines is 64 MiB + 1/64 on the wire: over the default cap.
        block = (b"y" * 63 + b"\n") * 16384  # 1 MiB stored
        rc, out, err, _, _ = self.stream(64 * MIB, block)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("size limit of 67108864 bytes", err)
        self.assertIn("--max-size 64M", err)
        self.assertEqual(err.count("\n"), 1)
        self.assert_nothing_left()

    def test_max_size_option(self):
        msg = b"Subject: small\r\n\r\n" + b"z" * 1000 + b"\r\n"  # 1020 octets on the wire
        self.fails("deliver", "alice@example.test", "--max-size", "1019", stdin=msg)
        self.assert_nothing_left()
        self.ok("deliver", "alice@example.test", "--max-size", "1020", stdin=msg)
        self.ok("deliver", "alice@example.test", "--max-size", "1k", stdin=msg)
        self.assertEqual(len(os.listdir(self.box / "new")), 2)
        for bad in ("0", "abc", "12X", "-5", "1.5M", ""):
            err = self.fails("deliver", "alice@example.test", "--max-size", bad, stdin=msg)
            self.assertIn("--max-size", err)
        self.assertEqual(len(os.listdir(self.box / "new")), 2)

    def test_cap_hit_mid_stream_leaves_nothing(self):
        # Several chunks are written before the cap is reached; all of it goes again.
        rc, out, err, _, _ = self.stream(3 * MIB, b"v" * 1023 + b"\n", "--max-size", "1M")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("size limit of 1048576 bytes", err)
        self.assert_nothing_left()


class DeliverStreamPop3Test(ServerTestCase):
    """What mailctl streamed is what POP3 lists and sends, byte for byte."""

    def provision(self, server):
        server.mailctl("postoffice", "add", "example.test")
        server.mailctl("mailbox", "add", "alice@example.test", "--password", "pw-alice-1")

    def test_retr_matches_streamed_message(self):
        # CRLF, LF, lone CR, CR CR LF and dot lines, long enough to cross several 64 KiB reads
        # and writes at varying offsets, no final line end.
        parts = []
        i = 0
        while sum(map(len, parts)) < 400 * 1024:
            parts.append(b"line %d" % i + [b"\r\n", b"\n", b"\r", b"\r\r\n", b"\r\n.dot\r\n"][i % 5])
            i += 1
        message = b"Subject: streamed\r\n\r\n" + b"".join(parts) + b"end"
        self.server.mailctl("deliver", "alice@example.test", input=message)
        wire = wire_form(stored_form(message))
        conn = self.server.raw()
        try:
            conn.login("alice@example.test", "pw-alice-1")
            self.assertEqual(conn.command("LIST 1"), b"+OK 1 %d" % len(wire))
            self.assertTrue(conn.command("RETR 1").startswith(b"+OK"))
            # Lines split at CRLF only, so a lone CR stays inside its line.
            got = b"".join(line + b"\r\n" for line in conn.read_multiline())
            self.assertEqual(got, wire)
            conn.command("QUIT")
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
