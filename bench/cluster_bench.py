#!/usr/bin/env python3
"""POP3 sessions/s of one node on SQLite, one node on PostgreSQL, two nodes on PostgreSQL behind
HAProxy, and one node on SQLite behind HAProxy (issue 19, docs/benchmark.md "Cluster").

Configurations (all on this machine, loopback only):
  A  sqlite        one mailroomd on its SQLite database, clients connect directly
  B  pg            one mailroomd on a private PostgreSQL (scripts/pg-scratch: unix socket), direct
  C  pg-2nodes     two mailroomd nodes on one database of that PostgreSQL (same secrets.key, ports
                   set with `service set --local`) behind HAProxy (roundrobin, send-proxy-v2;
                   proxy_protocol on, proxy_trusted 127.0.0.1)
  D  sqlite-proxy  one mailroomd on SQLite behind the same HAProxy (the balancer hop alone)
One SQLite data directory is provisioned (bench/loops_bench.py's provision()), copied once per
configuration, and B's and C's copies are moved to their own PostgreSQL database with
`mailctl migrate-database` (the documented path); node 2 of C joins with `init --database`.
Every copy's mailboxes point at the same Maildirs (nothing writes to them: no DELE).

Runs alternate A B C D A B C D ... within each scenario, so drift (another job on the machine)
hits every configuration alike. Scenarios (each a fixed load: --concurrency clients, --seconds):
  login    connect, USER/PASS ({SSHA256}: a cheap hash), QUIT on an empty mailbox
  session  login + STAT, UIDL, RETR of every one of --messages (~4 KB) messages, QUIT
For each run: sessions/s and latency percentiles from bench/loadgen/pop3load; the CPU time
(utime+stime from /proc) of the daemon(s), of HAProxy, of PostgreSQL (the postmaster and its
children) and of the load generator per completed session; how busy the whole machine was
(/proc/stat) and the share of it that none of these processes explain ("other": another job,
and kernel work no process is charged with, e.g. loopback softirqs), and, for 1 s before each
A B C D round, how busy the machine is with this benchmark idle (another job alone).

usage: bench/cluster_bench.py [--seconds 8] [--runs 3] [--concurrency 16] [--out FILE]
       (build/mailroomd, build/mailctl, bench/loadgen/pop3load by default; PostgreSQL 15's
       server binaries ($PG_BINDIR) and haproxy; as root, scripts/pg-scratch runs PostgreSQL as `nobody`)
"""
import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import haproxy_support  # noqa: E402  (tests/e2e: a private HAProxy, bounded start and stop)
import postgres_support  # noqa: E402  (tests/e2e: scripts/pg-scratch)
from loops_bench import BOXES, free_port, machine_cpu, proc_cpu, provision  # noqa: E402

LOOPBACK = "127.0.0.1"
CONFIGS = ("sqlite", "pg", "pg-2nodes", "sqlite-proxy")
SCENARIOS = {"login": ("login", "empty"), "session": ("session", "scan")}
START_TIMEOUT = 15.0


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def tree_cpu(root_pid: int) -> dict:
    """{pid: CPU seconds} of root_pid and its direct children (PostgreSQL's backends)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(name) == root_pid or int(fields[1]) == root_pid:
            out[int(name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def tree_cpu_delta(before: dict, after: dict) -> float:
    # A backend that exited in between is lost (the daemons keep theirs open: few, if any).
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


class Node:
    """One mailroomd on a provisioned data directory; `local`: its ports are node-local settings
    (a shared PostgreSQL database)."""

    def __init__(self, args, data, name, local):
        self.args, self.data, self.name = args, data, name
        self.port = free_port()
        scope = ["--local"] if local else []
        self.mailctl("service", "set", *scope, "pop3", "port", str(self.port))
        self.mailctl("service", "set", *scope, "pop3", "tls_port", str(free_port()))
        self.log = open(os.path.join(os.path.dirname(data), "mailroomd-%s.log" % name), "w")
        self.proc = None

    def mailctl(self, *a):
        subprocess.run([self.args.mailctl, "--data", self.data] + list(a), check=True,
                       stdout=subprocess.DEVNULL, timeout=120)

    def start(self):
        user = ["--user", "root"] if os.geteuid() == 0 else []  # as the e2e harness does
        self.proc = subprocess.Popen([self.args.mailroomd, "--data", self.data] + user, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)

    def wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if haproxy_support._listening(self.port):
                return
            time.sleep(0.1)
        raise SystemExit("mailroomd (%s) did not listen; see %s" % (self.name, self.log.name))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.log.close()


def greets(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=2) as s:
            ok = s.recv(100).startswith(b"+OK")
            s.sendall(b"QUIT\r\n")
            return ok
    except OSError:
        return False


def wait_greeting(port: int, what: str):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if greets(port):
            return
        time.sleep(0.1)
    raise SystemExit("no POP3 greeting from %s (port %d)" % (what, port))


def postmaster_pid(pg) -> int:
    with open(os.path.join(pg.dir, "data", "postmaster.pid")) as f:
        return int(f.readline())


def measure(args, users, scenario, config, target):
    mode, kind = SCENARIOS[scenario]
    port, nodes, proxy, pg_pid = target
    cmd = [args.loadgen, "--host", LOOPBACK, "--port", str(port), "--users", users[kind], "--mode", mode,
           "-c", str(args.concurrency), "--sessions", "100000000", "--duration", str(args.seconds)]
    d0 = [proc_cpu(n.proc.pid) for n in nodes]
    h0 = proc_cpu(proxy.proc.pid) if proxy else 0.0
    p0 = tree_cpu(pg_pid) if pg_pid else {}
    g0, (tot0, idle0), t0 = children_cpu(), machine_cpu(), time.monotonic()
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, timeout=args.seconds + 60).stdout
    g1, (tot1, idle1), t1 = children_cpu(), machine_cpu(), time.monotonic()
    d1 = [proc_cpu(n.proc.pid) for n in nodes]
    h1 = proc_cpu(proxy.proc.pid) if proxy else 0.0
    p1 = tree_cpu(pg_pid) if pg_pid else {}
    r = json.loads(out)
    n = max(1, r["completed"])
    wall = t1 - t0
    daemon = sum(b - a for a, b in zip(d0, d1))
    haproxy, postgres, loadgen = h1 - h0, tree_cpu_delta(p0, p1), g1 - g0
    busy = 100.0 * (1 - (idle1 - idle0) / max(1, tot1 - tot0))
    ours = 100.0 * (daemon + haproxy + postgres + loadgen) / (wall * os.cpu_count())
    return {"scenario": scenario, "config": config, "sessions_per_s": r["sessions_per_s"],
            "completed": r["completed"], "failed": r["failed"], "errors": r.get("errors", {}), "p50_ms": r["lat_ms"]["p50"],
            "p90_ms": r["lat_ms"]["p90"],
            "daemon_cpu_ms_per_session": 1000.0 * daemon / n, "haproxy_cpu_ms_per_session": 1000.0 * haproxy / n,
            "postgres_cpu_ms_per_session": 1000.0 * postgres / n, "loadgen_cpu_ms_per_session": 1000.0 * loadgen / n,
            "machine_busy_pct": busy, "other_busy_pct": max(0.0, busy - ours)}


def background_busy(seconds: float = 1.0) -> float:
    """How busy the machine is (%) while this benchmark runs nothing: another job's share."""
    tot0, idle0 = machine_cpu()
    time.sleep(seconds)
    tot1, idle1 = machine_cpu()
    return 100.0 * (1 - (idle1 - idle0) / max(1, tot1 - tot0))


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mailroomd", default=os.path.join(ROOT, "build", "mailroomd"))
    ap.add_argument("--mailctl", default=os.path.join(ROOT, "build", "mailctl"))
    ap.add_argument("--loadgen", default=os.path.join(HERE, "loadgen", "pop3load"))
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    args.concurrency = min(args.concurrency, BOXES // 4)  # a mailbox is rarely still locked ([IN-USE])
    if not (postgres_support.available() and haproxy_support.available()):
        raise SystemExit("needs PostgreSQL's server binaries (%s) and haproxy" % postgres_support.PG_BINDIR)
    print("loadavg at start: %s" % loadavg(), file=sys.stderr)
    work = tempfile.mkdtemp(prefix="mailroom-cluster-bench-")
    pg = proxy = None
    nodes = []
    try:
        base = os.path.join(work, "base", "data")
        os.makedirs(os.path.dirname(base))
        users = provision(args, base, kinds=("empty", "scan"))

        def copy(name):
            data = os.path.join(work, name, "data")
            shutil.copytree(base, data, symlinks=True)
            return data
        pg = postgres_support.ScratchPostgres()
        pg_pid = postmaster_pid(pg)
        a_data, b_data, c1_data, d_data = copy("sqlite"), copy("pg"), copy("pg-node1"), copy("sqlite-proxy")
        for data in (b_data, c1_data):
            subprocess.run([args.mailctl, "--data", data, "migrate-database", "--to", pg.create_database()],
                           check=True, stdout=subprocess.DEVNULL, timeout=300)
        c2_data = os.path.join(work, "pg-node2", "data")
        os.makedirs(c2_data, mode=0o700)
        shutil.copy2(os.path.join(c1_data, "secrets.key"), os.path.join(c2_data, "secrets.key"))
        with open(os.path.join(c1_data, "database.url")) as f:
            subprocess.run([args.mailctl, "--data", c2_data, "init", "--database", f.read().strip()],
                           check=True, stdout=subprocess.DEVNULL, timeout=120)
        # Certificates are node files (implicit TLS is on cluster-wide): node 2 needs its own.
        subprocess.run([args.mailctl, "--data", c2_data, "cert", "generate", "--hostname", "localhost"],
                       check=True, stdout=subprocess.DEVNULL, timeout=120)
        a = Node(args, a_data, "sqlite", local=False)
        b = Node(args, b_data, "pg", local=True)
        c1 = Node(args, c1_data, "pg-node1", local=True)
        c2 = Node(args, c2_data, "pg-node2", local=True)
        d = Node(args, d_data, "sqlite-proxy", local=False)
        nodes = [a, b, c1, c2, d]
        for node in (c1, d):  # c1's settings are c2's too (the cluster's database)
            node.mailctl("service", "set", "pop3", "proxy_trusted", LOOPBACK)
            node.mailctl("service", "set", "pop3", "proxy_protocol", "on")
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_listening()
        proxy = haproxy_support.HAProxy(work)
        c_port = proxy.frontend("cluster", [(LOOPBACK, c1.port), (LOOPBACK, c2.port)])
        d_port = proxy.frontend("sqlite", [(LOOPBACK, d.port)])
        proxy.start()
        for port, what in ((a.port, "A"), (b.port, "B"), (c_port, "C"), (c_port, "C"), (d_port, "D")):
            wait_greeting(port, what)  # C twice: round robin reaches both nodes
        targets = {"sqlite": (a.port, [a], None, None), "pg": (b.port, [b], None, pg_pid),
                   "pg-2nodes": (c_port, [c1, c2], proxy, pg_pid), "sqlite-proxy": (d_port, [d], proxy, None)}
        rows = []
        for scenario in args.only.split(","):
            for run in range(args.runs):
                idle_busy = background_busy()
                print("%-7s run %d: machine busy %3.0f%% with the benchmark idle, loadavg %s" % (
                    scenario, run + 1, idle_busy, loadavg()), file=sys.stderr)
                for config in CONFIGS:
                    row = measure(args, users, scenario, config, targets[config])
                    row["background_busy_pct"] = idle_busy
                    rows.append(row)
                    print("%-7s %-12s run %d: %7.1f sessions/s  p50 %6.2f ms  CPU ms/session: daemon %.3f "
                          "haproxy %.3f postgres %.3f loadgen %.3f  machine busy %3.0f%% (other %3.0f%%)  failed %d %s" % (
                              scenario, config, run + 1, row["sessions_per_s"], row["p50_ms"],
                              row["daemon_cpu_ms_per_session"], row["haproxy_cpu_ms_per_session"],
                              row["postgres_cpu_ms_per_session"], row["loadgen_cpu_ms_per_session"],
                              row["machine_busy_pct"], row["other_busy_pct"], row["failed"],
                              json.dumps(row["errors"]) if row["failed"] else ""), file=sys.stderr)
        print("loadavg at end: %s" % loadavg(), file=sys.stderr)
        print("\n| scenario | configuration | sessions/s | vs A | p50 ms | p90 ms | daemon CPU ms/session | "
              "HAProxy | PostgreSQL | load generator | machine busy % | other % | busy % before | failed |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for scenario in args.only.split(","):
            ref = None
            for config in CONFIGS:
                rs = [r for r in rows if r["scenario"] == scenario and r["config"] == config]
                med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
                ref = ref or med("sessions_per_s")
                print("| %s | %s | %.0f | %.2f | %.2f | %.2f | %.3f | %.3f | %.3f | %.3f | %.0f | %.0f | %.0f | %d |" % (
                    scenario, config, med("sessions_per_s"), med("sessions_per_s") / ref, med("p50_ms"),
                    med("p90_ms"), med("daemon_cpu_ms_per_session"), med("haproxy_cpu_ms_per_session"),
                    med("postgres_cpu_ms_per_session"), med("loadgen_cpu_ms_per_session"),
                    med("machine_busy_pct"), med("other_busy_pct"), med("background_busy_pct"), sum(r["failed"] for r in rs)))
        if args.out:
            with open(args.out, "w") as f:
                json.dump(rows, f, indent=1)
    finally:
        if proxy is not None:
            proxy.stop()
        for node in nodes:
            node.stop()
        if pg is not None:
            pg.remove()
        if not os.environ.get("CLUSTER_BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
