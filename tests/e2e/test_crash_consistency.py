# Crash consistency in CI: scripts/crash-test with a few iterations (SIGKILL of mailroomd during
# POP3 sessions and SMTP/LMTP/mailctl deliveries, then the checks of acknowledged mail, partial
# files, deletions, tmp/ and locks after the restart). The full run is `scripts/crash-test 300`
# (docs/reliability.md).
import os
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ITERATIONS = int(os.environ.get("CRASH_TEST_ITERATIONS", "8"))  # ~40 s on 2 busy cores
TIMEOUT = 300


class CrashConsistencyTest(unittest.TestCase):
    def test_sigkill_at_random_moments_keeps_every_acknowledged_message(self):
        proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "crash-test"), str(ITERATIONS)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
        output = proc.stdout.decode(errors="replace")
        if proc.returncode != 0:
            sys.stderr.write(output)
        self.assertEqual(proc.returncode, 0, "scripts/crash-test found violations (output above)")
        self.assertIn("failures 0", output)


if __name__ == "__main__":
    unittest.main()
