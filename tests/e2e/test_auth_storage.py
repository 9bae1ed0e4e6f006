"""Stored login secrets, end to end through mailctl (no daemon): which rows mailbox_secrets holds
for which settings, that plaintext equivalents are encrypted, and that switching a legacy
mechanism off deletes them. Inspects the database with Python's sqlite3, as a thief with a copy
of mailroom.db would.
"""
import base64
import sqlite3
import stat
import unittest

from test_mailctl import SHA512_HASH, MailctlTestCase

PASSWORD = "Corr3ct-Horse-pw"
SCRAM_ONLY = ["scram-sha-1", "scram-sha-256"]


class AuthStorageTest(MailctlTestCase):
    def setUp(self):
        super().setUp()
        self.init()
        self.add_postoffice()

    # ---- helpers ----
    def rows(self):
        """{(mailbox, kind): value} straight from the database."""
        db = sqlite3.connect(str(self.data / "mailroom.db"))
        try:
            return {(m, k): v for m, k, v in db.execute(
                "SELECT m.name, s.kind, s.value FROM mailbox_secrets s JOIN mailboxes m ON m.id = s.mailbox_id")}
        finally:
            db.close()

    def kinds(self, mailbox="alice"):
        return sorted(k for (m, k) in self.rows() if m == mailbox)

    def assert_no_plaintext(self, *passwords):
        for (mailbox, kind), value in self.rows().items():
            for pw in passwords:
                self.assertNotIn(pw, value, f"{kind} of {mailbox} holds the password")
                self.assertNotIn(pw.encode().hex(), value.lower())

    def assert_sealed(self, value, plaintext_size):
        self.assertTrue(value.startswith("enc1:"), value[:12])
        blob = base64.b64decode(value[len("enc1:"):], validate=True)
        self.assertEqual(len(blob), 12 + plaintext_size + 16, "nonce | ciphertext | tag")

    def key_file(self):
        return self.data / "secrets.key"

    def show(self, address="alice@example.test"):
        return self.ok_json("mailbox", "show", address)

    # ---- tests ----
    def test_default_settings_store_only_scram_keys_and_no_key_file(self):
        out = self.ok_json("mailbox", "add", "alice@example.test", "--password", PASSWORD)
        self.assertEqual(sorted(out["secret_kinds"]), SCRAM_ONLY)
        self.assertIs(out["secrets_pending"], False)
        self.assertEqual(self.kinds(), SCRAM_ONLY)
        self.assertTrue(self.rows()[("alice", "scram-sha-256")].startswith("SCRAM-SHA-256$"))
        self.assertTrue(self.rows()[("alice", "scram-sha-1")].startswith("SCRAM-SHA-1$"))
        self.assert_no_plaintext(PASSWORD)
        self.assertFalse(self.key_file().exists(), "no key is needed without plaintext equivalents")

        shown = self.show()
        self.assertEqual(shown["secret_kinds"], SCRAM_ONLY)
        self.assertEqual(shown["mechanisms"], ["USER/PASS", "PLAIN", "LOGIN", "SCRAM-SHA-1", "SCRAM-SHA-256"])
        text = self.ok("mailbox", "show", "alice@example.test")
        self.assertIn("stored secrets:   scram-sha-1, scram-sha-256", text)
        self.assertIn("mechanisms:       USER/PASS, PLAIN, LOGIN, SCRAM-SHA-1, SCRAM-SHA-256", text)
        self.assertNotIn(PASSWORD, text)
        self.assertEqual(self.ok_json("mailbox", "list")[0]["secret_kinds"], SCRAM_ONLY)

    def test_cram_md5_secret_is_stored_encrypted_and_purged_when_disabled(self):
        self.add_mailbox("alice@example.test", PASSWORD)
        self.add_mailbox("bob@example.test", "bob-Pw-77")
        out = self.ok("service", "set", "pop3", "auth_mechanisms", "PLAIN LOGIN CRAM-MD5")
        self.assertNotIn("deleted", out)
        self.assertEqual(self.kinds(), SCRAM_ONLY, "enabling fills in nothing without the password")

        result = self.ok_json("mailbox", "passwd", "alice@example.test", "--password", PASSWORD)
        self.assertEqual(sorted(result["secret_kinds"]), ["cram-md5"] + SCRAM_ONLY)
        self.assertEqual(self.kinds(), ["cram-md5"] + SCRAM_ONLY)
        self.assert_sealed(self.rows()[("alice", "cram-md5")], 64)  # 64 hex digits of HMAC-MD5 contexts
        self.assert_no_plaintext(PASSWORD, "bob-Pw-77")
        mode = self.key_file().stat().st_mode
        self.assertEqual(stat.S_IMODE(mode), 0o600)
        self.assertEqual(self.key_file().stat().st_size, 32)
        self.assertIn("CRAM-MD5", self.show()["mechanisms"])
        self.assertNotIn("CRAM-MD5", self.show("bob@example.test")["mechanisms"])

        self.ok("mailbox", "passwd", "bob@example.test", "--password-stdin", stdin="bob-Pw-78\n")
        self.assertEqual(self.kinds("bob"), ["cram-md5"] + SCRAM_ONLY)
        # Same password length, different mailbox: different ciphertexts.
        self.assertNotEqual(self.rows()[("alice", "cram-md5")][5:30], self.rows()[("bob", "cram-md5")][5:30])

        # Another setting change keeps them; switching CRAM-MD5 off deletes both.
        self.assertNotIn("deleted", self.ok("service", "set", "pop3", "port", "1110"))
        self.assertEqual(self.kinds("bob"), ["cram-md5"] + SCRAM_ONLY)
        purged = self.ok_json("service", "set", "pop3", "auth_mechanisms", "PLAIN LOGIN")
        self.assertEqual(purged["purged_secrets"], 2)
        self.assertEqual(self.kinds(), SCRAM_ONLY)
        self.assertEqual(self.kinds("bob"), SCRAM_ONLY)
        self.assertNotIn("CRAM-MD5", self.show()["mechanisms"])
        self.assertNotIn("purged_secrets", self.ok_json("service", "set", "pop3", "auth_mechanisms", "PLAIN"))

    def test_apop_stores_the_password_encrypted_and_unset_purges_it(self):
        self.ok("service", "set", "pop3", "apop", "on")
        out = self.ok_json("mailbox", "add", "alice@example.test", "--password", PASSWORD)
        self.assertEqual(sorted(out["secret_kinds"]), ["plaintext"] + SCRAM_ONLY)
        value = self.rows()[("alice", "plaintext")]
        self.assert_sealed(value, len(PASSWORD))
        self.assert_no_plaintext(PASSWORD)
        mechanisms = self.show()["mechanisms"]
        for m in ["APOP", "CRAM-MD5", "NTLM", "SCRAM-SHA-256"]:
            self.assertIn(m, mechanisms)
        self.assertIn("stored secrets:   plaintext, scram-sha-1, scram-sha-256",
                      self.ok("mailbox", "show", "alice@example.test"))

        # A new password replaces the value (fresh nonce and new plaintext).
        self.ok("mailbox", "passwd", "alice@example.test", "--password", PASSWORD + "2")
        self.assertNotEqual(self.rows()[("alice", "plaintext")], value)
        self.assert_no_plaintext(PASSWORD, PASSWORD + "2")

        out = self.ok("service", "unset", "pop3", "apop")
        self.assertIn("deleted 1 stored secret", out)
        self.assertEqual(self.kinds(), SCRAM_ONLY)
        self.assertNotIn("APOP", self.show()["mechanisms"])

    def test_ntlm_stores_the_nt_hash_encrypted(self):
        self.ok("service", "set", "pop3", "auth_mechanisms", "PLAIN NTLM")
        self.add_mailbox("alice@example.test", PASSWORD)
        self.assertEqual(self.kinds(), ["nt-hash"] + SCRAM_ONLY)
        self.assert_sealed(self.rows()[("alice", "nt-hash")], 32)
        self.assertIn("NTLM", self.show()["mechanisms"])
        self.assertEqual(self.ok_json("service", "set", "pop3", "auth_mechanisms", "PLAIN")["purged_secrets"], 1)
        self.assertEqual(self.kinds(), SCRAM_ONLY)

    def test_imported_hash_stores_no_secrets_and_says_when_they_come(self):
        self.ok("service", "set", "pop3", "apop", "on")
        out = self.ok("mailbox", "add", "erin@example.test", "--password-hash", SHA512_HASH)
        self.assertIn("after its first login with the password", out)
        self.assertEqual(self.kinds("erin"), [])
        shown = self.show("erin@example.test")
        self.assertEqual(shown["secret_kinds"], [])
        self.assertEqual(shown["mechanisms"], ["USER/PASS", "PLAIN", "LOGIN"])
        self.assertIn("stored secrets:   none", self.ok("mailbox", "show", "erin@example.test"))

        # A plaintext password first, then an imported hash: the old secrets go (they are wrong now).
        self.add_mailbox("alice@example.test", PASSWORD)
        self.assertEqual(self.kinds(), ["plaintext"] + SCRAM_ONLY)
        result = self.ok_json("mailbox", "passwd", "alice@example.test", "--password-hash", SHA512_HASH)
        self.assertEqual(result["secret_kinds"], [])
        self.assertIs(result["secrets_pending"], True)
        self.assertEqual(self.kinds(), [])

    def test_disabled_service_keeps_its_secrets_until_its_setting_changes(self):
        self.ok("service", "set", "pop3", "apop", "on")
        self.add_mailbox("alice@example.test", PASSWORD)
        self.ok("service", "disable", "pop3")
        self.assertNotIn("deleted", self.ok("service", "set", "pop3", "port", "1110"))
        self.assertIn("plaintext", self.kinds())
        self.ok("service", "enable", "pop3")
        self.assertIn("deleted 1 stored secret", self.ok("service", "set", "pop3", "apop", "off"))
        self.assertEqual(self.kinds(), SCRAM_ONLY)

    def test_removing_a_mailbox_removes_its_secrets(self):
        self.ok("service", "set", "pop3", "apop", "on")
        self.add_mailbox("alice@example.test", PASSWORD)
        self.add_mailbox("bob@example.test", PASSWORD)
        self.ok("mailbox", "remove", "alice@example.test")
        self.assertEqual(self.kinds("alice"), [])
        self.assertEqual(self.kinds("bob"), ["plaintext"] + SCRAM_ONLY)

    def test_a_key_file_readable_by_others_is_refused(self):
        self.ok("service", "set", "pop3", "apop", "on")
        self.add_mailbox("alice@example.test", PASSWORD)
        self.key_file().chmod(0o644)
        err = self.fails("mailbox", "passwd", "alice@example.test", "--password", PASSWORD)
        self.assertIn("chmod 600", err)
        self.assertIn("secrets.key", err)
        self.assertNotIn(PASSWORD, err)
        self.key_file().chmod(0o600)
        self.ok("mailbox", "passwd", "alice@example.test", "--password", PASSWORD)


if __name__ == "__main__":
    unittest.main()
