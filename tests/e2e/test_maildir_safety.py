# End-to-end Maildir safety: a message swapped for a symlink or removed after login, and a mailbox
# holding an unreadable entry. RETR/TOP must never serve a file from outside the maildir, a message
# that cannot be read is answered with -ERR [SYS/TEMP] (the session and its DELE marks survive),
# and one unreadable entry must not keep the owner out of the rest of the mailbox.
import json
import os
import re
import secrets
import shutil
import subprocess

from harness import MAILROOMD, ROOT_KEEPS_ROOT, ServerTestCase, crlf, make_message, retr_bytes

ALICE = "alice@example.test"
ALICE_PW = "s3cret"


def maildir_of(server, address) -> str:
    shown = server.mailctl("--json", "mailbox", "show", address)
    return json.loads(shown.stdout)["maildir"]


def message_file(maildir: str, uid: str) -> str:
    """The file of the message whose UIDL is `uid` (its name up to the first ',' or ':')."""
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(maildir, sub)):
            if re.split(r"[,:]", name, maxsplit=1)[0] == uid:
                return os.path.join(maildir, sub, name)
    raise AssertionError("no file for uid %s in %s" % (uid, maildir))


class MaildirSafetyTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        self.msgs = [make_message("m%d" % i, b"body of message %d\n.dot line\n" % i) for i in range(1, 5)]
        for m in self.msgs:
            server.deliver(ALICE, m)
        self.maildir = maildir_of(server, ALICE)
        # A file outside the maildir that must never reach a client.
        self.secret_token = b"SECRET-" + secrets.token_hex(8).encode()
        self.secret = os.path.join(server.root, "outside.txt")
        with open(self.secret, "wb") as f:
            f.write(self.secret_token + b"\n")

    def login(self):
        conn = self.server.raw()
        self.addCleanup(conn.close)
        conn.login(ALICE, ALICE_PW)
        return conn

    def uid(self, conn, number: int) -> str:
        reply = conn.command("UIDL %d" % number)
        self.assertTrue(reply.startswith(b"+OK"), reply)
        return reply.split()[2].decode()

    def assert_sys_temp(self, reply):
        self.assertTrue(reply.startswith(b"-ERR [SYS/TEMP]"), reply)

    def test_a_message_replaced_by_a_symlink_after_login_is_not_served(self):
        conn = self.login()
        seen = b""
        self.assertTrue(conn.command("DELE 1").startswith(b"+OK"))
        victim = message_file(self.maildir, self.uid(conn, 2))
        os.remove(victim)
        os.symlink(self.secret, victim)

        reply = conn.command("RETR 2")
        seen += reply
        self.assert_sys_temp(reply)
        reply = conn.command("TOP 2 0")
        seen += reply
        self.assert_sys_temp(reply)
        reply = conn.command("NOOP")  # the session goes on, nothing else was sent
        seen += reply
        self.assertTrue(reply.startswith(b"+OK"), reply)
        reply = conn.command("RETR 3")
        self.assertTrue(reply.startswith(b"+OK"), reply)
        body = conn.read_multiline()
        self.assertEqual(retr_bytes(body), crlf(self.msgs[2]))
        seen += b"".join(body)
        self.assertNotIn(self.secret_token, seen)
        self.assertTrue(conn.command("QUIT").startswith(b"+OK"))
        self.assertEqual(conn.wait_closed(), b"")

        # The DELE before the failed RETR was committed; the symlink is no message, the file
        # behind it is untouched.
        p = self.server.login(ALICE, ALICE_PW)
        self.addCleanup(p.close)
        self.assertEqual(p.stat()[0], 2)
        _, lines, _ = p.retr(1)
        self.assertEqual(retr_bytes(lines), crlf(self.msgs[2]))
        p.quit()
        with open(self.secret, "rb") as f:
            self.assertEqual(f.read(), self.secret_token + b"\n")

    def test_a_message_removed_from_disk_after_login_answers_err_and_the_session_goes_on(self):
        conn = self.login()
        self.assertTrue(conn.command("DELE 4").startswith(b"+OK"))
        os.remove(message_file(self.maildir, self.uid(conn, 1)))
        # Pipelined: the -ERR comes in order, and the next commands are answered.
        conn.send(b"RETR 1\r\nSTAT\r\nRETR 2\r\n")
        self.assert_sys_temp(conn.readline())
        self.assertEqual(conn.readline().split()[:2], [b"+OK", b"3"])
        self.assertTrue(conn.readline().startswith(b"+OK"))
        self.assertEqual(retr_bytes(conn.read_multiline()), crlf(self.msgs[1]))
        self.assert_sys_temp(conn.command("TOP 1 1"))
        self.assertTrue(conn.command("QUIT").startswith(b"+OK"))
        self.assertEqual(conn.wait_closed(), b"")

        p = self.server.login(ALICE, ALICE_PW)
        self.addCleanup(p.close)
        self.assertEqual(p.stat()[0], 2)  # message 4 was deleted at QUIT, message 1 was gone
        _, lines, _ = p.retr(2)
        self.assertEqual(retr_bytes(lines), crlf(self.msgs[2]))
        p.quit()
        self.assertRegex(self.server.log_tail(200), r"pop3\.retr_failed")


class UnreadableMessageTest(ServerTestCase):
    """A mailbox with a message file the daemon cannot read (mode 000). Root reads any file, so when
    the tests run as root the daemon is started without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH."""

    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)
        self.msgs = [make_message("m%d" % i, b"readable %d\n" % i) for i in range(1, 3)]
        for m in self.msgs:
            server.deliver(ALICE, m)
        maildir = maildir_of(server, ALICE)
        # No W= in the name: the listing has to read the file for its size.
        self.unreadable = os.path.join(maildir, "cur", "1500000000.M1P1.elsewhere:2,S")
        with open(self.unreadable, "wb") as f:
            f.write(b"Subject: unreadable\n\nbody\n")
        os.chmod(self.unreadable, 0)
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                self.skipTest("running as root without setpriv: a mode 000 file stays readable")
            caps = "-dac_override,-dac_read_search"

            def spawn_without_dac_override(srv=server):
                srv.exit_code = None
                with open(srv.log_path, "ab") as log:
                    srv.proc = subprocess.Popen(
                        [setpriv, "--bounding-set=" + caps, "--inh-caps=" + caps, "--",
                         MAILROOMD, "--data", srv.data] + ROOT_KEEPS_ROOT,
                        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            server._spawn = spawn_without_dac_override

    def test_the_mailbox_logs_in_and_serves_the_rest(self):
        for _ in range(3):  # every login, not only the first
            p = self.server.login(ALICE, ALICE_PW)
            self.addCleanup(p.close)
            self.assertEqual(p.stat(), (2, sum(len(crlf(m)) for m in self.msgs)))
            for i, m in enumerate(self.msgs, start=1):
                _, lines, _ = p.retr(i)
                self.assertEqual(retr_bytes(lines), crlf(m))
            p.quit()
        # Reported once, not at every login.
        line = self.wait_until(lambda: re.search(r".*maildir\.unreadable.*", self.server.log_tail(400)),
                               what="the unreadable message in the log").group(0)
        self.assertIn("1500000000.M1P1.elsewhere", line)
        self.assertEqual(self.server.log_tail(400).count("maildir.unreadable"), 1)
