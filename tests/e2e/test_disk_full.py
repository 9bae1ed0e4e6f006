# Disk full in CI: scripts/diskfull-test (root: a small tmpfs as the data dir) — deliveries by
# SMTP, LMTP and mailctl refused with the disk-full answers and nothing partial left, POP3 and the
# database on the full disk, and everything working again once space is freed, without a restart.
import os
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 180


@unittest.skipUnless(os.geteuid() == 0, "mounts a tmpfs: needs root (CI runs as root)")
class DiskFullTest(unittest.TestCase):
    def test_full_disk_refuses_cleanly_and_recovers(self):
        proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "diskfull-test")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
        output = proc.stdout.decode(errors="replace")
        if proc.returncode != 0:
            sys.stderr.write(output)
        self.assertNotEqual(proc.returncode, 2, "diskfull-test could not mount its tmpfs (output above)")
        self.assertEqual(proc.returncode, 0, "scripts/diskfull-test found violations (output above)")


if __name__ == "__main__":
    unittest.main()
