#!/usr/bin/env python3
"""mailctl apply of N mailboxes (issue 16, docs/benchmark.md "Issue 16: provisioning").

Two files, each applied to a fresh data directory (mailctl init) --runs times: N mailboxes with
password hashes (one argon2id hash, as an export carries them), and N mailboxes with plaintext
passwords (hashed by apply on every core: std::thread::hardware_concurrency()). Reports the
median wall time of each, the rate, and the machine's load average before and after (other
processes' load makes the plaintext figure noisy: it is CPU-bound).

usage: bench/provision_bench.py [--mailctl PATH] [--count 10000] [--runs 3] [--only hashes,plaintext]
No servers, no network: everything happens in a temporary directory.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# An argon2id hash of "bench-password" (t=2, m=19 MiB, p=1), what mailctl export writes.
HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$q4Lq7mTW2I3pPSIoD08fMEv1X+7X6m9NuQh3sGCgkp0"


def provisioning_file(count, plaintext):
    domains = ["bench%d.test" % d for d in range(10)]
    mailboxes = []
    for i in range(count):
        entry = {"address": "user%05d@%s" % (i, domains[i % len(domains)])}
        if plaintext:
            entry["password"] = "pw-%05d" % i
        else:
            entry["password_hash"] = HASH
        mailboxes.append(entry)
    return {"version": 1, "postoffices": [{"postoffice": d} for d in domains], "mailboxes": mailboxes}


def apply_once(mailctl, path, root):
    data = tempfile.mkdtemp(prefix="data-", dir=root)
    subprocess.run([mailctl, "--data", data, "init"], check=True, stdout=subprocess.DEVNULL)
    start = time.monotonic()
    proc = subprocess.run([mailctl, "--data", data, "apply", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("apply failed: %s" % proc.stderr.decode(errors="replace"))
    tail = proc.stdout.decode().splitlines()[-1]
    # Cheap to keep the disk from filling over many runs.
    subprocess.run(["rm", "-rf", data], check=True)
    return elapsed, tail


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mailctl", default=os.environ.get("MAILCTL", "build-release/mailctl"))
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="hashes,plaintext")
    args = ap.parse_args()
    print("provision: %d CPUs, load average %.2f before; %s" % (os.cpu_count(), os.getloadavg()[0], args.mailctl),
          file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory(prefix="provision-bench-") as root:
        for kind in args.only.split(","):
            path = os.path.join(root, kind + ".json")
            with open(path, "w") as f:
                json.dump(provisioning_file(args.count, kind == "plaintext"), f)
            times = []
            loads = []
            for run in range(args.runs):
                load_before = os.getloadavg()[0]
                elapsed, tail = apply_once(args.mailctl, path, root)
                loads.append((load_before, os.getloadavg()[0]))
                times.append(elapsed)
                print("provision: %s run %d: %.2f s (%s), load %.2f -> %.2f" % (
                    kind, run + 1, elapsed, tail, loads[-1][0], loads[-1][1]), file=sys.stderr)
            med = statistics.median(times)
            rows.append((kind, med, args.count / med, min(times), max(times),
                         "%.1f-%.1f" % (min(l[0] for l in loads), max(l[1] for l in loads))))
    print("| apply of %d mailboxes | median (%d runs) | mailboxes/s | min-max | load average |" % (args.count, args.runs))
    print("|---|---|---|---|---|")
    for kind, med, rate, lo, hi, load in rows:
        print("| %s | %.2f s | %.0f | %.2f-%.2f s | %s |" % (kind, med, rate, lo, hi, load))


if __name__ == "__main__":
    main()
