# A migration to Mailroom end to end (issue 18, docs/migration.md): leave-on-server clients that
# polled the old server must not download anything again after the move.
#
# Dovecot: a private Dovecot (Debian's packages, pop3_uidl_format %08Xu%08Xv) gets 5 messages through
# dovecot-lda; poplib, mpop and fetchmail (keep mode, their UIDL state in the scratch dir) fetch
# them, so Dovecot's dovecot-uidlist holds the UIDLs they saw. Dovecot stops; the Maildir is copied
# as docs/migration.md says and `mailctl mailbox add --maildir --password-hash` imports it with the
# same SHA512-CRYPT hash. Against mailroomd the three clients fetch nothing new (poplib: the same
# UIDL list and the same messages as Dovecot's); after one `mailctl deliver` each fetches exactly
# that message.
# Courier: a Maildir with a courierpop3dsizelist written as Courier's pop3d writes it (version 3),
# imported by `mailbox add --maildir`; poplib sees Courier's UIDLs.
# A vendor server: a Maildir exported from it plus a plain `filename uidl` list, imported with
# `mailctl mailbox import-uidls ADDRESS FILE`.
import json
import os
import poplib
import shutil
import subprocess
import tempfile
import unittest

from dovecot_support import Dovecot, dovecot_missing, sha512_crypt
from harness import IO_TIMEOUT, LOOPBACK, Server, crlf, make_message, retr_bytes, stop_server
from pop3_clients import Fetchmail, Mpop, missing_clients

ALICE = "alice@example.test"
ALICE_PW = "Migr4te-alice"
OLD_MESSAGES = 5


def pop3_state(port: int, user: str, password: str):
    """(UIDL list in message order, [message octets]) of a mailbox, over POP3 with poplib."""
    p = poplib.POP3(LOOPBACK, port, timeout=IO_TIMEOUT)
    try:
        p.user(user)
        p.pass_(password)
        uidls = [line.split(b" ", 1)[1].decode() for line in p.uidl()[1]]
        messages = [retr_bytes(p.retr(n)[1]) for n in range(1, len(uidls) + 1)]
        p.quit()
        return uidls, messages
    finally:
        p.close()


class MigrationTestCase(unittest.TestCase):
    """A mailroomd (self.server) provisioned by the test itself, started by start_mailroom()."""

    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory(prefix="mailroom-e2e-migration-")
        self.addCleanup(self.scratch.cleanup)
        self.root = self.scratch.name
        self.server = Server("pop3")
        self.addCleanup(self._finish_server)
        self.server.add_postoffice("example.test")
        self.password_hash = sha512_crypt(ALICE_PW)

    def _finish_server(self):
        code, crashed, log = stop_server(self.server)
        if crashed or (code is not None and code != 0):
            self.fail("mailroomd exited %s (expected a clean exit 0 on SIGTERM)\n%s" % (code, log))

    def add_alice(self, maildir: str, *extra) -> str:
        """mailctl mailbox add with the imported hash on an existing Maildir; its stdout."""
        return self.server.mailctl("mailbox", "add", ALICE, "--maildir", maildir,
                                   "--password-hash", self.password_hash, *extra).stdout.decode()

    def make_maildir(self, name: str) -> str:
        maildir = os.path.join(self.root, name, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(maildir, sub))
        return maildir


@unittest.skipIf(dovecot_missing(), dovecot_missing())
class DovecotMigrationTest(MigrationTestCase):
    def test_clients_fetch_nothing_again_after_the_move_and_then_exactly_the_new_message(self):
        if missing_clients():
            self.skipTest("not installed: %s (scripts/bootstrap installs them)" % missing_clients())
        dovecot = Dovecot(self.root, {ALICE: self.password_hash})
        dovecot.start()
        self.addCleanup(dovecot.stop)
        sent = ["migrate-old-%d" % n for n in range(1, OLD_MESSAGES + 1)]
        for subject in sent:
            dovecot.deliver(ALICE, make_message(subject, b"delivered to Dovecot\n"))

        clients = [Mpop(self.root, ALICE, ALICE_PW), Fetchmail(self.root, ALICE, ALICE_PW)]
        for client in clients:
            self.assertEqual(client.fetch(dovecot.port), sent, client.name + " against Dovecot")
            self.assertEqual(client.fetch(dovecot.port), [], client.name + " again against Dovecot")
        dovecot_uidls, dovecot_messages = pop3_state(dovecot.port, ALICE, ALICE_PW)
        self.assertEqual(len(dovecot_uidls), OLD_MESSAGES)
        self.assertRegex(dovecot_uidls[0], r"^[0-9a-f]{16}$", "pop3_uidl_format %08Xu%08Xv")
        dovecot.stop()

        # The move, as docs/migration.md gives it: the whole Maildir (dovecot-uidlist included),
        # owned by the data directory's owner afterwards.
        maildir = os.path.join(self.root, "migrated", "alice", "Maildir")
        os.makedirs(os.path.dirname(maildir))
        subprocess.run(["cp", "-a", dovecot.maildir(ALICE), maildir], check=True, timeout=60)
        owner = os.stat(self.server.data)
        subprocess.run(["chown", "-R", "%d:%d" % (owner.st_uid, owner.st_gid), os.path.dirname(maildir)],
                       check=True, timeout=60)
        out = self.add_alice(maildir)
        self.assertIn("UIDLs from dovecot-uidlist: %d kept, none skipped" % OLD_MESSAGES, out,
                      "mailbox add reports the UIDLs it kept")
        self.server.start()

        uidls, messages = pop3_state(self.server.port, ALICE, ALICE_PW)
        self.assertEqual(uidls, dovecot_uidls, "Mailroom shows Dovecot's UIDLs, in the same order")
        self.assertEqual(messages, dovecot_messages, "and the same messages")
        for client in clients:
            self.assertEqual(client.fetch(self.server.port), [], client.name + " downloads nothing again")

        new = make_message("migrate-new-1", b"delivered to Mailroom\n")
        self.server.deliver(ALICE, new)
        for client in clients:
            self.assertEqual(client.fetch(self.server.port), ["migrate-new-1"], client.name)
            self.assertEqual(client.fetch(self.server.port), [], client.name + " once only")
        uidls, messages = pop3_state(self.server.port, ALICE, ALICE_PW)
        self.assertEqual(uidls[:OLD_MESSAGES], dovecot_uidls)
        self.assertEqual(len(uidls), OLD_MESSAGES + 1)
        self.assertNotIn(uidls[-1], dovecot_uidls)
        self.assertEqual(messages[-1], crlf(new))


# Courier's pop3d (courier-imap's imap/pop3dserver.c) keeps POP3 UIDLs in Maildir/courierpop3dsizelist:
# a header "/3 <next uid> <uidvalidity>", then per message "<file name> <size> <uid>:<uidvalidity>:<utf8>"
# (version 2 lacks ":<utf8>"), written in the messages' arrival order; its UIDL is "UID<uid>-<uidvalidity>".
COURIER_UIDV = 1733000000
COURIER_FILES = ["1733000101.M1P4242.mail.example.test:2,S",
                 "1733000202.M2P4243.mail.example.test:2,S",
                 "1733000303.M3P4244.mail.example.test:2,"]


class CourierMigrationTest(MigrationTestCase):
    def test_mailbox_add_imports_courierpop3dsizelist(self):
        maildir = self.make_maildir("courier")
        lines = ["/3 %d %d" % (len(COURIER_FILES) + 1, COURIER_UIDV)]
        bodies = []
        for n, name in enumerate(COURIER_FILES, start=1):
            body = make_message("courier-%d" % n, b"kept by Courier\n")
            bodies.append(body)
            with open(os.path.join(maildir, "cur", name), "wb") as f:
                f.write(body)
            # Courier's size: the octets with CRLF line ends (rfc2045 endpos + nlines)
            lines.append("%s %d %d:%d:0" % (name, len(crlf(body)), n, COURIER_UIDV))
        with open(os.path.join(maildir, "courierpop3dsizelist"), "w") as f:
            f.write("\n".join(lines) + "\n")

        out = self.add_alice(maildir)
        self.assertIn("UIDLs from courierpop3dsizelist: %d kept, none skipped" % len(COURIER_FILES), out)
        self.server.start()
        uidls, messages = pop3_state(self.server.port, ALICE, ALICE_PW)
        self.assertEqual(uidls, ["UID%d-%d" % (n, COURIER_UIDV) for n in range(1, len(COURIER_FILES) + 1)])
        self.assertEqual(messages, [crlf(b) for b in bodies])


class VendorMigrationTest(MigrationTestCase):
    """A vendor server's mail exported to a Maildir (one file per message, as the MailEnable .MAI
    files are) and its UIDLs as a plain `filename uidl` list."""

    def test_import_uidls_from_a_plain_list(self):
        maildir = self.make_maildir("vendor")
        vendor_uidls = ["ME-7F3A21C4-0001", "ME-7F3A21C4-0002", "ME-7F3A21C4-0003"]
        listing = []
        bodies = []
        for n, uidl in enumerate(vendor_uidls, start=1):
            name = "17330%05d.vendor%d.mail.example.test" % (n, n)
            body = make_message("vendor-%d" % n, b"exported from the vendor server\n")
            bodies.append(body)
            with open(os.path.join(maildir, "cur", name + ":2,S"), "wb") as f:
                f.write(body)
            listing.append("%s %s" % (name, uidl))
        uidl_list = os.path.join(self.root, "vendor-uidls.txt")
        with open(uidl_list, "w") as f:
            f.write("\n".join(listing) + "\n")

        self.add_alice(maildir)
        reply = json.loads(self.server.mailctl("--json", "mailbox", "import-uidls", ALICE, uidl_list).stdout)
        self.assertTrue(reply.get("ok"), reply)
        self.server.start()
        uidls, messages = pop3_state(self.server.port, ALICE, ALICE_PW)
        self.assertEqual(uidls, vendor_uidls)
        self.assertEqual(messages, [crlf(b) for b in bodies])


if __name__ == "__main__":
    unittest.main()
