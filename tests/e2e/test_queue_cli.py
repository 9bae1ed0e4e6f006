"""mailctl queue list|show|retry|remove (issue 17): the outbound queue of a data directory,
filled through the real queue API by the test-only tool queue_fill (build/tests/queue_fill,
never installed). No daemon: the commands work on the files, under each entry's lock.
docs/xtnd-xmit.md "The outbound queue" and docs/mailctl.md "queue" describe what is checked.
"""
import json
import os
import re
import subprocess
import unittest

from test_mailctl import MAILCTL, MailctlTestCase

QUEUE_FILL = os.environ.get("QUEUE_FILL") or os.path.join(os.path.dirname(MAILCTL), "tests", "queue_fill")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

MESSAGE = (b"From: Alice <alice@example.test>\r\nTo: bob@remote.test\r\nCc: carol@remote.test\r\n"
           b"Subject: quarterly\r\n numbers\r\nDate: Sat, 05 Dec 2026 12:00:00 +0000\r\n"
           b"Message-ID: <q1@example.test>\r\n\r\nthe secret body\r\n")


class QueueCliTest(MailctlTestCase):
    def setUp(self):
        super().setUp()
        self.ok("init")

    def fill(self, *args, stdin=b""):
        p = subprocess.run([QUEUE_FILL, args[0], str(self.data)] + list(args[1:]), input=stdin,
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode().strip()

    def test_list_show_retry_remove(self):
        self.assertEqual(self.ok("queue", "list"), "queue is empty\n")
        self.assertEqual(self.ok_json("queue", "list"), [])

        first = self.fill("add", "alice@example.test", "bob@remote.test", "carol@remote.test",
                          "--at", "1796475301", stdin=MESSAGE)
        second = self.fill("add", "alice@example.test", "dave@remote.test", stdin=b"Subject: two\n\nx\n")
        self.fill("attempt", second, "451 4.3.0 try again later")

        # list: oldest first, one line each and the total.
        text = self.ok("queue", "list")
        lines = text.splitlines()
        self.assertTrue(lines[0].startswith("ID "), text)
        self.assertTrue(lines[1].startswith(first), text)
        self.assertTrue(lines[2].startswith(second), text)
        self.assertIn("451 4.3.0 try again later", lines[2])
        size = len(MESSAGE) + len(b"Subject: two\r\n\r\nx\r\n")
        self.assertEqual(lines[3], "2 messages, %d bytes queued" % size)

        listed = self.ok_json("queue", "list")
        self.assertEqual([e["id"] for e in listed], [first, second])
        e = listed[0]
        self.assertEqual(list(e), ["id", "sender", "recipients", "size_bytes", "queued_at", "next_attempt_at",
                                   "last_attempt_at", "attempts", "last_error", "bounced"])
        self.assertEqual(e["sender"], "alice@example.test")
        self.assertEqual(e["recipients"], [
            {"address": "bob@remote.test", "state": "pending", "last_reply": ""},
            {"address": "carol@remote.test", "state": "pending", "last_reply": ""}])
        self.assertEqual(e["size_bytes"], len(MESSAGE))
        self.assertEqual(e["queued_at"], "2026-12-05T12:55:01Z")
        self.assertIsNone(e["next_attempt_at"])  # as soon as possible
        self.assertIsNone(e["last_attempt_at"])  # never tried
        self.assertEqual((e["attempts"], e["last_error"], e["bounced"]), (0, "", False))
        tried = listed[1]
        self.assertEqual(tried["attempts"], 1)
        self.assertRegex(tried["last_attempt_at"], RFC3339)
        self.assertRegex(tried["next_attempt_at"], RFC3339)
        self.assertEqual(tried["recipients"][0]["last_reply"], "451 4.3.0 try again later")

        # show: the envelope and the first header lines, never the body.
        shown = self.ok_json("queue", "show", first)
        self.assertEqual(shown["id"], first)
        self.assertEqual(shown["headers"], {
            "from": "Alice <alice@example.test>", "to": "bob@remote.test", "subject": "quarterly numbers",
            "date": "Sat, 05 Dec 2026 12:00:00 +0000", "message_id": "<q1@example.test>"})
        human = self.ok("queue", "show", first)
        self.assertIn("Subject: quarterly numbers", human)
        self.assertIn("carol@remote.test  pending", human)
        self.assertNotIn("secret body", human + json.dumps(shown))
        self.assertIn("no queued message 'nope'", self.fails("queue", "show", "nope", code=4))

        # retry: the next attempt becomes "as soon as possible".
        out = self.ok_json("queue", "retry", second)
        self.assertEqual(out, {"ok": True, "id": second})
        self.assertIsNone(self.ok_json("queue", "show", second)["next_attempt_at"])
        self.fails("queue", "retry", "1.no.such.id", code=4)
        self.fails("queue", "retry", code=2)
        out = self.ok_json("queue", "retry", "--all")
        self.assertEqual(out, {"ok": True, "retried": [first, second], "skipped": []})

        # remove: gone from the list, its files too.
        out = self.ok_json("queue", "remove", first)
        self.assertEqual(out, {"ok": True, "id": first, "size_bytes": len(MESSAGE)})
        self.assertEqual([e["id"] for e in self.ok_json("queue", "list")], [second])
        self.fails("queue", "remove", first, code=4)
        self.assertEqual(len(os.listdir(self.data / "queue" / "messages" / "new")), 1)
        self.assertTrue(self.ok("queue", "remove", second).startswith("removed queued message " + second))
        self.assertEqual(self.ok("queue", "list"), "queue is empty\n")

    def test_an_entry_being_delivered_is_not_changed(self):
        entry = self.fill("add", "alice@example.test", "bob@remote.test", stdin=MESSAGE)
        holder = subprocess.Popen([QUEUE_FILL, "hold", str(self.data), entry], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(holder.stdout.readline(), b"held\n")
            err = self.fails("queue", "remove", entry, code=1)
            self.assertIn("being delivered right now; try again", err)
            err = self.fails("queue", "retry", entry, code=1)
            self.assertIn("being delivered right now; try again", err)
            out = self.ok_json("queue", "retry", "--all")
            self.assertEqual(out, {"ok": True, "retried": [], "skipped": [entry]})
            self.assertEqual(len(self.ok_json("queue", "list")), 1)  # read-only commands still work
        finally:
            holder.stdin.close()
            holder.wait(timeout=10)
            holder.stdout.close()
            holder.stderr.close()
        self.ok("queue", "remove", entry)
        self.assertEqual(self.ok_json("queue", "list"), [])

    def test_a_broken_envelope_is_listed_and_can_be_removed(self):
        good = self.fill("add", "alice@example.test", "bob@remote.test", stdin=MESSAGE)
        broken = "1796475000.M1P1Q1.broken"
        with open(self.data / "queue" / "envelopes" / (broken + ".json"), "w") as f:
            f.write("{not json")
        listed = self.ok_json("queue", "list")
        self.assertEqual([e["id"] for e in listed], [broken, good])
        self.assertIn("broken envelope", listed[0]["last_error"])
        self.assertEqual(listed[0]["recipients"], [])
        self.assertIn("broken envelope", self.ok("queue", "list"))
        self.assertIn("broken envelope", self.fails("queue", "show", broken, code=1))
        self.ok("queue", "remove", broken)
        self.assertEqual([e["id"] for e in self.ok_json("queue", "list")], [good])


if __name__ == "__main__":
    unittest.main()
