# End-to-end UIDLs that survive a migration: `mailctl mailbox import-uidls` from a synthetic
# dovecot-uidlist and a plain list (UIDL shows them; a fresh message gets a new one), `mailbox add
# --maildir` importing by itself, and `uidl_format %08Xu%08Xv` (16 hex characters, increasing
# uids, never repeated after a delete and a new delivery).
import json
import os
import poplib
import unittest

from harness import ServerTestCase

PO = "example.test"
ALICE = "alice@example.test"
BOB = "bob@example.test"
PW = "s3cret-uidl"


def old_maildir(root: str, names) -> str:
    """A Maildir as another server left it: one message file per name, in cur/ with flags."""
    path = os.path.join(root, "old", "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    for i, name in enumerate(names):
        with open(os.path.join(path, "cur", name + ":2,S"), "wb") as f:
            f.write(b"Subject: old %d\n\nbody %d\n" % (i, i))
    return path


def uidls(pop) -> list:
    return [line.split()[1].decode() for line in pop.uidl()[1]]


class UidlImportTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice(PO)
        server.add_mailbox(ALICE, PW)

    def test_import_from_a_dovecot_uidlist_and_a_plain_list(self):
        for i in range(3):
            self.server.deliver(ALICE, b"Subject: m%d\r\n\r\nbody\r\n" % i)
        p = self.server.login(ALICE, PW)
        bases = uidls(p)  # native UIDLs: the files' base names, in delivery order
        p.quit()
        old = os.path.join(self.server.root, "dovecot")
        os.makedirs(old)
        with open(os.path.join(old, "dovecot-uidlist"), "w") as f:
            f.write("3 V1234567890 N9 Gabc\n")
            f.write("7 :%s,S=20:2,S\n" % bases[0])            # %08Xu%08Xv -> 00000007499602d2
            f.write("8 W30 Pkept-by-dovecot :%s\n" % bases[1])  # an explicit POP3 UIDL
            f.write("5 :1600000000.gone.host\n")                # no such message
        out = self.server.mailctl("--json", "mailbox", "import-uidls", ALICE, "--from-dovecot", old)
        report = json.loads(out.stdout)
        self.assertEqual(report, {"ok": True, "address": ALICE, "kept": 2, "skipped": 1,
                                  "skipped_reasons": {"no_such_message": 1, "duplicate": 0, "invalid": 0}})
        plain = os.path.join(self.server.root, "plain.txt")
        with open(plain, "w") as f:
            f.write("%s third-one\n%s kept-by-dovecot\n" % (bases[2], bases[2]))
        human = self.server.mailctl("mailbox", "import-uidls", ALICE, plain).stdout.decode()
        self.assertIn("1 kept", human)
        self.assertIn("1 duplicate", human)

        p = self.server.login(ALICE, PW)
        self.assertEqual(uidls(p), ["00000007499602d2", "kept-by-dovecot", "third-one"])
        p.quit()
        self.server.deliver(ALICE, b"Subject: fresh\r\n\r\nnew\r\n")
        p = self.server.login(ALICE, PW)
        got = uidls(p)
        self.assertEqual(got[:3], ["00000007499602d2", "kept-by-dovecot", "third-one"])
        self.assertEqual(len(set(got)), 4)
        p.quit()

        missing = self.server.mailctl("mailbox", "import-uidls", "nobody@" + PO, plain, check=False)
        self.assertEqual(missing.returncode, 4, missing)

    def test_add_with_maildir_imports_by_itself(self):
        path = old_maildir(self.server.root, ["1500000001.M1P1.old", "1500000002.M2P1.old"])
        with open(os.path.join(path, "dovecot-uidlist"), "w") as f:
            f.write("3 V1000 N3\n1 :1500000001.M1P1.old\n2 :1500000002.M2P1.old:2,S\n")
        out = json.loads(self.server.mailctl("--json", "mailbox", "add", BOB, "--password", PW,
                                             "--maildir", path, "--uidl-format", "%v.%u").stdout)
        self.assertEqual(out["uidl_import"]["kept"], 2, out)
        p = self.server.login(BOB, PW)
        self.assertEqual(uidls(p), ["1000.1", "1000.2"])
        p.quit()

    def test_add_with_no_import_uidls_keeps_native_uidls(self):
        path = old_maildir(self.server.root, ["1500000001.M1P1.old"])
        with open(os.path.join(path, "dovecot-uidlist"), "w") as f:
            f.write("3 V1000 N2\n1 :1500000001.M1P1.old\n")
        human = self.server.mailctl("mailbox", "add", BOB, "--password", PW, "--maildir", path,
                                    "--no-import-uidls").stdout.decode()
        self.assertNotIn("UIDLs", human)
        p = self.server.login(BOB, PW)
        self.assertEqual(uidls(p), ["1500000001.M1P1.old"])
        p.quit()


class UidlFormatTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice(PO)
        server.add_mailbox(ALICE, PW)
        server.set("uidl_format", "%08Xu%08Xv")

    def test_template_uidls_increase_and_are_never_repeated(self):
        self.server.login(ALICE, PW).quit()  # the fresh mailbox starts using the template
        for i in range(2):
            self.server.deliver(ALICE, b"Subject: t%d\r\n\r\nbody\r\n" % i)
        p = self.server.login(ALICE, PW)
        first = uidls(p)
        self.assertEqual(len(first), 2)
        for u in first:
            self.assertRegex(u, r"^[0-9a-f]{16}$")
        self.assertEqual([u[:8] for u in first], ["00000001", "00000002"])
        p.dele(1)
        p.dele(2)
        p.quit()
        self.server.deliver(ALICE, b"Subject: again\r\n\r\nbody\r\n")
        p = self.server.login(ALICE, PW)
        again = uidls(p)
        p.quit()
        self.assertEqual(len(again), 1)
        self.assertEqual(again[0][:8], "00000003")
        self.assertNotIn(again[0], first)

    def test_a_template_with_md5_is_refused_clearly(self):
        proc = self.server.mailctl("service", "set", "pop3", "uidl_format", "%m", check=False)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn("not supported", proc.stderr.decode())


class DamagedUidlMapTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice(PO)

    def test_a_damaged_map_is_refused_then_repaired_with_nothing_lost(self):
        names = ["1500000001.M1P1.old", "1500000002.M2P1.old", "1500000003.M3P1.old"]
        maildir = old_maildir(self.server.root, names)
        with open(os.path.join(maildir, "dovecot-uidlist"), "w") as f:
            f.write("3 V1000 N4\n" + "".join("%d :%s\n" % (i + 1, n) for i, n in enumerate(names)))
        self.server.mailctl("mailbox", "add", ALICE, "--password", PW, "--maildir", maildir)
        p = self.server.login(ALICE, PW)
        before = uidls(p)
        p.quit()
        self.assertEqual(before, ["0000000%d000003e8" % (i + 1) for i in range(3)])
        path = os.path.join(maildir, ".mailroom-uidls")
        with open(path) as f:
            text = f.read()
        # The file is cut inside its last entry (a full disk, a crash on a file system without
        # ordered data): that message's UIDL is lost, the others can still be read.
        last = text.split("\n")[-3]
        lost = names.index(last.split(" ")[0])
        damaged = text[:text.index(last) + len(last) - 2]
        with open(path, "w") as f:
            f.write(damaged)

        # The daemon does not serve other UIDLs (clients would download everything again): a
        # temporary failure, and the log names the file and the way out.
        with self.assertRaises(poplib.error_proto) as cm:
            self.server.login(ALICE, PW, in_use_wait=0)
        self.assertIn(b"[SYS/TEMP]", cm.exception.args[0])
        log = self.wait_until(lambda: [line for line in self.server.log_tail(200).splitlines()
                                       if "maildir.uidl_map_unreadable" in line], what="the log line")
        self.assertIn(path, log[0])
        self.assertIn("mailctl mailbox repair-uidls", log[0])

        # Without the old list: what the map still says comes back, the lost one shows its native UIDL.
        out = json.loads(self.server.mailctl("--json", "mailbox", "repair-uidls", ALICE, "--no-refill").stdout)
        aside = out.pop("kept_aside")
        self.assertEqual(out, {"ok": True, "changed": True, "address": ALICE, "state": "repaired",
                               "header_kept": True, "kept": 2, "dropped_lines": 1, "gone": 0,
                               "refill_source": None, "refilled": 0, "without_entry": 1})
        self.assertTrue(aside.startswith(path + ".damaged-"), aside)
        with open(aside) as f:
            self.assertEqual(f.read(), damaged)  # nothing lost: the damaged bytes are kept
        p = self.server.login(ALICE, PW)
        self.assertEqual(uidls(p), [names[i] if i == lost else u for i, u in enumerate(before)])
        p.quit()

        # Garbled whole; the Maildir's dovecot-uidlist gives every UIDL back.
        with open(path, "w") as f:
            f.write("\x00" * 64)
        out = json.loads(self.server.mailctl("--json", "mailbox", "repair-uidls", ALICE).stdout)
        self.assertEqual((out["header_kept"], out["kept"], out["refilled"], out["without_entry"]), (False, 0, 3, 0))
        self.assertEqual(out["refill_source"], os.path.join(maildir, "dovecot-uidlist"))
        p = self.server.login(ALICE, PW)
        self.assertEqual(uidls(p), before)
        p.quit()
        human = self.server.mailctl("mailbox", "repair-uidls", ALICE).stdout.decode()
        self.assertIn("is intact: nothing to repair", human)

if __name__ == "__main__":
    unittest.main()
