#!/usr/bin/env python3
"""`loops 1` against `loops 2` side by side, and the daemon's CPU per session by component.

Two mailroomd instances (same build, same provisioning, data directories copied) run at once on
loopback high ports, one with `loops 1`, one with `loops 2`; each scenario is measured on both in
turn (A B A B ...). For each run: sessions/s and latency percentiles from bench/loadgen/pop3load,
the daemon's CPU time (utime+stime from /proc/PID/stat) per completed session, and how busy the
whole machine was (/proc/stat) — the load generator shares the cores with the daemon.

Scenarios (each a fixed load: --concurrency clients for --seconds):
  login-empty   connect, USER/PASS ({SSHA256}: a cheap hash), QUIT on an empty mailbox
  login-scan    the same on a mailbox of --messages messages (the Maildir scan at login)
  session       login-scan + STAT, UIDL, RETR of every message (transfer)
  login-argon2  login-empty with an argon2id password (the default hash of new passwords)
  login-tls     login-empty over implicit TLS (the handshake)
Differences between scenarios give each component's CPU per session (docs/scaling.md).

usage: bench/loops_bench.py [--seconds 8] [--runs 2] [--concurrency 16] [--out FILE]
       (build/mailroomd, build/mailctl and bench/loadgen/pop3load by default)
"""
import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BOXES = 64  # per kind, 4 per client at -c 16: a mailbox is rarely still locked by its previous session ([IN-USE])
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ssha256(password: str) -> str:
    salt = os.urandom(8)
    return "{SSHA256}" + base64.b64encode(hashlib.sha256(password.encode() + salt).digest() + salt).decode()


def proc_cpu(pid: int) -> float:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def machine_cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v), idle


class Daemon:
    def __init__(self, args, data, loops):
        self.args, self.data, self.loops = args, data, loops
        self.port, self.tls_port = free_port(), free_port()
        self.mailctl("daemon", "set", "loops", str(loops))
        self.mailctl("service", "set", "pop3", "port", str(self.port))
        self.mailctl("service", "set", "pop3", "tls_port", str(self.tls_port))
        self.log = open(os.path.join(os.path.dirname(data), "mailroomd-loops%d.log" % loops), "w")
        user = ["--user", "root"] if os.geteuid() == 0 else []  # as the e2e harness does
        self.proc = subprocess.Popen([args.mailroomd, "--data", data] + user, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"+OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("mailroomd (loops %d) did not start; see %s" % (loops, self.log.name))

    def mailctl(self, *a):
        subprocess.run([self.args.mailctl, "--data", self.data] + list(a), check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        self.log.close()


def provision(args, data, kinds=("empty", "scan", "argon")):
    """A fresh SQLite data directory with BOXES mailboxes of each kind in `kinds` (empty: a cheap
    hash, no mail; scan: a cheap hash, --messages messages of ~4 KB; argon: argon2id, no mail);
    returns {kind: path of its "address password" list for pop3load}."""
    def mailctl(*a, input=None):
        subprocess.run([args.mailctl, "--data", data] + list(a), check=True, input=input, stdout=subprocess.DEVNULL)
    mailctl("init")
    for name in ("imap", "smtp", "lmtp", "poppassd"):
        subprocess.run([args.mailctl, "--data", data, "service", "disable", name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mailctl("service", "set", "pop3", "binds", "127.0.0.1")
    mailctl("service", "set", "pop3", "implicit_tls", "on")
    mailctl("service", "set", "pop3", "tls_binds", "127.0.0.1")
    mailctl("service", "set", "pop3", "max_connections_per_ip", "0")
    mailctl("service", "set", "pop3", "login_checks_per_ip", "64")
    mailctl("daemon", "set", "rehash_on_login", "off")  # else the first login makes a cheap hash argon2id
    mailctl("cert", "generate", "--hostname", "localhost")
    mailctl("postoffice", "add", "bench.test")
    users = {}
    body = b"Subject: bench\n\n" + (b"x" * 70 + b"\n") * 56  # ~4 KB
    for kind in kinds:
        lines = []
        for i in range(BOXES):
            box, pw = "%s%d@bench.test" % (kind, i), "pw-%s-%d" % (kind, i)
            if kind == "argon":
                mailctl("mailbox", "add", box, "--password", pw)
            else:
                mailctl("mailbox", "add", box, "--password-hash", ssha256(pw))
            if kind == "scan":
                for _ in range(args.messages):
                    mailctl("deliver", box, input=body)
            lines.append("%s %s" % (box, pw))
        path = os.path.join(os.path.dirname(data), "users-%s.txt" % kind)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        users[kind] = path
    return users


SCENARIOS = {
    "login-empty": ("login", "empty", False),
    "login-scan": ("login", "scan", False),
    "session": ("session", "scan", False),
    "login-argon2": ("login", "argon", False),
    "login-tls": ("login", "empty", True),
}


def measure(args, daemon, users, scenario):
    mode, kind, tls = SCENARIOS[scenario]
    cmd = [args.loadgen, "--host", "127.0.0.1", "--port", str(daemon.tls_port if tls else daemon.port),
           "--users", users[kind], "--mode", mode, "-c", str(args.concurrency),
           "--sessions", "100000000", "--duration", str(args.seconds)]
    if tls:
        cmd.append("--tls")
    cpu0, (tot0, idle0), t0 = proc_cpu(daemon.proc.pid), machine_cpu(), time.monotonic()
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, timeout=args.seconds + 60).stdout
    cpu1, (tot1, idle1), t1 = proc_cpu(daemon.proc.pid), machine_cpu(), time.monotonic()
    r = json.loads(out)
    n = max(1, r["completed"])
    busy = 100.0 * (1 - (idle1 - idle0) / max(1, tot1 - tot0))
    return {"scenario": scenario, "loops": daemon.loops, "sessions_per_s": r["sessions_per_s"],
            "completed": r["completed"], "failed": r["failed"], "p50_ms": r["lat_ms"]["p50"],
            "p90_ms": r["lat_ms"]["p90"], "daemon_cpu_ms_per_session": 1000.0 * (cpu1 - cpu0) / n,
            "daemon_cpu_pct": 100.0 * (cpu1 - cpu0) / (t1 - t0), "machine_busy_pct": busy}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mailroomd", default=os.path.join(ROOT, "build", "mailroomd"))
    ap.add_argument("--mailctl", default=os.path.join(ROOT, "build", "mailctl"))
    ap.add_argument("--loadgen", default=os.path.join(HERE, "loadgen", "pop3load"))
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    args.concurrency = min(args.concurrency, BOXES // 4)
    work = tempfile.mkdtemp(prefix="mailroom-loops-bench-")
    try:
        base = os.path.join(work, "base", "data")
        os.makedirs(os.path.dirname(base))
        users = provision(args, base)
        daemons = []
        for loops in (1, 2):
            data = os.path.join(work, "loops%d" % loops, "data")
            shutil.copytree(os.path.dirname(base), os.path.dirname(data), symlinks=True)
            daemons.append(Daemon(args, data, loops))
        rows = []
        try:
            for scenario in args.only.split(","):
                for run in range(args.runs):
                    for d in daemons:
                        row = measure(args, d, users, scenario)
                        rows.append(row)
                        print("%-13s loops=%d run %d: %8.1f sessions/s  p50 %7.2f ms  daemon %6.3f ms CPU/session "
                              "(%3.0f%% CPU)  machine busy %3.0f%%  failed %d" % (
                                  scenario, d.loops, run + 1, row["sessions_per_s"], row["p50_ms"],
                                  row["daemon_cpu_ms_per_session"], row["daemon_cpu_pct"], row["machine_busy_pct"],
                                  row["failed"]), file=sys.stderr)
        finally:
            for d in daemons:
                d.stop()
        print("\n| scenario | loops | sessions/s | p50 ms | daemon CPU ms/session | daemon CPU % | machine busy % |")
        print("|---|---|---|---|---|---|---|")
        for scenario in args.only.split(","):
            for loops in (1, 2):
                rs = [r for r in rows if r["scenario"] == scenario and r["loops"] == loops]
                med = lambda k: statistics.median(r[k] for r in rs)
                print("| %s | %d | %.0f | %.2f | %.3f | %.0f | %.0f |" % (
                    scenario, loops, med("sessions_per_s"), med("p50_ms"), med("daemon_cpu_ms_per_session"),
                    med("daemon_cpu_pct"), med("machine_busy_pct")))
        if args.out:
            with open(args.out, "w") as f:
                json.dump(rows, f, indent=1)
    finally:
        if not os.environ.get("LOOPS_BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
