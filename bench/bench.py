#!/usr/bin/env python3
"""Mail server benchmark driver: runs the same suite against one or more servers, interleaved.

Each --target is NAME,PORT,TLSPORT,PIDFILE[,USERSDIR] (PIDFILE holds the server's top process id;
its whole process tree is measured for CPU and memory; use '-' for TLSPORT to skip TLS tests).
USERSDIR holds that server's users.txt, users-big.txt, users-huge.txt ('login password' lines;
default: the --data dir), for servers whose logins differ from the bare user names (Mailroom:
user00001@bench.test, written by mailroom-import.sh).
Optional --reset NAME=SHELLCMD is run before the 'first login' measurement of the big mailbox
(it must drop that server's cached index for the big user; for Dovecot: reset-dovecot-index.sh).

Tests (pick with --only, comma-separated):
  warm      one session per user (c=50) so every mailbox has been opened once (not reported)
  session   full sessions (USER/PASS, STAT, UIDL, RETR all, QUIT), c=1 and c=50, plain and TLS
  login     connect + USER/PASS + QUIT, c=50, plain and TLS
  retr      RETR of the 10 MB messages, --sessions-retr sessions one after another per run (plain
            and TLS) + raw references
  cmds      STAT/UIDL/LIST on the big mailbox: first login (after --reset) and repeated
  idle      server memory with N idle authenticated sessions (--idle-counts, plain; --idle-tls too)
  deliver   durable deliveries over LMTP (--lmtp NAME=PORT) and SMTP (--smtp NAME=PORT) with
            loadgen/smtpload: ~4 KB messages, 1 and 5 recipients, c=1 and c=20, --deliver-seconds
            per run, to the users-deliver.txt mailboxes (emptied before every run, so the POP3
            users' mail is never touched)
Reports medians of --runs runs; raw JSON of every run goes to --out.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ process-tree accounting
def _all_stats():
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rindex(")") + 2:].split()
        # fields after comm: state ppid ... utime(14) stime(15) cutime(16) cstime(17)
        out[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14]))
    return out


def tree_pids(root):
    st = _all_stats()
    kids = {}
    for pid, (ppid, _) in st.items():
        kids.setdefault(ppid, []).append(pid)
    res, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in st:
            res.append(p)
            todo.extend(kids.get(p, []))
    return res, st


def tree_cpu(root):
    """CPU seconds of root + live descendants, including reaped children (cutime/cstime)."""
    pids, st = tree_pids(root)
    return sum(st[p][1] for p in pids) / TCK


def sys_cpu():
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / TCK, v[7] / TCK


def tree_mem(root):
    pids, _ = tree_pids(root)
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return {"procs": len(pids), "rss_MiB": rss / 1024, "pss_MiB": pss / 1024, "fds": tree_fds(pids)}


def tree_fds(pids):
    """Open file descriptors of these processes (sockets included)."""
    n = 0
    for p in pids:
        try:
            n += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            pass
    return n


# ------------------------------------------------------------------ helpers
class Target:
    def __init__(self, spec):
        parts = spec.split(",")
        if len(parts) not in (4, 5):
            sys.exit(f"bad --target {spec!r}: NAME,PORT,TLSPORT,PIDFILE[,USERSDIR]")
        self.name, self.port = parts[0], int(parts[1])
        self.tls_port = None if parts[2] in ("-", "") else int(parts[2])
        self.pidfile = parts[3]
        self.users_dir = parts[4] if len(parts) == 5 and parts[4] else None
        self.reset = None

        self.lmtp_port = self.smtp_port = None

    def pid(self):
        with open(self.pidfile) as f:
            return int(f.read().split()[0])


def loadgen(args, extra, timeout, binary=None):
    cmd = [binary or args.loadgen, "--host", args.host] + [str(x) for x in extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd}: rc={p.returncode} {p.stderr.strip()}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def measured(args, t, extra, timeout=150, binary=None):
    """Run the load generator and account the server tree's CPU over the same interval."""
    pid = t.pid()
    c0, w0, (b0, s0) = tree_cpu(pid), time.monotonic(), sys_cpu()
    r = loadgen(args, extra, timeout, binary)
    time.sleep(0.3)  # let the server reap/log the last sessions
    r["server_cpu_s"] = tree_cpu(pid) - c0
    r["wall_s"] = time.monotonic() - w0
    b1, s1 = sys_cpu()
    # everything else the machine did meanwhile (other processes, unattributed softirq), and
    # hypervisor steal: both are noise indicators
    r["other_cpu_pct"] = (b1 - b0 - r["server_cpu_s"] - r["client_cpu_s"]) / r["wall_s"] * 100
    r["steal_pct"] = (s1 - s0) / r["wall_s"] * 100
    if r.get("completed"):
        r["server_cpu_s_per_1000"] = r["server_cpu_s"] / r["completed"] * 1000
        r["client_cpu_s_per_1000"] = r["client_cpu_s"] / r["completed"] * 1000
    r["server_cpu_pct"] = r["server_cpu_s"] / max(r["elapsed_s"], 1e-9) * 100
    return r


def med(rows, key, sub=None):
    vals = []
    for r in rows:
        v = r.get(key)
        if sub is not None and isinstance(v, dict):
            v = v.get(sub)
        if isinstance(v, (int, float)):
            vals.append(v)
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def users(args, t, name):
    """The target's user list NAME (its USERSDIR, else the data dir)."""
    return os.path.join(t.users_dir or args.data, name)


# ------------------------------------------------------------------ tests
def t_warm(args, targets, res):
    for t in targets:
        n = sum(1 for _ in open(users(args, t, "users.txt")))
        r = loadgen(args, ["--port", t.port, "--users", users(args, t, "users.txt"), "-c", 50,
                           "--sessions", n, "--duration", 300], 330)
        res.setdefault(t.name, {})["warm"] = r
        print(f"[{t.name}] warm: {r['completed']} sessions, {r['sessions_per_s']:.0f}/s, failed {r['failed']}",
              file=sys.stderr)


def run_series(args, targets, res, key, extra_fn, runs):
    for i in range(runs):
        for t in targets:
            extra = extra_fn(t)
            if extra is None:
                continue
            r = measured(args, t, extra)
            res.setdefault(t.name, {}).setdefault(key, []).append(r)
            print(f"[{t.name}] {key} run {i + 1}: {r.get('sessions_per_s', 0):.1f}/s failed={r['failed']} "
                  f"server_cpu={r['server_cpu_pct']:.0f}% client_cpu={r['client_cpu_pct']:.0f}% "
                  f"other_cpu={r['other_cpu_pct']:.0f}% steal={r['steal_pct']:.0f}%", file=sys.stderr)


def t_session(args, targets, res):
    for tls in (False, True):
        for c, n in ((1, args.sessions_c1), (50, args.sessions_c50)):
            key = f"session_c{c}_{'tls' if tls else 'plain'}"

            def extra(t, c=c, n=n, tls=tls):
                port = t.tls_port if tls else t.port
                if port is None:
                    return None
                return ["--port", port, "--users", users(args, t, "users.txt"), "-c", c, "--sessions", n, "--duration", 60,
                        "--user-offset", (n * 7) % 1000] + (["--tls"] if tls else [])
            run_series(args, targets, res, key, extra, args.runs)


def t_login(args, targets, res):
    for tls in (False, True):
        key = f"login_c50_{'tls' if tls else 'plain'}"

        def extra(t, tls=tls):
            port = t.tls_port if tls else t.port
            if port is None:
                return None
            return ["--mode", "login", "--port", port, "--users", users(args, t, "users.txt"), "-c", 50,
                    "--sessions", args.sessions_login, "--duration", 60] + (["--tls"] if tls else [])
        run_series(args, targets, res, key, extra, args.runs)


def t_retr(args, targets, res):
    for tls in (False, True):
        key = f"retr_huge_{'tls' if tls else 'plain'}"

        def extra(t, tls=tls):
            port = t.tls_port if tls else t.port
            if port is None:
                return None
            return ["--port", port, "--users", users(args, t, "users-huge.txt"), "-c", 1,
                    "--sessions", args.sessions_retr, "--duration", 120] + \
                (["--tls"] if tls else [])
        run_series(args, targets, res, key, extra, args.runs)
    # physical references: the same bytes from page cache
    md = os.path.join(args.data, "mail", "huge", "Maildir", "cur")
    files = sorted(os.path.join(md, f) for f in os.listdir(md))
    total = sum(os.path.getsize(f) for f in files)
    ref = res.setdefault("_reference", {})
    for i in range(args.runs):
        t0 = time.monotonic()
        subprocess.run(["cat"] + files, stdout=subprocess.DEVNULL, check=True)
        el = time.monotonic() - t0
        ref.setdefault("cat_devnull", []).append({"bytes": total, "elapsed_s": el, "MBps": total / el / 1e6})
        srv = subprocess.Popen([str(x) for x in [args.loadgen, "--mode", "serve", "--host", args.host,
                                "--port", args.raw_port, "--file", files[0], "--repeat", len(files),
                                "--sessions", 1, "--duration", 30]],
                               stderr=subprocess.PIPE, text=True)
        srv.stderr.readline()  # READY
        r = loadgen(args, ["--mode", "sink", "--port", args.raw_port, "--duration", 30], 40)
        srv.wait(timeout=30)
        ref.setdefault("raw_tcp_loopback", []).append(r)
        print(f"[ref] cat {total / el / 1e6:.0f} MB/s, raw tcp {r['MBps']:.0f} MB/s", file=sys.stderr)


def t_cmds(args, targets, res):
    for t in targets:
        if t.reset:
            subprocess.run(t.reset, shell=True, check=True)
            r = measured(args, t, ["--port", t.port, "--users", users(args, t, "users-big.txt"), "-c", 1, "--sessions", 1,
                                   "--steps", "STAT,UIDL,LIST", "--duration", 120])
            res.setdefault(t.name, {})["cmds_big_first"] = [r]
            print(f"[{t.name}] big first: session {r['lat_ms']['p50']:.1f} ms (login {r['login_ms_avg']:.1f} ms)",
                  file=sys.stderr)
    run_series(args, targets, res, "cmds_big_repeat",
               lambda t: ["--port", t.port, "--users", users(args, t, "users-big.txt"), "-c", 1, "--sessions", 1,
                          "--steps", "STAT,UIDL,LIST", "--duration", 120], args.runs)
    if all(os.path.exists(users(args, t, "users-xbig.txt")) for t in targets):
        for t in targets:
            if t.reset_x:
                subprocess.run(t.reset_x, shell=True, check=True)
                r = measured(args, t, ["--port", t.port, "--users", users(args, t, "users-xbig.txt"), "-c", 1, "--sessions", 1,
                                       "--steps", "STAT,UIDL,LIST", "--duration", 300], timeout=330)
                res.setdefault(t.name, {})["cmds_xbig_first"] = [r]
        run_series(args, targets, res, "cmds_xbig_repeat",
                   lambda t: ["--port", t.port, "--users", users(args, t, "users-xbig.txt"), "-c", 1, "--sessions", 1,
                              "--steps", "STAT,UIDL,LIST", "--duration", 300], args.runs)


def t_idle(args, targets, res):
    modes = [False, True] if args.idle_tls else [False]
    for t in targets:
        for tls in modes:
            port = t.tls_port if tls else t.port
            if port is None:
                continue
            for n in args.idle_counts:
                n_users = sum(1 for line in open(users(args, t, "users.txt")) if line.strip())
                if n > n_users:
                    # Servers that lock a maildrop per session (RFC 1939; Mailroom does, Dovecot by
                    # default does not) refuse a second session of the same user with [IN-USE].
                    print(f"[{t.name}] warning: {n} idle sessions but only {n_users} users: a server that "
                          f"locks mailboxes can log in only {n_users} (gen-data.py --users {n})", file=sys.stderr)
                if t.restart:
                    subprocess.run(t.restart, shell=True, check=True, stdout=subprocess.DEVNULL)
                time.sleep(2)
                base = tree_mem(t.pid())
                ready = os.path.join(args.tmp, f"idle-ready-{os.getpid()}")
                if os.path.exists(ready):
                    os.unlink(ready)
                cmd = [args.loadgen, "--mode", "idle", "--host", args.host, "--port", str(port),
                       "--users", users(args, t, "users.txt"),
                       "-c", str(n), "--ramp", "50", "--idle-seconds", "60", "--duration", "240",
                       "--ready-file", ready] + (["--tls"] if tls else [])
                p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                t0 = time.monotonic()
                while not os.path.exists(ready) and p.poll() is None and time.monotonic() - t0 < 200:
                    time.sleep(0.2)
                time.sleep(3)  # settle
                m = tree_mem(t.pid())
                p.send_signal(15)
                out, _ = p.communicate(timeout=60)
                r = json.loads(out.strip().splitlines()[-1])
                authed = int(open(ready).read()) if os.path.exists(ready) else 0
                # The sessions are gone: the server's descriptors must come back to where they were.
                t1 = time.monotonic()
                after = tree_mem(t.pid())
                while after["fds"] > base["fds"] and time.monotonic() - t1 < 30:
                    time.sleep(0.5)
                    after = tree_mem(t.pid())
                row = {"sessions": authed, "tls": tls, "base": base, "loaded": m, "after": after,
                       "fds_back_to_base": after["fds"] <= base["fds"], "fds_settle_s": time.monotonic() - t1,
                       "delta_pss_MiB": m["pss_MiB"] - base["pss_MiB"], "delta_rss_MiB": m["rss_MiB"] - base["rss_MiB"],
                       "ramp_s": time.monotonic() - t0, "loadgen": r}
                row["pss_KiB_per_session"] = row["delta_pss_MiB"] * 1024 / max(authed, 1)
                res.setdefault(t.name, {}).setdefault("idle", []).append(row)
                print(f"[{t.name}] idle {'tls' if tls else 'plain'} {authed}/{n}: procs={m['procs']} "
                      f"RSS={m['rss_MiB']:.0f} MiB PSS={m['pss_MiB']:.0f} MiB "
                      f"({row['pss_KiB_per_session']:.0f} KiB PSS/session); fds {base['fds']} -> {m['fds']} -> "
                      f"{after['fds']} after ({'back to base' if row['fds_back_to_base'] else 'NOT back to base'})",
                      file=sys.stderr)
                time.sleep(3)


DELIVER_ROWS = [(proto, rcpts, c) for proto in ("lmtp", "smtp") for rcpts in (1, 5) for c in (1, 20)]


def deliver_maildirs(args):
    """The Maildirs of the delivery recipients (users-deliver.txt of the data dir)."""
    with open(os.path.join(args.data, "users-deliver.txt")) as f:
        names = [line.split()[0] for line in f if line.strip() and not line.startswith("#")]
    return [os.path.join(args.data, "mail", n, "Maildir") for n in names]


def empty_maildirs(dirs):
    """Delete every message and every server's index/state file; keep new/ cur/ tmp/ (and their
    owner), then sync so the next run does not pay for this run's write-back."""
    for md in dirs:
        for entry in os.scandir(md):
            if entry.is_dir(follow_symlinks=False) and entry.name in ("new", "cur", "tmp"):
                for f in os.scandir(entry.path):
                    os.unlink(f.path)
            elif entry.is_dir(follow_symlinks=False):
                subprocess.run(["rm", "-rf", entry.path], check=True)
            else:
                os.unlink(entry.path)
    os.sync()


def stored_messages(dirs):
    return sum(len(os.listdir(os.path.join(md, sub))) for md in dirs for sub in ("new", "cur"))


def t_deliver(args, targets, res):
    dirs = deliver_maildirs(args)
    if not any(t.lmtp_port or t.smtp_port for t in targets):
        sys.exit("deliver: no --lmtp or --smtp port given for any target")
    for proto, rcpts, c in DELIVER_ROWS:
        key = f"deliver_{proto}_r{rcpts}_c{c}"
        for i in range(args.runs):
            for t in targets:
                port = t.lmtp_port if proto == "lmtp" else t.smtp_port
                if not port:
                    continue
                empty_maildirs(dirs)
                r = measured(args, t, ["--proto", proto, "--port", port, "-c", c, "--rcpts-per-msg", rcpts,
                                       "--rcpts", users(args, t, "users-deliver.txt"), "--domain", args.deliver_domain,
                                       "--duration", args.deliver_seconds, "--rcpt-offset", i * 37],
                             timeout=args.deliver_seconds + 60, binary=args.smtpload)
                r["stored"] = stored_messages(dirs)
                res.setdefault(t.name, {}).setdefault(key, []).append(r)
                print(f"[{t.name}] {key} run {i + 1}: {r['msgs_per_s']:.1f} msgs/s ({r['rcpt_per_s']:.1f} rcpt/s) "
                      f"p50 {r['lat_ms']['p50']:.1f} ms p99 {r['lat_ms']['p99']:.1f} ms "
                      f"server {r['server_cpu_s_per_1000']:.2f} s/1000 msgs ({r['server_cpu_pct']:.0f}%) "
                      f"client_cpu={r['client_cpu_pct']:.0f}% other_cpu={r['other_cpu_pct']:.0f}% "
                      f"steal={r['steal_pct']:.0f}%", file=sys.stderr)
                if r["stored"] != r["rcpt_deliveries"]:
                    print(f"[{t.name}] warning: {r['rcpt_deliveries']} deliveries acknowledged but {r['stored']} "
                          "files in the recipients' new/ and cur/", file=sys.stderr)
    empty_maildirs(dirs)


# ------------------------------------------------------------------ summary
def summary(res, targets, baseline=None):
    """Markdown table: one column per target, then one ratio column per other target against the
    baseline target (target value / baseline value, from the medians)."""
    base = next((t for t in targets if t.name == baseline), targets[0]) if targets else None
    others = [t for t in targets if t is not base] if len(targets) > 1 else []
    lines = ["| measure | " + " | ".join(t.name for t in targets) +
             "".join(f" | {o.name} / {base.name}" for o in others) + " |",
             "|---|" + "---|" * (len(targets) + len(others))]

    def row(label, fn, val=None):
        cells = []
        for t in targets:
            try:
                cells.append(fn(res.get(t.name, {})) or "—")
            except Exception:  # noqa: BLE001 - a missing test is shown as a dash
                cells.append("—")
        if all(cell == "—" for cell in cells):
            return  # a test not run (and not kept in --out): no row
        for o in others:
            try:
                cells.append(f"{val(res[o.name]) / val(res[base.name]):.2f}×")
            except Exception:  # noqa: BLE001 - no ratio without both values (or without val)
                cells.append("—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    def rate(key):
        def f(r):
            m, o = med(r[key], "sessions_per_s"), med(r[key], "other_cpu_pct")
            fails = sum(x.get("failed", 0) for x in r[key])
            return (f"{m['median']:.0f} /s ({m['min']:.0f}–{m['max']:.0f}, n={m['n']}, other_cpu {o['median']:.0f}%"
                    + (f", {fails} failed" if fails else "") + ")")
        return f

    def cpu(key):
        def f(r):
            s, c = med(r[key], "server_cpu_s_per_1000"), med(r[key], "client_cpu_s_per_1000")
            return f"server {s['median']:.2f} s ({s['min']:.2f}–{s['max']:.2f}), client {c['median']:.2f} s"
        return f

    def p50(key):
        return lambda r: "{:.0f} / {:.0f} ms".format(statistics.median(x["lat_ms"]["p50"] for x in r[key]),
                                                     statistics.median(x["lat_ms"]["p99"] for x in r[key]))

    for k in ("session_c1_plain", "session_c50_plain", "session_c1_tls", "session_c50_tls",
              "login_c50_plain", "login_c50_tls"):
        row(k + " rate", rate(k), lambda r, k=k: med(r[k], "sessions_per_s")["median"])
    for k in ("session_c50_plain", "session_c50_tls"):
        row(k + " latency p50 / p99", p50(k), lambda r, k=k: statistics.median(x["lat_ms"]["p50"] for x in r[k]))
    for k in ("session_c50_plain", "session_c50_tls", "login_c50_plain", "login_c50_tls"):
        row(k + " CPU per 1000", cpu(k), lambda r, k=k: med(r[k], "server_cpu_s_per_1000")["median"])

    def retr(k):
        v = [x["steps"]["RETR"]["MBps"] for x in k]
        return f"{statistics.median(v):.0f} MB/s ({min(v):.0f}–{max(v):.0f}, n={len(v)})"
    for k in ("retr_huge_plain", "retr_huge_tls"):
        row(k + " MB/s", lambda r, k=k: retr(r[k]),
            lambda r, k=k: statistics.median(x["steps"]["RETR"]["MBps"] for x in r[k]))
    row("big first login: login / STAT / UIDL / LIST ms", lambda r: "{:.1f} / {:.2f} / {:.2f} / {:.2f}".format(
        r["cmds_big_first"][0]["login_ms_avg"], *(r["cmds_big_first"][0]["steps"][s]["ms_avg"] for s in ("STAT", "UIDL", "LIST"))))
    row("big repeat: login / STAT / UIDL / LIST ms (median)", lambda r: "{:.1f} / {:.2f} / {:.2f} / {:.2f}".format(
        statistics.median(x["login_ms_avg"] for x in r["cmds_big_repeat"]),
        *(statistics.median(x["steps"][s]["ms_avg"] for x in r["cmds_big_repeat"]) for s in ("STAT", "UIDL", "LIST"))),
        lambda r: statistics.median(x["lat_ms"]["p50"] for x in r["cmds_big_repeat"]))
    n_idle = max((len(res.get(t.name, {}).get("idle", [])) for t in targets), default=0)
    for i in range(n_idle):
        row(f"idle #{i + 1}", lambda r, i=i: "{} {} sessions: {:.0f} MiB PSS, {:.0f} MiB RSS, {} procs".format(
            r["idle"][i]["sessions"], "tls" if r["idle"][i]["tls"] else "plain", r["idle"][i]["loaded"]["pss_MiB"],
            r["idle"][i]["loaded"]["rss_MiB"], r["idle"][i]["loaded"]["procs"]),
            lambda r, i=i: r["idle"][i]["loaded"]["pss_MiB"])
    for proto, rcpts, c in DELIVER_ROWS:
        k = f"deliver_{proto}_r{rcpts}_c{c}"
        if not any(k in res.get(t.name, {}) for t in targets):
            continue
        label = f"{proto} {rcpts} rcpt c={c}"

        def drate(r, k=k):
            m, o, d = med(r[k], "msgs_per_s"), med(r[k], "other_cpu_pct"), med(r[k], "rcpt_per_s")
            return (f"{m['median']:.1f} /s ({m['min']:.1f}–{m['max']:.1f}, n={m['n']}, other_cpu {o['median']:.0f}%)"
                    + (f"; {d['median']:.0f} rcpt/s" if rcpts > 1 else ""))
        row(label + " msgs/s", drate, lambda r, k=k: med(r[k], "msgs_per_s")["median"])
        row(label + " latency p50 / p99", p50(k), lambda r, k=k: statistics.median(x["lat_ms"]["p50"] for x in r[k]))
        row(label + " CPU per 1000 msgs", cpu(k), lambda r, k=k: med(r[k], "server_cpu_s_per_1000")["median"])
    ref = res.get("_reference", {})
    if ref:
        lines.append("")
        lines.append("reference: cat→/dev/null {:.0f} MB/s, raw TCP loopback {:.0f} MB/s (medians)".format(
            statistics.median(x["MBps"] for x in ref["cat_devnull"]),
            statistics.median(x["MBps"] for x in ref["raw_tcp_loopback"])))
    if others:
        lines.append("")
        lines.append(f"ratios: {', '.join(o.name for o in others)} / {base.name} of the medians "
                     "(rates, MB/s: higher is better; CPU, latency, ms, memory: lower is better)")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    work = os.environ.get("BENCH_WORK") or os.path.join(os.environ.get("TMPDIR", "/tmp"), "pop3bench")
    ap.add_argument("--target", action="append", required=True, help="NAME,PORT,TLSPORT,PIDFILE[,USERSDIR]")
    ap.add_argument("--reset", action="append", default=[], help="NAME=CMD (drop big user's cache)")
    ap.add_argument("--reset-xbig", action="append", default=[], help="NAME=CMD (drop xbig user's cache)")
    ap.add_argument("--restart", action="append", default=[],
                    help="NAME=CMD run before each idle-memory step so the baseline is a fresh server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--data", default=os.environ.get("DATA_DIR", os.path.join(work, "data")))
    ap.add_argument("--loadgen", default=os.path.join(HERE, "loadgen", "pop3load"))
    ap.add_argument("--smtpload", default=os.path.join(HERE, "loadgen", "smtpload"))
    ap.add_argument("--lmtp", action="append", default=[], help="NAME=PORT: the target's LMTP port (deliver)")
    ap.add_argument("--smtp", action="append", default=[], help="NAME=PORT: the target's SMTP port (deliver)")
    ap.add_argument("--deliver-seconds", type=float, default=10, help="length of one deliver run")
    ap.add_argument("--deliver-domain", default="bench.test",
                    help="appended to bare names of users-deliver.txt (Dovecot's list)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="warm,session,login,retr,cmds,idle")
    ap.add_argument("--sessions-c1", type=int, default=300)
    ap.add_argument("--sessions-c50", type=int, default=3000)
    ap.add_argument("--sessions-login", type=int, default=3000)
    # One session of 5 x 10 MB lasts ~40 ms at Mailroom's speed: too short to ride out a
    # scheduling hiccup on a shared machine. Several back to back make one run.
    ap.add_argument("--sessions-retr", type=int, default=4)
    ap.add_argument("--idle-counts", default="1000,5000")
    ap.add_argument("--idle-tls", action="store_true")
    ap.add_argument("--raw-port", type=int, default=11999)
    ap.add_argument("--out", default=os.path.join(work, "results.json"))
    ap.add_argument("--tmp", default=work)
    ap.add_argument("--baseline", default="dovecot",
                    help="target the ratio columns compare against (default: dovecot, else the first)")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "localhost") and not args.host.startswith("127."):
        sys.exit("only loopback targets are allowed")
    args.idle_counts = [int(x) for x in args.idle_counts.split(",") if x]
    targets = [Target(s) for s in args.target]
    for t in targets:
        t.reset = t.reset_x = t.restart = None
    for spec, attr in ([(s, "reset") for s in args.reset] + [(s, "reset_x") for s in args.reset_xbig] +
                       [(s, "restart") for s in args.restart] + [(s, "lmtp_port") for s in args.lmtp] +
                       [(s, "smtp_port") for s in args.smtp]):
        name, cmd = spec.split("=", 1)
        for t in targets:
            if t.name == name:
                setattr(t, attr, int(cmd) if attr.endswith("_port") else cmd)
    os.makedirs(args.tmp, exist_ok=True)
    res = {"_meta": {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "argv": sys.argv[1:],
                     "uname": os.uname().release, "cpus": os.cpu_count()}}
    if os.path.exists(args.out):
        with open(args.out) as f:
            old = json.load(f)
        res.update({k: v for k, v in old.items() if k != "_meta"})  # keep earlier tests' results
    tests = {"warm": t_warm, "session": t_session, "login": t_login, "retr": t_retr, "cmds": t_cmds,
             "idle": t_idle, "deliver": t_deliver}
    for name in args.only.split(","):
        if name:
            for t in targets:  # a fresh run of a test replaces that test's old rows
                for k in list(res.get(t.name, {})):
                    if k.split("_")[0] == name or (name == "cmds" and k.startswith("cmds")):
                        del res[t.name][k]
            if name == "retr":
                res.pop("_reference", None)
            tests[name](args, targets, res)
            with open(args.out, "w") as f:
                json.dump(res, f, indent=1)
    print(summary(res, targets, args.baseline))


if __name__ == "__main__":
    main()
