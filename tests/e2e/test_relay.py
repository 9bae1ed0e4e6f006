"""The relay to the smarthost (issue 17), without XTND XMIT: two mailroomd on loopback. B is the
smarthost (postoffice remote.test, mailbox bob; its SMTP service with its generated certificate,
STARTTLS required by A); A has `smarthost` = B's SMTP port and `smarthost_ca_file` = B's
certificate, and gets its queue filled by the test-only tool queue_fill (build/tests/queue_fill).
Checked: XTND XMIT from A's POP3 to a recipient on B and a Bcc'd local one (B's POP3 returns it
without the Bcc field, A's local copy too, the queue empties); delivery through STARTTLS (B's POP3 returns the message, A's queue empties); a recipient
B refuses -> one bounce in the sender's Maildir on A; B down -> deferred with backoff, then B up
and `mailctl queue retry --all` -> delivered; the smarthost password never in A's log.
"""
import datetime
import json
import os
import re
import subprocess
import unittest

from harness import MAILCTL, LOOPBACK, Server, ServerTestCase, make_message, retr_bytes

QUEUE_FILL = os.environ.get("QUEUE_FILL") or os.path.join(os.path.dirname(MAILCTL), "tests", "queue_fill")

ALICE, ALICE_PW = "alice@local.test", "alice-pw"
BOB, BOB_PW = "bob@remote.test", "bob-pw"
NOBODY = "nobody@remote.test"
SMARTHOST_PASSWORD = "relay-pw-never-logged"
RETRY_MIN = 30  # the deferred attempt's backoff, checked from the envelope
RELAY_WAIT = 15.0  # the relay scans every 2 s; a TLS conversation on loopback takes well under 1 s


def at(rfc3339: str) -> int:
    return int(datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp())


class RelayTest(ServerTestCase):
    service = "pop3"  # A: its POP3 shows the bounce

    def provision(self, server: Server):
        self.smarthost = Server("smtp", also=("pop3",))
        self.addCleanup(self._finish_server, self.smarthost)
        self.smarthost.add_postoffice("remote.test")
        self.smarthost.add_mailbox(BOB, BOB_PW)
        self.smarthost.start()
        server.add_postoffice("local.test")
        server.add_mailbox(ALICE, ALICE_PW)
        self.point_at_smarthost(server)
        server.mailctl("daemon", "set", "smarthost_ca_file", os.path.join(self.smarthost.data, "tls", "cert.pem"))
        server.mailctl("daemon", "set", "smarthost_password", SMARTHOST_PASSWORD)
        server.mailctl("daemon", "set", "queue_retry_min", RETRY_MIN)
        server.set("xtnd_xmit", "true")

    def point_at_smarthost(self, server: Server):
        server.mailctl("daemon", "set", "smarthost", "%s:%d" % (LOOPBACK, self.smarthost.ports["smtp"]))

    def enqueue(self, subject: str, *recipients) -> str:
        message = make_message(subject, b"relayed body\n.leading dot\n", sender=ALICE.encode(), to=BOB.encode())
        p = subprocess.run([QUEUE_FILL, "add", self.server.data, ALICE] + list(recipients), input=message,
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode().strip()

    def queue(self) -> list:
        return json.loads(self.server.mailctl("queue", "list", "--json").stdout)

    def entry(self, entry_id: str):
        return next((e for e in self.queue() if e["id"] == entry_id), None)

    def mailbox_texts(self, server: Server, user: str, password: str) -> list:
        p = server.login(user, password)
        try:
            count = len(p.list()[1])
            return [retr_bytes(p.retr(i)[1]) for i in range(1, count + 1)]
        finally:
            p.quit()

    def test_relay_delivers_bounces_and_retries(self):
        # 1. Delivered over STARTTLS (verified against B's certificate); the queue empties.
        first = self.enqueue("relay one", BOB)
        self.wait_until(lambda: not self.queue(), timeout=RELAY_WAIT, what="the queue empties")
        texts = self.mailbox_texts(self.smarthost, BOB, BOB_PW)
        self.assertEqual(len(texts), 1)
        self.assertIn(b"Subject: relay one", texts[0])
        self.assertIn(b"\r\n.leading dot\r\n", texts[0])  # dot-stuffed on the wire, unstuffed by B
        log = self.server.log_tail(400)
        self.assertRegex(log, r"event=relay\.sent id=%s rcpt=%s reply=\S.* tls=TLSv1\.[23]" % (
            re.escape(first), re.escape(BOB)))

        # 2. One recipient refused (unknown mailbox at B): bob gets it, alice gets ONE bounce.
        second = self.enqueue("relay two", NOBODY, BOB)
        self.wait_until(lambda: not self.queue(), timeout=RELAY_WAIT, what="the entry with a refusal goes")
        self.assertEqual(len(self.mailbox_texts(self.smarthost, BOB, BOB_PW)), 2)
        bounces = self.mailbox_texts(self.server, ALICE, ALICE_PW)
        self.assertEqual(len(bounces), 1, bounces)
        self.assertIn(NOBODY.encode(), bounces[0])
        self.assertIn(b"multipart/report", bounces[0])
        self.assertIn(b"Subject: relay two", bounces[0])  # the original header, in the report
        log = self.server.log_tail(400)
        self.assertIn("event=relay.failed id=%s rcpt=%s" % (second, NOBODY), log)
        self.assertIn("event=relay.bounced id=%s" % second, log)

        # 3. The smarthost down: deferred, with the backoff; then up, retry --all: delivered.
        self.smarthost.stop()
        third = self.enqueue("relay three", BOB)
        self.wait_until(lambda: (self.entry(third) or {}).get("attempts", 0) >= 1, timeout=RELAY_WAIT,
                        what="a failed attempt is recorded")
        e = self.entry(third)
        self.assertEqual(e["recipients"][0]["state"], "pending")
        self.assertIn("cannot connect", e["last_error"])
        self.assertIn("event=relay.deferred id=%s rcpt=%s" % (third, BOB), self.server.log_tail(200))
        backoff = at(e["next_attempt_at"]) - at(e["last_attempt_at"])
        self.assertEqual(backoff, RETRY_MIN, e)  # the first retry waits queue_retry_min
        self.smarthost.start()  # new ports: A is told where it is now (applied live)
        self.point_at_smarthost(self.server)
        self.server.mailctl("queue", "retry", "--all")
        self.wait_until(lambda: not self.queue(), timeout=RELAY_WAIT, what="the retried entry is delivered")
        texts = self.mailbox_texts(self.smarthost, BOB, BOB_PW)
        self.assertTrue(any(b"Subject: relay three" in t for t in texts))

        # The password: set, shown as (set), never logged.
        shown = json.loads(self.server.mailctl("daemon", "show", "--json").stdout)
        pw = next(s for s in shown["settings"] if s["key"] == "smarthost_password")
        self.assertEqual(pw["value"], "(set)")
        self.assertNotIn(SMARTHOST_PASSWORD, self.server.mailctl("daemon", "show").stdout.decode())
        with open(self.server.log_path, "rb") as f:
            self.assertNotIn(SMARTHOST_PASSWORD.encode(), f.read())


    def test_xtnd_xmit_to_a_remote_recipient_goes_through_the_smarthost(self):
        conn = self.server.raw()
        try:
            conn.login(ALICE, ALICE_PW)
            self.assertTrue(conn.command("XTND XMIT").startswith(b"+OK"))
            conn.send(b"From: Alice <" + ALICE.encode() + b">\r\nTo: Bob <" + BOB.encode() + b">\r\n"
                      b"Bcc: " + ALICE.encode() + b"\r\nSubject: over the smarthost\r\n\r\n"
                      b"sent with XTND XMIT\r\n..dot line\r\n.\r\n")
            final = conn.readline()
            self.assertTrue(final.startswith(b"+OK"), final)
            self.assertIn(b"queued for 1 remote recipient", final)
            conn.command("QUIT")
        finally:
            conn.close()
        self.wait_until(lambda: not self.queue(), timeout=RELAY_WAIT, what="the queue empties")
        remote = self.mailbox_texts(self.smarthost, BOB, BOB_PW)
        self.assertEqual(len(remote), 1)
        self.assertIn(b"Subject: over the smarthost", remote[0])
        self.assertIn(b"\r\n.dot line\r\n", remote[0])
        self.assertNotIn(b"Bcc:", remote[0])
        self.assertIn(b"with POP3 XTND XMIT", remote[0])  # A's Received line travelled with it
        local = self.mailbox_texts(self.server, ALICE, ALICE_PW)
        self.assertEqual(len(local), 1)  # the Bcc'd local copy
        self.assertNotIn(b"Bcc:", local[0])
        self.assertIn(b"Subject: over the smarthost", local[0])
        self.assertRegex(self.server.log_tail(400), r"event=relay\.sent id=\S+ rcpt=%s" % re.escape(BOB))


if __name__ == "__main__":
    unittest.main()
