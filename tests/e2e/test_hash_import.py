# Issue 18: password hashes imported as Dovecot writes them, upgraded to argon2id at the next
# password login (rehash_on_login), and RFC 6856 UTF-8 user names and passwords over POP3.
import json
import time
import unittest

from harness import ServerTestCase, make_message

PW = "hunter2 pass"
# Written by Dovecot 2.3 (Debian 12): doveadm pw -s SCHEME -p 'hunter2 pass'.
SSHA512 = "{SSHA512}9HV5CcyCzDqsatHGcu/trU4oWLFgem40Wzc3825j+1ceaposr1Abm/KwNbCTRG3Uz4fMYk6JOTgT9U9ddlornee8TbM="
BCRYPT = "{BLF-CRYPT}$2y$05$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm8C"
ALICE = "alice@example.test"
CAROL = "carol@example.test"
JOERG = "j\u00f6rg@example.test"
JOERG_PW = "p\u00e4ssw\u00f6rd"


class HashImportTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.set("failure_delay", 0)
        server.mailctl("mailbox", "add", ALICE, "--password-hash", SSHA512)
        server.mailctl("mailbox", "add", CAROL, "--password-hash", BCRYPT)
        server.mailctl("mailbox", "add", JOERG, "--password", JOERG_PW)
        server.deliver(ALICE, make_message("hello", b"alice body\n"))

    def scheme(self, address):
        shown = json.loads(self.server.mailctl("mailbox", "show", address, "--json").stdout)
        return shown["password_scheme"]

    def wait_scheme(self, address, want, timeout=10.0):
        deadline = time.monotonic() + timeout
        while self.scheme(address) != want and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.scheme(address)

    def test_an_imported_ssha512_becomes_argon2id_at_login_and_still_works(self):
        self.assertEqual(self.scheme(ALICE), "ssha512")
        p = self.server.login(ALICE, PW)
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        self.assertEqual(self.wait_scheme(ALICE, "argon2id"), "argon2id")
        self.assertIn("event=auth.rehash", self.server.log_tail(200))
        p = self.server.login(ALICE, PW)
        p.quit()
        with self.assertRaises(Exception):
            self.server.login(ALICE, "hunter2 Pass")

    def test_with_rehash_on_login_off_the_imported_hash_stays(self):
        self.server.mailctl("daemon", "set", "rehash_on_login", "off")
        p = self.server.login(CAROL, PW)
        p.quit()
        time.sleep(0.3)
        self.assertEqual(self.scheme(CAROL), "bcrypt")
        p = self.server.login(CAROL, PW)
        p.quit()

    def test_utf8_user_name_and_password(self):
        p = self.server.pop3()
        caps = p.capa()
        self.assertIn("UTF8", caps)
        self.assertEqual(caps["UTF8"], ["USER"])
        self.assertTrue(p._shortcmd("UTF8").startswith(b"+OK"))
        p._shortcmd("USER " + JOERG)  # poplib sends UTF-8
        p._shortcmd("PASS " + JOERG_PW)
        self.assertEqual(p.stat()[0], 0)
        p.quit()
        shown = json.loads(self.server.mailctl("mailbox", "show", JOERG, "--json").stdout)
        self.assertEqual(shown["address"], JOERG)


if __name__ == "__main__":
    unittest.main()
