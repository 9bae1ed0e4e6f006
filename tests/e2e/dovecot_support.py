# A private Dovecot (Debian's dovecot-core + dovecot-pop3d, installed by scripts/bootstrap) for e2e
# tests that need a real foreign POP3 server, e.g. the server a migration starts from. It runs in
# the foreground (`dovecot -F`) with its own configuration, base_dir, state and log under a scratch
# directory, POP3 only, on one free loopback port; never the system instance, never port 110.
# Users come from a passwd-file (address:{SHA512-CRYPT}...); their mail is ROOT/home/<local>/Maildir,
# owned by `nobody` (Dovecot refuses to run mail processes as root). Mail is delivered by
# dovecot-lda, the way a real MTA hands it over. Every wait is bounded; stop() ends the master by
# its own PID only.
import os
import pwd
import shutil
import socket
import subprocess
import time

from harness import LOOPBACK, free_port, stop_process

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVECOT_LDA = "/usr/lib/dovecot/dovecot-lda"
START_TIMEOUT = 15.0
MAIL_USER = "nobody"


def dovecot_missing() -> str:
    """Why a private Dovecot cannot run here ('' when it can)."""
    if not os.path.exists(DOVECOT) or not os.path.exists("/usr/lib/dovecot/pop3"):
        return "dovecot is not installed (scripts/bootstrap installs dovecot-pop3d)"
    if not os.path.exists(DOVECOT_LDA):
        return "dovecot-lda is not installed (package dovecot-core)"
    if os.geteuid() != 0:
        return "a private Dovecot needs root here (it switches its processes to dovenull and nobody)"
    return ""


def sha512_crypt(password: str, salt: str = "mailroommigrate") -> str:
    """`{SHA512-CRYPT}$6$...` as Dovecot's passwd-file stores it (made by `openssl passwd -6`)."""
    out = subprocess.run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input=password.encode(),
                         stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode().strip()
    return "{SHA512-CRYPT}" + out


class Dovecot:
    """One private Dovecot POP3 server under `root` (an existing scratch directory).

    users: {address: password_hash} (the passwd-file's scheme prefix included, e.g. from
    sha512_crypt()). uidl_format: Dovecot's pop3_uidl_format.
    """

    def __init__(self, root: str, users: dict, uidl_format: str = "%08Xu%08Xv"):
        self.root = os.path.join(root, "dovecot")
        self.users = dict(users)
        self.uidl_format = uidl_format
        self.port = None
        self.proc = None
        self.conf = os.path.join(self.root, "dovecot.conf")
        self.log_path = os.path.join(self.root, "dovecot.log")
        self.home_root = os.path.join(self.root, "home")
        mail = pwd.getpwnam(MAIL_USER)
        self.uid, self.gid = mail.pw_uid, mail.pw_gid
        # Dovecot's login and mail processes run as dovenull and nobody: they must reach base_dir
        # and the homes. The scratch directory is opened to them (the test's own temporary
        # directory); its parents must already be searchable by others, as /tmp is.
        os.chmod(root, os.stat(root).st_mode | 0o055)
        parent = os.path.dirname(os.path.abspath(root))
        while parent != "/":
            if not os.stat(parent).st_mode & 0o001:
                raise AssertionError("dovecot_support: %s is not searchable by other users; Dovecot's "
                                     "processes could not reach %s" % (parent, root))
            parent = os.path.dirname(parent)
        os.makedirs(self.root, exist_ok=True)
        for sub in ("base", "state"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        os.chmod(self.root, 0o755)
        os.chmod(os.path.join(self.root, "base"), 0o755)
        os.makedirs(self.home_root, exist_ok=True)
        os.chmod(self.home_root, 0o755)
        for address in self.users:
            home = self.home(address)
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(home, "Maildir", sub), exist_ok=True)
            for dirpath, _, _ in os.walk(home):
                os.chown(dirpath, self.uid, self.gid)
                os.chmod(dirpath, 0o700)
        passwd = os.path.join(self.root, "passwd")
        with open(passwd, "w") as f:
            for address, password_hash in self.users.items():
                f.write("%s:%s\n" % (address, password_hash))
        os.chmod(passwd, 0o644)  # the auth process (user dovecot) reads it

    def home(self, address: str) -> str:
        return os.path.join(self.home_root, address.split("@", 1)[0])

    def maildir(self, address: str) -> str:
        return os.path.join(self.home(address), "Maildir")

    def _write_conf(self):
        with open(self.conf, "w") as f:
            f.write("""# written by tests/e2e/dovecot_support.py
instance_name = mailroom-e2e-{port}
base_dir = {root}/base
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = pop3
listen = {host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
postmaster_address = postmaster@example.test
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%n
}}
protocol pop3 {{
  pop3_uidl_format = {uidl_format}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {host}
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""".format(root=self.root, host=LOOPBACK, port=self.port, uid=self.uid, gid=self.gid,
           uidl_format=self.uidl_format))

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self):
        self.port = free_port()
        self._write_conf()
        log = open(os.path.join(self.root, "dovecot.stderr"), "ab")
        try:
            self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited with %d\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=2) as s:
                    s.settimeout(2)
                    last = s.recv(512)
                    if last.startswith(b"+OK"):
                        s.sendall(b"QUIT\r\n")
                        return
            except OSError as e:
                last = e
            time.sleep(0.1)
        self.stop()
        raise AssertionError("dovecot did not greet on port %d within %.0f s (last: %r)\n%s" % (
            self.port, START_TIMEOUT, last, self.log_tail()))

    def stop(self):
        """SIGTERM to the master (it ends its children), bounded wait, then SIGKILL."""
        if self.proc is None:
            return
        stop_process(self.proc)
        self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        text = ""
        for name in ("dovecot.log", "dovecot.stderr"):
            try:
                with open(os.path.join(self.root, name), "rb") as f:
                    text += f.read().decode(errors="replace")
            except OSError:
                pass
        return "\n".join(text.splitlines()[-lines:]) or "(no dovecot log)"

    # -- mail -----------------------------------------------------------------------------------

    def deliver(self, address: str, message: bytes, sender: str = "sender@example.org"):
        """Delivers one message with dovecot-lda (it looks the user up through the running
        Dovecot's auth service and writes the Maildir and dovecot-uidlist as that user)."""
        proc = subprocess.run([DOVECOT_LDA, "-c", self.conf, "-d", address, "-f", sender], input=message,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        if proc.returncode != 0:
            raise AssertionError("dovecot-lda exited %d: %s\n%s" % (
                proc.returncode, proc.stderr.decode(errors="replace"), self.log_tail()))
