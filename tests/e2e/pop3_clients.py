# Leave-on-server POP3 clients as users run them: mpop and fetchmail in keep mode, each with its own
# state (the UIDLs it has seen) in a scratch directory, so that a test can point the same client at
# one server, then another (a migration), and see what it would download again. Plain POP3 with
# USER/PASS on loopback; every run is bounded in time.
import os
import re
import shutil
import subprocess

from harness import LOOPBACK
RUN_TIMEOUT = 60


def missing_clients() -> str:
    """Which of the clients is not installed ('' when both are; scripts/bootstrap installs them)."""
    return " ".join(tool for tool in ("mpop", "fetchmail") if shutil.which(tool) is None)


def subjects(mail: bytes) -> list:
    """The Subject values in a file of messages, in order."""
    return [m.decode(errors="replace") for m in re.findall(rb"^Subject: ([^\r\n]*)", mail, re.M)]


class KeepClient:
    """Common part: a scratch directory, the messages delivered so far (one file, appended)."""

    name = ""

    def __init__(self, root: str, user: str, password: str):
        self.dir = os.path.join(root, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.user = user
        self.password = password
        self.mail_path = os.path.join(self.dir, "delivered")
        open(self.mail_path, "ab").close()
        self.last = None  # the last CompletedProcess, for failure messages

    def delivered(self) -> bytes:
        with open(self.mail_path, "rb") as f:
            return f.read()

    def fetch(self, port: int) -> list:
        """Runs the client once against LOOPBACK:port; the Subjects of the messages it delivered in
        this run (an empty list when it found nothing new). Fails on any client error."""
        before = len(self.delivered())
        self.last = self._run(port)
        if self.last.returncode not in self._ok_codes():
            raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s" % (
                self.name, self.last.returncode, self.last.stdout.decode(errors="replace")[-3000:],
                self.last.stderr.decode(errors="replace")[-3000:]))
        return subjects(self.delivered()[before:])

    def _env(self):
        return {**os.environ, "HOME": self.dir}

    def _run(self, port: int) -> subprocess.CompletedProcess:
        raise NotImplementedError

    def _ok_codes(self):
        return (0,)


class Mpop(KeepClient):
    """mpop --keep=on --only-new=on: its UIDLs file is keyed by host name and user, not port."""

    name = "mpop"

    def _run(self, port):
        return subprocess.run(
            ["mpop", "--host=" + LOOPBACK, "--port=%d" % port, "--tls=off", "--auth=user",
             "--user=" + self.user, "--passwordeval=printf '%%s' '%s'" % self.password,
             "--keep=on", "--only-new=on", "--uidls-file=" + os.path.join(self.dir, "uidls"),
             "--delivery=mbox," + self.mail_path, "--timeout=20", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=RUN_TIMEOUT, env=self._env())


class Fetchmail(KeepClient):
    """fetchmail with keep and uidl: its idfile is keyed by user@host, not port. The mda appends
    each message to the delivered file; no SMTP listener is involved."""

    name = "fetchmail"

    def _run(self, port):
        rc = os.path.join(self.dir, "fetchmailrc")
        with open(rc, "w") as f:
            f.write('poll %s service %d protocol pop3 uidl auth password timeout 20\n'
                    '  user "%s" password "%s" keep sslproto "" mda "cat >> %s"\n' % (
                        LOOPBACK, port, self.user, self.password, self.mail_path))
        os.chmod(rc, 0o600)  # fetchmail refuses a readable run control file
        return subprocess.run(
            ["fetchmail", "-f", rc, "--idfile", os.path.join(self.dir, "idfile"),
             "--pidfile", os.path.join(self.dir, "fetchmail.pid"), "--nosyslog", "--verbose"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=RUN_TIMEOUT,
            env={**self._env(), "FETCHMAILHOME": self.dir})

    def _ok_codes(self):
        return (0, 1)  # 1: no new mail
