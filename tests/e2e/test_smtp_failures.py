# SMTP when things go wrong mid-transaction: the client vanishes inside DATA, falls silent
# inside DATA, or the disk fills up. Each loses nothing already acknowledged, leaves nothing
# half-stored (not in new/, cur/ or tmp/), and the service goes on working.
import ctypes
import ctypes.util
import os
import pathlib
import unittest

from harness import make_message
from smtp_support import ALICE, ALICE_PW, BOB, BOB_PW, SENDER, SmtpTestCase, dot_stuff, to_crlf

MIB = 1024 * 1024


class ClientVanishesTest(SmtpTestCase):
    def test_a_client_gone_mid_data_leaves_nothing_and_the_next_delivery_works(self):
        conn = self.session()
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("DATA").code, 354)
        line = b"v" * 78 + b"\r\n"
        # More than one 64 KiB write, so a tmp file exists while the client is still there.
        conn.send(b"Subject: half\r\n\r\n" + line * (MIB // len(line)))
        tmp = self.maildir(ALICE) / "tmp"
        self.wait_until(lambda: os.listdir(tmp), timeout=10, interval=0.05, what="a file in tmp/")
        conn.close()
        self.wait_until(lambda: os.listdir(tmp) == [], timeout=10, what="the half message's tmp file removed")
        self.assertEqual(self.stored_files(ALICE, ("new", "cur")), [])
        message = to_crlf(make_message("after the vanished one", b"fine\n"))
        self.assertEqual(self.transaction(self.session(), [ALICE], message).code, 250)
        self.assert_delivered(ALICE, ALICE_PW, message)
        self.assertIn("smtp.disconnect", self.server.log_tail(200))


class SilentInDataTest(SmtpTestCase):
    def configure(self, server):
        server.set("data_timeout", 1)
        server.set("idle_timeout", 30)  # longer: the data_timeout must be the one that fires

    def test_silence_inside_data_ends_the_session_after_data_timeout(self):
        conn = self.session()
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % ALICE).code, 250)
        self.assertEqual(conn.cmd("DATA").code, 354)
        conn.send(b"Subject: stalled\r\n\r\npart of a line")
        reply = conn.reply(timeout=10)
        self.assertEqual(reply.code, 421, reply)
        self.assertTrue(reply.lines[0].startswith(b"4.4.2"), reply)
        conn.wait_closed(timeout=5)
        self.wait_until(lambda: os.listdir(self.maildir(ALICE) / "tmp") == [], timeout=10,
                        what="nothing left in tmp/")
        self.assertEqual(self.stored_files(ALICE, ("new", "cur")), [])
        # Outside DATA the idle timeout (30 s) applies: a session sitting between commands for
        # longer than data_timeout is still served.
        conn = self.session()
        self.assertFalse(conn.nothing_more(wait=2.0))
        self.assertEqual(conn.cmd("NOOP").code, 250)


def _mount_tiny_tmpfs(path: str, size: str) -> str:
    """Mounts a tmpfs of `size` on `path`; returns '' or why it could not (not root, no mount)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, ("size=" + size).encode()) != 0:
        return os.strerror(ctypes.get_errno())
    return ""


def _unmount(path: str):
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.umount2(path.encode(), 2)  # MNT_DETACH


class DiskFullTest(SmtpTestCase):
    """Bob's Maildir is on a 1 MiB file system: a bigger message gets 452 4.3.1, nothing stays."""

    def provision(self, server):
        self.tiny = os.path.join(server.root, "tiny")
        os.mkdir(self.tiny)
        why = _mount_tiny_tmpfs(self.tiny, "1m")
        if why:
            self.skipTest("cannot mount a tmpfs here (%s): run as root" % why)
        self.addCleanup(_unmount, self.tiny)
        super().provision(server)
        server.mailctl("mailbox", "remove", BOB)
        for sub in ("", "cur", "new", "tmp"):
            os.mkdir(os.path.join(self.tiny, "Maildir", sub), 0o700)
        server.mailctl("mailbox", "add", BOB, "--password", BOB_PW, "--maildir", os.path.join(self.tiny, "Maildir"))

    def maildir(self, address: str):
        if address == BOB:
            return pathlib.Path(self.tiny) / "Maildir"
        return super().maildir(address)

    def test_a_full_disk_is_a_temporary_failure_and_stores_nothing(self):
        conn = self.session()
        line = b"f" * 78 + b"\r\n"
        big = b"Subject: too big for the disk\r\n\r\n" + line * (2 * MIB // len(line))
        self.assertEqual(conn.cmd("MAIL FROM:<%s>" % SENDER).code, 250)
        self.assertEqual(conn.cmd("RCPT TO:<%s>" % BOB).code, 250)
        self.assertEqual(conn.cmd("DATA").code, 354)
        conn.send(dot_stuff(big))
        reply = conn.reply(timeout=30)
        self.assertEqual(reply.code, 452, reply)
        self.assertTrue(reply.lines[0].startswith(b"4.3.1"), reply)
        self.assertEqual(self.stored_files(BOB), [])
        # The session goes on, and a message that fits is delivered on the same connection.
        small = to_crlf(make_message("fits", b"small\n"))
        self.assertEqual(self.transaction(conn, [BOB], small).code, 250)
        self.assert_delivered(BOB, BOB_PW, small)


if __name__ == "__main__":
    unittest.main()
