# A private HAProxy (Debian's /usr/sbin/haproxy) in front of mailroomd for the e2e tests: TCP mode,
# each frontend on its own free loopback port, forwarding to one or more servers with a PROXY
# header (send-proxy-v2 by default). Runs in the foreground (-db) from the test's scratch dir;
# stop() ends it (SIGTERM, then SIGKILL), and it is never left running.
import os
import shutil
import subprocess
import time

from harness import LOOPBACK, free_port, stop_process

HAPROXY = os.environ.get("HAPROXY", shutil.which("haproxy") or "/usr/sbin/haproxy")
START_TIMEOUT = 10.0


def available() -> bool:
    return os.access(HAPROXY, os.X_OK)


def _listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (read from /proc: no connection is made, so the
    backends see no probe)."""
    want = "0100007F:%04X" % port
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] == want and fields[3] == "0A":
                    return True
    except OSError:
        pass
    return False


class HAProxy:
    """HAProxy with frontends added by frontend(name, servers): `servers` is a list of
    (host, port) pairs; returns the frontend's port. `send_proxy` is the server option:
    "send-proxy-v2" (binary header), "send-proxy" (v1 text) or "" (none)."""

    def __init__(self, scratch_dir: str):
        self.dir = os.path.join(scratch_dir, "haproxy")
        os.makedirs(self.dir, exist_ok=True)
        self.config_path = os.path.join(self.dir, "haproxy.cfg")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.frontends = {}  # name -> (port, servers, send_proxy)
        self.proc = None

    def frontend(self, name: str, servers, send_proxy: str = "send-proxy-v2", backend_lines=()) -> int:
        """`backend_lines`: extra lines for the backend (e.g. a tcp-check health check)."""
        port = free_port()
        self.frontends[name] = (port, list(servers), send_proxy, list(backend_lines))
        return port

    def _config(self) -> str:
        lines = ["global", "    maxconn 200", "",
                 "defaults", "    mode tcp", "    timeout connect 5s", "    timeout client 30s",
                 "    timeout server 30s", ""]
        for name, (port, servers, send_proxy, backend_lines) in self.frontends.items():
            lines += ["frontend f_%s" % name, "    bind %s:%d" % (LOOPBACK, port),
                      "    default_backend b_%s" % name, "",
                      "backend b_%s" % name, "    balance roundrobin"]
            lines += ["    " + l for l in backend_lines]
            for i, (host, server_port) in enumerate(servers):
                lines.append("    server s%d %s:%d %s" % (i + 1, host, server_port, send_proxy))
            lines.append("")
        return "\n".join(lines)

    def start(self):
        with open(self.config_path, "w") as f:
            f.write(self._config())
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([HAPROXY, "-f", self.config_path, "-db"], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, cwd=self.dir)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("haproxy exited with %d:\n%s" % (self.proc.returncode, self.log_tail()))
            if all(_listening(f[0]) for f in self.frontends.values()):
                return
            time.sleep(0.05)
        self.stop()
        raise AssertionError("haproxy did not listen within %.0f s:\n%s" % (START_TIMEOUT, self.log_tail()))

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no haproxy log)"
