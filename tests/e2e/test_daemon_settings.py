"""mailctl daemon show|set|unset: daemon-wide settings, validated, stored, applied live."""
import json
import unittest

from harness import ServerTestCase


class DaemonSettingsTest(ServerTestCase):
    def test_set_is_validated_stored_and_applied_live(self):
        shown = json.loads(self.server.mailctl("daemon", "show", "--json").stdout)
        keys = [s["key"] for s in shown["settings"]]
        # The catalog's order: logging and metrics first, then the blocks issue 17 added.
        self.assertEqual(keys[:4], ["log_target", "log_level", "log_format", "metrics_listen"])
        self.assertIn("password_min_length", keys)
        self.assertIn("smarthost", keys)
        self.assertTrue(all(s["set"] is False and s["value"] == s["default"] for s in shown["settings"]))

        bad = self.server.mailctl("daemon", "set", "log_format", "yaml", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("log_format", bad.stderr.decode())
        self.assertEqual(bad.stdout, b"")
        unknown = self.server.mailctl("daemon", "set", "no_such_key", "1", check=False)
        self.assertNotEqual(unknown.returncode, 0)
        self.assertIn("unknown daemon setting 'no_such_key'", unknown.stderr.decode())

        out = json.loads(self.server.mailctl("daemon", "set", "metrics_listen", "off", "--json").stdout)
        self.assertEqual(out, {"ok": True, "key": "metrics_listen", "value": "off", "set": True})
        self.server.mailctl("daemon", "set", "log_level", "warn")
        self.wait_until(lambda: "event=daemon.setting key=log_level value=warn" in self.server.log_tail(200),
                        what="the daemon logs the applied daemon setting")
        shown = json.loads(self.server.mailctl("daemon", "show", "--json").stdout)
        level = next(s for s in shown["settings"] if s["key"] == "log_level")
        self.assertEqual((level["value"], level["set"]), ("warn", True))

        out = json.loads(self.server.mailctl("daemon", "unset", "log_level", "--json").stdout)
        self.assertEqual(out, {"ok": True, "key": "log_level", "value": "info", "set": False, "was_set": True})


if __name__ == "__main__":
    unittest.main()
