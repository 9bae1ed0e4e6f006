"""Node-local settings (mailctl service set|unset --local, DATA/node.json) and the mail_root
daemon setting: a local port moves the listener live, is marked by show, left out of export;
new mailboxes get their Maildir under mail_root and POP3 serves them."""
import json
import os
import subprocess
import unittest

from harness import MAILCTL, ServerTestCase, free_port, make_message


class NodeSettingsTest(ServerTestCase):
    def show_port(self):
        shown = json.loads(self.server.mailctl("service", "show", "pop3", "--json").stdout)
        return next(s for s in shown["settings"] if s["key"] == "port")

    def test_local_port_moves_the_listener_and_stays_out_of_export(self):
        cluster_port = self.server.port
        local_port = free_port()
        while local_port in (cluster_port, self.server.tls_port):
            local_port = free_port()

        refused = self.server.mailctl("service", "set", "--local", "pop3", "max_connections", "5", check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("'max_connections' is a cluster-wide setting", refused.stderr.decode())
        self.assertIn("port, alt_port, binds, tls_port, tls_binds", refused.stderr.decode())
        # The cross-setting checks see the local value: the TLS port may not take the plain one.
        clash = self.server.mailctl("service", "set", "--local", "pop3", "tls_port", str(cluster_port), check=False)
        self.assertEqual(clash.returncode, 1)
        self.assertIn("nothing was stored", clash.stderr.decode())
        self.assertFalse(os.path.exists(os.path.join(self.server.data, "node.json")))

        out = json.loads(self.server.mailctl("service", "set", "--local", "pop3", "port", str(local_port),
                                             "--json").stdout)
        self.assertEqual(out, {"ok": True, "service": "pop3", "key": "port", "value": local_port, "set": True,
                               "local": True})
        self.assertEqual(os.stat(os.path.join(self.server.data, "node.json")).st_mode & 0o777, 0o600)
        self.server.wait_greeting(self.server.banner, port=local_port)
        port = self.show_port()
        self.assertEqual((port["value"], port["local"], port["cluster_value"], port["set"]),
                         (local_port, True, cluster_port, True))
        exported = json.loads(self.server.mailctl("export").stdout)
        pop3 = next(s for s in exported["services"] if s["service"] == "pop3")
        self.assertEqual(pop3["settings"]["port"], cluster_port)
        self.wait_until(lambda: "node settings changed" in self.server.log_tail(200),
                        what="the daemon's reload names the node file")

        out = json.loads(self.server.mailctl("service", "unset", "--local", "pop3", "port", "--json").stdout)
        self.assertEqual((out["value"], out["set"], out["was_set"]), (cluster_port, False, True))
        self.server.wait_greeting(self.server.banner, port=cluster_port)
        self.assertFalse(self.show_port()["local"])

        # A damaged file (only a hand edit makes one) fails the reload; the listeners stay.
        node_file = os.path.join(self.server.data, "node.json")
        with open(node_file, "w") as f:
            f.write("{")
        self.wait_until(lambda: "node.json: not valid JSON" in self.server.log_tail(200),
                        what="the failed reload naming the node file")
        self.server.wait_greeting(self.server.banner, port=cluster_port)
        damaged = self.server.mailctl("service", "show", "pop3", check=False)
        self.assertEqual(damaged.returncode, 1)
        self.assertIn(node_file + ": not valid JSON", damaged.stderr.decode())
        os.unlink(node_file)

    def test_concurrent_local_changes_all_kept(self):
        # Each `service set --local` reads node.json, checks and replaces it: without the lock
        # two at once lose one change. Values equal to the cluster's keep the listeners as they are.
        shown = json.loads(self.server.mailctl("service", "show", "pop3", "--json").stdout)
        cluster = {s["key"]: s["value"] for s in shown["settings"]}
        keys = ["port", "alt_port", "binds", "tls_port", "tls_binds"]
        node_file = os.path.join(self.server.data, "node.json")
        for round_ in range(4):
            procs = [subprocess.Popen([MAILCTL, "--data", self.server.data, "service", "set", "--local", "pop3",
                                       key, str(cluster[key])], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                     for key in keys]
            errors = [p.communicate(timeout=60)[1].decode() for p in procs]
            self.assertEqual([p.returncode for p in procs], [0] * len(keys), errors)
            with open(node_file) as f:
                kept = json.load(f)["services"]["pop3"]
            self.assertEqual(sorted(kept), sorted(keys), "round %d" % round_)
            os.unlink(node_file)


class MailRootTest(ServerTestCase):
    def test_new_mailbox_maildir_under_mail_root_served_by_pop3(self):
        root = os.path.join(self.server.root, "shared-mail")
        self.server.mailctl("daemon", "set", "mail_root", root)
        self.server.add_postoffice("example.test")
        missing = self.server.mailctl("mailbox", "add", "bob@example.test", "--password", "secret-pass-1",
                                      check=False)
        self.assertEqual(missing.returncode, 3)
        self.assertIn("the mail_root " + root + " is not there", missing.stderr.decode())

        os.mkdir(root, 0o700)
        self.server.add_mailbox("bob@example.test", "secret-pass-1")
        shown = json.loads(self.server.mailctl("mailbox", "show", "bob@example.test", "--json").stdout)
        self.assertEqual(shown["maildir"], os.path.join(root, "example.test", "bob", "Maildir"))
        self.server.deliver("bob@example.test", make_message("on the shared root", b"hello\n",
                                                              to=b"bob@example.test"))
        self.assertEqual(len(os.listdir(os.path.join(shown["maildir"], "new"))), 1)
        pop = self.server.login("bob@example.test", "secret-pass-1")
        try:
            self.assertEqual(pop.stat()[0], 1)
            self.assertIn(b"Subject: on the shared root", b"\n".join(pop.retr(1)[1]))
        finally:
            pop.quit()
        # Export leaves out a Maildir that is the default under the mail root.
        exported = json.loads(self.server.mailctl("export").stdout)
        bob = next(m for m in exported["mailboxes"] if m["address"] == "bob@example.test")
        self.assertNotIn("maildir", bob)


if __name__ == "__main__":
    unittest.main()
