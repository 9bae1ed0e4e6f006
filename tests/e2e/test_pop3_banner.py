# End-to-end POP3 banner: changed live (an open session keeps its own), used for the greeting and
# the QUIT sign-off, at most 400 characters (mailctl names the limit), and with APOP the longest
# banner and the timestamp share one 512-octet line, neither cut.
import re
import unittest

from harness import ServerTestCase

ALICE = "alice@example.test"
ALICE_PW = "s3cret-banner"


class Pop3BannerTest(ServerTestCase):
    def provision(self, server):
        server.add_postoffice("example.test")
        server.add_mailbox(ALICE, ALICE_PW)

    def test_banner_changed_live_is_the_greeting_and_the_sign_off_and_an_open_session_keeps_its_own(self):
        old = self.server.raw()
        self.addCleanup(old.close)
        self.assertEqual(old.readline(), b"+OK " + self.server.banner.encode())
        self.server.set("banner", "Acme mail service ready.")
        self.wait_until(lambda: self.server.greeting() == b"+OK Acme mail service ready.",
                        what="the new banner in the greeting")
        new = self.server.raw()
        self.addCleanup(new.close)
        self.assertEqual(new.readline(), b"+OK Acme mail service ready.")
        self.assertEqual(new.command("QUIT"), b"+OK Acme mail service signing off")
        new.wait_closed()
        # The session opened before the change goes on with the banner it was greeted with.
        self.assertEqual(old.command("QUIT"), b"+OK " + self.server.banner.encode() + b" signing off")
        old.wait_closed()

    def test_sign_off_after_a_login_counts_the_messages_left(self):
        self.server.set("banner", "Acme mail ready")
        self.wait_until(lambda: self.server.greeting() == b"+OK Acme mail ready", what="the new banner")
        p = self.server.login(ALICE, ALICE_PW)
        self.assertEqual(p.quit(), b"+OK Acme mail signing off (0 messages left)")

    def test_a_401_character_banner_is_refused_naming_the_limit_and_400_is_accepted(self):
        proc = self.server.mailctl("service", "set", "pop3", "banner", "b" * 401, check=False)
        self.assertEqual(proc.returncode, 1, proc)
        err = proc.stderr.decode()
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("banner", err)
        self.assertIn("longer than 400 characters", err)
        self.assertNotIn("b" * 401, err, "the refused value is not echoed whole")
        self.server.mailctl("service", "set", "pop3", "banner", "b" * 400)

    def test_the_longest_banner_and_the_apop_timestamp_fit_one_reply_line(self):
        banner = "B" * 399 + "x"
        self.server.set("apop", "on")
        self.server.set("banner", banner)
        self.wait_until(lambda: self.server.greeting().startswith(b"+OK " + banner.encode() + b" <"),
                        what="the 400-character banner with a timestamp")
        line = self.server.greeting()
        self.assertLessEqual(len(line) + 2, 512, line)  # CRLF included
        self.assertRegex(line.decode(), r"^\+OK " + banner + r" <\d+\.\d+\.\d+@[^<>@ ]+>$")

    def test_the_default_banner_names_no_product(self):
        self.server.mailctl("service", "unset", "pop3", "banner")
        self.wait_until(lambda: self.server.greeting() == b"+OK POP3 server ready", what="the default banner")
        conn = self.server.raw()
        self.addCleanup(conn.close)
        conn.readline()
        self.assertNotIn(b"Mailroom", conn.command("QUIT"))


if __name__ == "__main__":
    unittest.main()
