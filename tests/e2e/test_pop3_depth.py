# POP3 depth (issue 18): LOGIN-DELAY and EXPIRE (RFC 2449) as advertised and enforced, stale and
# live locks, and the client workarounds (nul_bytes, top_add_blank_line, LAST, bare AUTH).
import os
import poplib
import socket
import struct
import time

from harness import ServerTestCase, make_message

ALICE = "alice@example.test"
ALICE_PW = "s3cret"
BOB = "bob@example.test"
BOB_PW = "b0b-pass"
DAY = 86400


def capa(p: poplib.POP3) -> list:
    return [line.decode() for line in p._longcmd("CAPA")[1]]


class Pop3DepthTest(ServerTestCase):
    settings = {}

    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        server.add_mailbox(BOB, BOB_PW)
        for i in range(2):
            server.deliver(ALICE, make_message("m%d" % i, b"message %d\n" % i))
        for key, value in self.settings.items():
            server.set(key, value)

    def record_path(self) -> str:
        for root, _, files in os.walk(self.server.data):
            if ".mailroom-retrieved" in files:
                return os.path.join(root, ".mailroom-retrieved")
        return None

    def stat(self) -> int:
        p = self.server.login(ALICE, ALICE_PW)
        count = p.stat()[0]
        p.quit()
        return count


class LoginDelayTest(Pop3DepthTest):
    settings = {"login_delay": 3}

    def test_refusal_and_capa_before_and_after_login(self):
        p = self.server.pop3()
        before = capa(p)
        self.assertIn("LOGIN-DELAY 3 USER", before)
        self.assertIn("EXPIRE NEVER USER", before)
        p.user(ALICE)
        p.pass_(ALICE_PW)
        after = capa(p)
        self.assertIn("LOGIN-DELAY 3", after)
        self.assertIn("EXPIRE NEVER", after)
        p.quit()
        # Too soon: refused after the password, and a wrong password still gets [AUTH].
        q = self.server.pop3()
        q.user(ALICE)
        with self.assertRaises(poplib.error_proto) as cm:
            q.pass_("wrong")
        self.assertIn(b"[AUTH]", cm.exception.args[0])
        q.user(ALICE)
        start = time.monotonic()
        with self.assertRaises(poplib.error_proto) as cm:
            q.pass_(ALICE_PW)
        self.assertIn(b"[LOGIN-DELAY]", cm.exception.args[0])
        self.assertLess(time.monotonic() - start, 1.5, "no anti-hammering delay: it was the right password")
        q.quit()
        # Another mailbox has its own clock; after the delay Alice gets in again.
        self.server.login(BOB, BOB_PW).quit()
        time.sleep(3.2)
        self.server.login(ALICE, ALICE_PW).quit()

    def test_mailbox_override(self):
        # The postoffice's values apply to its mailboxes; a mailbox's own win over them.
        self.server.mailctl("postoffice", "set", "example.test", "login_delay", "60")
        self.server.mailctl("postoffice", "set", "example.test", "expire_days", "5")
        self.server.mailctl("mailbox", "set", BOB, "login_delay", "0")
        self.server.mailctl("mailbox", "set", BOB, "expire_days", "never")
        p = self.server.login(ALICE, ALICE_PW)
        self.assertIn("LOGIN-DELAY 60", capa(p))
        self.assertIn("EXPIRE 5", capa(p))
        p.quit()
        b = self.server.login(BOB, BOB_PW)
        self.assertFalse([c for c in capa(b) if c.startswith("LOGIN-DELAY")])
        self.assertIn("EXPIRE NEVER", capa(b))
        b.quit()
        self.server.login(BOB, BOB_PW).quit()  # no delay for Bob
        with self.assertRaises(poplib.error_proto) as cm:
            self.server.login(ALICE, ALICE_PW, in_use_wait=0)
        self.assertIn(b"[LOGIN-DELAY]", cm.exception.args[0])


class ExpireTest(Pop3DepthTest):
    settings = {"expire_days": 2}

    def test_removal_at_the_right_update(self):
        p = self.server.login(ALICE, ALICE_PW)
        self.assertIn("EXPIRE 2", capa(p))
        uid1 = p.uidl(1).split()[2].decode()
        p.retr(1)
        p.top(2, 0)  # a look, not a retrieval
        p.quit()
        path = self.record_path()
        self.assertIsNotNone(path)
        with open(path) as f:
            record = dict(reversed(line.split(" ", 1)) for line in f.read().split("\n") if line)
        self.assertEqual(list(record), [uid1])
        self.assertLessEqual(abs(int(record[uid1]) - time.time()), 5)
        self.assertEqual(self.stat(), 2)
        # Two days later (the record says so): a session that does not QUIT removes nothing.
        with open(path, "w") as f:
            f.write("%d %s\n" % (time.time() - 2 * DAY - 10, uid1))
        p = self.server.login(ALICE, ALICE_PW)
        self.assertEqual(p.stat()[0], 2)
        p.close()
        time.sleep(0.3)
        p = self.server.login(ALICE, ALICE_PW)
        self.assertEqual(p.stat()[0], 2)  # still listed until this session's UPDATE
        self.assertIn(b"(1 message left)", p.quit())
        self.assertEqual(self.stat(), 1)
        self.assertIsNone(self.record_path())  # nothing else retrieved: the record is gone

    def test_expire_zero_removes_what_was_retrieved_at_quit(self):
        self.server.mailctl("mailbox", "set", ALICE, "expire_days", "0")  # read at each login
        p = self.server.login(ALICE, ALICE_PW)
        self.assertIn("EXPIRE 0", capa(p))
        p.retr(2)
        self.assertIn(b"(1 message left)", p.quit())
        p = self.server.login(ALICE, ALICE_PW)
        self.assertEqual(p.stat()[0], 1)
        self.assertIn(b"message 0", b"\n".join(p.retr(1)[1]))
        p.quit()


class LockTest(Pop3DepthTest):
    def test_live_lock_is_in_use_at_once(self):
        first = self.server.login(ALICE, ALICE_PW)
        start = time.monotonic()
        with self.assertRaises(poplib.error_proto) as cm:
            self.server.login(ALICE, ALICE_PW, in_use_wait=0)
        self.assertIn(b"[IN-USE]", cm.exception.args[0])
        self.assertLess(time.monotonic() - start, 1.5)
        first.quit()

    def test_vanished_client_frees_the_lock(self):
        raw = self.server.raw()
        raw.login(ALICE, ALICE_PW)
        # The client's machine goes away: a reset, no QUIT.
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()
        p = self.server.login(ALICE, ALICE_PW, in_use_wait=2.0)
        self.assertEqual(p.stat()[0], 2)  # and nothing was deleted
        p.quit()

    def test_lock_of_a_killed_daemon_is_gone_after_restart(self):
        held = self.server.login(ALICE, ALICE_PW)
        held.dele(1)
        self.server.proc.kill()
        self.server.proc.wait(10)
        self.server.proc = None
        held.close()
        self.server.start()
        p = self.server.login(ALICE, ALICE_PW, in_use_wait=0)  # at once
        self.assertEqual(p.stat()[0], 2)  # no UPDATE happened: DELE forgotten
        p.quit()


class WorkaroundsTest(Pop3DepthTest):
    settings = {"nul_bytes": "0x80", "top_add_blank_line": "on", "last_command": "on"}

    def provision(self, server):
        super().provision(server)
        server.deliver(BOB, b"Subject: nul\n\nbefore\x00after\n")
        server.deliver(BOB, b"Subject: headers only\nX-Note: no body")

    def test_nul_bytes_top_blank_line_last_and_bare_auth(self):
        raw = self.server.raw()
        raw.readline()
        self.assertTrue(raw.command("AUTH").startswith(b"+OK"))
        self.assertEqual(raw.read_multiline(), [b"PLAIN", b"LOGIN"])
        raw.close()
        p = self.server.login(BOB, BOB_PW)
        size = int(p.list(1).split()[2])
        lines = p.retr(1)[1]
        self.assertIn(b"before\x80after", lines)
        self.assertEqual(size, sum(len(line) + 2 for line in lines))  # LIST agrees with RETR
        top = p.top(2, 3)[1]
        self.assertEqual(top[-2:], [b"X-Note: no body", b""])  # the blank line Outlook Express wants
        self.assertEqual(p._shortcmd("LAST"), b"+OK 2")
        p.rset()
        self.assertEqual(p._shortcmd("LAST"), b"+OK 0")
        p.quit()


if __name__ == "__main__":
    import unittest
    unittest.main()
