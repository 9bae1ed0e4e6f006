# Load and exhaustion (issue 15): scripts/load-test --quick against the built daemon. Held
# connections at a small max_connections, a flood of a few hundred attempts while they are held,
# slowloris clients with short timeouts, a burst of good and bad logins; a legitimate client is
# served throughout (except while every slot is held, when it must get the busy reply quickly),
# descriptors come back to the baseline after each phase and the daemon stays alive.
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

from harness import ServerTestCase, connect_from

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "load-test")


class LoadExhaustionTest(unittest.TestCase):
    def test_quick_load_run(self):
        with tempfile.TemporaryDirectory(prefix="mailroom-load-") as tmp:
            out = os.path.join(tmp, "load.json")
            proc = subprocess.run([sys.executable, SCRIPT, "--quick", "--json", out],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
            text = proc.stdout.decode(errors="replace")
            self.assertTrue(os.path.exists(out), text)
            with open(out) as f:
                report = json.load(f)
        self.assertEqual(report["violations"], [], text)
        self.assertEqual(proc.returncode, 0, text)
        self.assertEqual(report["exit_code"], 0, text)
        phases = {p["phase"]: p for p in report["phases"]}
        self.assertEqual(set(phases), {"hold", "flood", "slowloris", "logins"}, text)
        baseline = report["baseline"]["fds"]
        for name, p in phases.items():
            self.assertEqual(p["legit"]["failed"], 0, "%s: %s" % (name, text))
            if name != "hold":
                self.assertLessEqual(p["fds_after"], baseline, "%s: %s" % (name, text))
        for name in ("slowloris", "logins"):
            legit = phases[name]["legit"]
            self.assertGreater(legit["ok"], 0, text)
            self.assertLessEqual(legit["p99_ms"], report["config"]["legit_p99_ms"], text)
        # Every slot held: the flood was refused, the held connections stayed and were served.
        self.assertGreater(report["flood"]["busy"], 0, text)
        self.assertEqual(report["flood"]["greeting"], 0, text)
        self.assertTrue(all(s["ok"] for s in report["slowloris"]), text)
        self.assertGreater(len(report["logins"]["blocked"]), 0, text)


class LoginFairnessTest(ServerTestCase):
    """Password checks of many guessing addresses queued ahead of an honest login (found by
    scripts/load-test: the legitimate client waited up to 8 s behind 32 argon2id checks in the
    worker pool's FIFO). The service-wide login_checks slots go to the address with the fewest
    checks started (then the earliest login), so the honest login waits for one guess per guessing
    address at most, not for the whole queue."""

    GUESSERS = 8
    PER_GUESSER = 4  # login_checks_per_ip: all start at once without the service-wide bound

    extra_settings = {}  # a mutation check sets login_checks=1000 here: the test must then fail

    def provision(self, server):
        for key, value in self.extra_settings.items():
            server.set(key, value)
        server.add_postoffice("example.test")
        server.add_mailbox("honest@example.test", "honest-password-1")
        server.add_mailbox("victim@example.test", "victim-password-1")

    GUESS = re.compile(r"event=pop3\.login .*ip=127\.0\.7\.\d+ .*result=auth_failed")

    def log_logins(self):
        with open(self.server.log_path, "rb") as f:
            return [l for l in f.read().decode(errors="replace").splitlines() if "event=pop3.login " in l]

    def guesses_checked_while_the_honest_login_waited(self):
        """(guesses checked between the honest PASS and its +OK, guesses still unchecked at its PASS)"""
        conns = []
        honest = None
        try:
            for g in range(self.GUESSERS):
                for _ in range(self.PER_GUESSER):
                    c = connect_from("127.0.7.%d" % (g + 1), self.server.port, timeout=60)
                    c.readline()
                    c.command("USER victim@example.test")
                    conns.append(c)
            honest = connect_from("127.0.0.1", self.server.port, timeout=60)
            honest.readline()
            self.assertTrue(honest.command("USER honest@example.test").startswith(b"+OK"))
            for i, c in enumerate(conns):
                c.send(b"PASS wrong-%d\r\n" % i)
            time.sleep(0.2)  # the guesses are queued before the honest PASS arrives
            done_before = sum(1 for l in self.log_logins() if self.GUESS.search(l))
            self.assertTrue(honest.command("PASS honest-password-1").startswith(b"+OK"))
            for c in conns:  # every guess answered: the daemon is done with them
                c.readline(timeout=60)
        finally:
            for c in conns + [honest]:
                if c is not None:
                    c.close()
        logins = self.log_logins()
        honest_at = next(i for i, l in enumerate(logins) if "user=honest@example.test result=ok" in l)
        total = sum(1 for l in logins if self.GUESS.search(l))
        self.assertEqual(total, self.GUESSERS * self.PER_GUESSER)
        before = sum(1 for l in logins[:honest_at] if self.GUESS.search(l))
        return before - done_before, total - done_before

    def test_an_honest_login_waits_only_for_the_checks_already_running(self):
        waited_for, queued = self.guesses_checked_while_the_honest_login_waited()
        self.assertGreaterEqual(queued, 12, "the guesses were checked before the honest PASS: no contest")
        # One turn per address: the first guess of each guessing address (they queued first), and
        # at most login_checks (default 3) more finishing while its own check ran; not the whole queue.
        self.assertLessEqual(waited_for, self.GUESSERS + 3, "the honest login waited for %d of %d queued guesses" % (
            waited_for, queued))


if __name__ == "__main__":
    unittest.main()
