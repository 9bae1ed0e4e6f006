# The Debian package (scripts/package) built from the binaries under test ($MAILROOMD, $MAILCTL):
# its files, modes, owners, control fields and conffiles; the maintainer scripts run against a
# scratch root ($DPKG_ROOT): the mailroom user, /var/lib/mailroom (0750) initialised once, the
# unit enabled, remove, purge with and without the MAILROOM_PURGE_DATA=yes opt-in; the same
# through `dpkg --root` (install, reinstall, purge); the unit
# through `systemd-analyze verify`, the logrotate file through `logrotate -d`, and every lintian
# tag explained in docs/install.md. Nothing here touches the running system: no user is created
# on it, no service started.
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import MAILCTL, MAILROOMD

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNIT = "lib/systemd/system/mailroomd.service"
DATA = "var/lib/mailroom"
TIMEOUT = 120

# Every file the package installs, with its mode; directories are 0755.
EXPECTED_FILES = {
    "usr/sbin/mailroomd": 0o755,
    "usr/bin/mailctl": 0o755,
    UNIT: 0o644,
    "etc/logrotate.d/mailroom": 0o644,
    "usr/share/man/man8/mailroomd.8.gz": 0o644,
    "usr/share/man/man1/mailctl.1.gz": 0o644,
    "usr/share/bash-completion/completions/mailctl": 0o644,
    "usr/share/doc/mailroom/copyright": 0o644,
    "usr/share/doc/mailroom/changelog.Debian.gz": 0o644,
    "usr/share/doc/mailroom/README.md": 0o644,
    "usr/share/doc/mailroom/docs/install.md": 0o644,
    "usr/share/doc/mailroom/docs/mailctl.md": 0o644,
}


def run(cmd, env=None, check=True, timeout=TIMEOUT):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s" % (
            " ".join(cmd), proc.returncode, proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace")))
    return proc


def project_version() -> str:
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(mailroom VERSION ([0-9.]+)", f.read()).group(1)


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("dpkg-deb", "dpkg-shlibdeps"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest("%s is not installed (scripts/bootstrap installs it)" % tool)
        cls._tmp = tempfile.TemporaryDirectory(prefix="mailroom-package-")
        cls.tmp = cls._tmp.name
        os.chmod(cls.tmp, 0o755)  # the scratch roots in it are searched by the mailroom user
        out = run([os.path.join(REPO, "scripts", "package"), "--mailroomd", MAILROOMD,
                   "--mailctl", MAILCTL, "--output", cls.tmp])
        cls.deb = out.stdout.decode().strip().splitlines()[-1]

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def field(self, name: str) -> str:
        return run(["dpkg-deb", "-f", self.deb, name]).stdout.decode().strip()

    def scratch_root(self) -> str:
        """The package unpacked into a fresh directory (searchable by the mailroom user)."""
        root = tempfile.mkdtemp(prefix="root-", dir=self.tmp)
        os.chmod(root, 0o755)
        run(["dpkg-deb", "-x", self.deb, root])
        return root

    # -- the archive -----------------------------------------------------------------------------

    def test_name_version_architecture_and_dependencies(self):
        arch = run(["dpkg", "--print-architecture"]).stdout.decode().strip()
        version = project_version() + "-1"
        self.assertEqual(os.path.basename(self.deb), "mailroom_%s_%s.deb" % (version, arch))
        self.assertEqual(self.field("Package"), "mailroom")
        self.assertEqual(self.field("Version"), version)
        self.assertEqual(self.field("Architecture"), arch)
        depends = self.field("Depends")
        for library in ("libc6", "libuv1", "libssl3", "libsqlite3-0", "libargon2-1", "libidn12", "libpq5", "adduser"):
            self.assertRegex(depends, r"(^|, )%s( |,|$)" % re.escape(library), depends)

    def test_files_modes_and_owners(self):
        listing = run(["dpkg-deb", "-c", self.deb]).stdout.decode().splitlines()
        files = {}
        for line in listing:
            mode, owner, _size, _date, _time, path = line.split(None, 5)
            path = path.removeprefix("./").rstrip("/")
            self.assertEqual(owner, "root/root", line)
            if mode.startswith("d"):
                self.assertEqual(mode, "drwxr-xr-x", line)
            else:
                self.assertTrue(mode.startswith("-"), line)  # no links, devices or set-id bits
                files[path] = mode
        for path, expected in EXPECTED_FILES.items():
            self.assertIn(path, files)
            self.assertEqual(files[path], stat.filemode(stat.S_IFREG | expected), path)
        for path, mode in files.items():
            if path not in ("usr/sbin/mailroomd", "usr/bin/mailctl"):
                self.assertEqual(mode, "-rw-r--r--", path)
        self.assertNotIn(DATA, files)  # made by the postinst, for the mailroom user

    def test_conffiles_and_maintainer_scripts(self):
        control = os.path.join(self.tmp, "control-" + self.id().rsplit(".", 1)[-1])
        run(["dpkg-deb", "-e", self.deb, control])
        with open(os.path.join(control, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/logrotate.d/mailroom"])
        for script in ("postinst", "prerm", "postrm"):
            mode = stat.S_IMODE(os.stat(os.path.join(control, script)).st_mode)
            self.assertEqual(mode, 0o755, script)

    def test_binaries_are_stripped(self):
        root = self.scratch_root()
        for binary in ("usr/sbin/mailroomd", "usr/bin/mailctl"):
            sections = run(["readelf", "-S", "-W", os.path.join(root, binary)]).stdout.decode()
            self.assertNotIn(".debug_info", sections, binary)
            self.assertNotIn(".symtab", sections, binary)

    # -- the maintainer scripts against a scratch root --------------------------------------------

    def maintainer_script(self, root, control, script, *args, purge_data=None):
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "DPKG_ROOT": root,
               "DPKG_MAINTSCRIPT_PACKAGE": "mailroom", "DPKG_MAINTSCRIPT_NAME": script}
        if purge_data is not None:
            env["MAILROOM_PURGE_DATA"] = purge_data
        return run([os.path.join(control, script)] + list(args), env=env)

    def installed_root(self):
        """A scratch root as dpkg leaves it before the postinst: the files and a bare /etc."""
        root = self.scratch_root()
        control = os.path.join(root, "DEBIAN")
        run(["dpkg-deb", "-e", self.deb, control])
        etc = os.path.join(root, "etc")
        for name, line, mode in (("passwd", "root:x:0:0:root:/root:/bin/sh", 0o644),
                                 ("group", "root:x:0:", 0o644),
                                 ("shadow", "root:*:20000:0:99999:7:::", 0o640),
                                 ("gshadow", "root:*::", 0o640)):
            path = os.path.join(etc, name)
            with open(path, "w") as f:
                f.write(line + "\n")
            os.chmod(path, mode)
        return root, control

    @staticmethod
    def account(root, table, name):
        with open(os.path.join(root, "etc", table)) as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if fields[0] == name:
                    return fields
        return None

    @unittest.skipUnless(os.geteuid() == 0, "the postinst chowns and runs mailctl as the mailroom user: root only")
    def test_install_upgrade_remove_and_purge(self):
        root, control = self.installed_root()
        data = os.path.join(root, DATA)

        first = self.maintainer_script(root, control, "postinst", "configure", "")
        user = self.account(root, "passwd", "mailroom")
        group = self.account(root, "group", "mailroom")
        self.assertIsNotNone(user)
        self.assertIsNotNone(group)
        uid, gid = int(user[2]), int(group[2])
        self.assertLess(uid, 1000)  # a system user
        self.assertEqual(user[3], group[2])
        self.assertEqual(user[5], "/var/lib/mailroom")
        self.assertEqual(user[6], "/usr/sbin/nologin")

        st = os.stat(data)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o750)
        self.assertEqual((st.st_uid, st.st_gid), (uid, gid))
        database = os.path.join(data, "mailroom.db")
        self.assertEqual(os.stat(database).st_uid, uid)  # init ran as the mailroom user
        self.assertIn(b"initialised", first.stdout)
        self.assertNotIn(b"already initialised", first.stdout)
        wants = os.path.join(root, "etc/systemd/system/multi-user.target.wants/mailroomd.service")
        self.assertEqual(os.readlink(wants), "/lib/systemd/system/mailroomd.service")

        # An upgrade (configure with the old version) neither re-creates the user nor re-inits.
        before = os.stat(database).st_mtime_ns
        again = self.maintainer_script(root, control, "postinst", "configure", "0.0.9-1")
        self.assertNotIn(b"initialised", again.stdout + again.stderr)
        self.assertEqual(os.stat(database).st_mtime_ns, before)
        with open(os.path.join(root, "etc/passwd")) as f:
            self.assertEqual(f.read().count("\nmailroom:"), 1)

        # Remove keeps the data and masks the unit.
        self.maintainer_script(root, control, "prerm", "remove")
        self.maintainer_script(root, control, "postrm", "remove")
        self.assertTrue(os.path.exists(database))
        self.assertEqual(os.readlink(os.path.join(root, "etc/systemd/system/mailroomd.service")), "/dev/null")

        # Purge without the opt-in keeps the data and says so.
        kept = self.maintainer_script(root, control, "postrm", "purge")
        self.assertTrue(os.path.exists(database))
        self.assertIn(b"kept /var/lib/mailroom", kept.stderr)
        self.assertFalse(os.path.lexists(os.path.join(root, "etc/systemd/system/mailroomd.service")))
        self.assertFalse(os.path.lexists(wants))

        # Installed again after that purge: the kept database is not initialised over.
        reinstall = self.maintainer_script(root, control, "postinst", "configure", "")
        self.assertIn(b"already holds a database", reinstall.stderr)
        self.assertNotIn(b"initialised", reinstall.stdout)

        # Purge with the opt-in removes the data; anything else is not the opt-in.
        self.maintainer_script(root, control, "postrm", "purge", purge_data="1")
        self.assertTrue(os.path.exists(database))
        removed = self.maintainer_script(root, control, "postrm", "purge", purge_data="yes")
        self.assertFalse(os.path.lexists(data))
        self.assertIn(b"removed /var/lib/mailroom", removed.stderr)
        self.assertIsNotNone(self.account(root, "passwd", "mailroom"))  # the user stays

    @unittest.skipUnless(os.geteuid() == 0, "the postinst chowns and runs mailctl as the mailroom user: root only")
    def test_dpkg_root_install_reinstall_and_purge(self):
        """The same through dpkg itself, on an empty dpkg database in a scratch root (the
        libraries it depends on are the running system's: --force-depends)."""
        root, _control = self.installed_root()
        shutil.rmtree(os.path.join(root, "DEBIAN"))
        for name in ("usr", "lib"):  # dpkg unpacks them itself
            shutil.rmtree(os.path.join(root, name))
        os.remove(os.path.join(root, "etc/logrotate.d/mailroom"))
        dpkg_dir = os.path.join(root, "var/lib/dpkg")
        for sub in ("updates", "info"):
            os.makedirs(os.path.join(dpkg_dir, sub))
        for name in ("status", "available"):
            open(os.path.join(dpkg_dir, name), "w").close()
        dpkg = ["dpkg", "--root=" + root, "--force-script-chrootless", "--log=/dev/null"]
        env = dict(os.environ)
        env.pop("MAILROOM_PURGE_DATA", None)

        first = run(dpkg + ["--force-depends", "-i", self.deb], env=env)
        self.assertIn(b"initialised", first.stdout)
        status = run(dpkg + ["-s", "mailroom"]).stdout.decode()
        self.assertIn("Status: install ok installed", status)
        self.assertRegex(status, r"Conffiles:\n /etc/logrotate.d/mailroom [0-9a-f]{32}\n")
        data = os.path.join(root, DATA)
        self.assertEqual(stat.S_IMODE(os.stat(data).st_mode), 0o750)

        again = run(dpkg + ["--force-depends", "-i", self.deb], env=env)  # configure with $2 set
        self.assertNotIn(b"initialised", again.stdout)

        env["MAILROOM_PURGE_DATA"] = "yes"
        run(dpkg + ["--purge", "mailroom"], env=env)
        self.assertFalse(os.path.lexists(data))
        self.assertFalse(os.path.lexists(os.path.join(root, "usr/sbin/mailroomd")))
        self.assertFalse(os.path.lexists(os.path.join(root, "etc/logrotate.d/mailroom")))

    # -- the unit, the logrotate file, lintian -----------------------------------------------------

    def test_systemd_analyze_verify(self):
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze is not installed (package systemd)")
        # The unpacked package, plus what the unit names outside it: the system's units (its
        # dependencies: sysinit.target ...) and /bin/kill (ExecReload); man pages from the package.
        root = self.scratch_root()
        units = os.path.join(root, "lib/systemd/system")
        for name in os.listdir("/lib/systemd/system"):
            source = os.path.join("/lib/systemd/system", name)
            if not os.path.lexists(os.path.join(units, name)) and os.path.isfile(source):
                shutil.copy(source, units)
        os.makedirs(os.path.join(root, "bin"), exist_ok=True)
        shutil.copy("/bin/kill", os.path.join(root, "bin", "kill"))
        env = dict(os.environ, MANPATH=os.path.join(root, "usr/share/man"))
        proc = run(["systemd-analyze", "verify", "--root=" + root, "mailroomd.service"], env=env, check=False)
        self.assertEqual((proc.returncode, proc.stderr.decode() + proc.stdout.decode()), (0, ""))

    def test_logrotate_debug_run(self):
        if shutil.which("logrotate") is None:
            self.skipTest("logrotate is not installed (scripts/bootstrap installs it)")
        root = self.scratch_root()
        state = os.path.join(root, "logrotate.state")
        proc = run(["logrotate", "-d", "-s", state, os.path.join(root, "etc/logrotate.d/mailroom")], check=False)
        output = proc.stderr.decode() + proc.stdout.decode()
        self.assertEqual(proc.returncode, 0, output)
        self.assertNotIn("error", output.lower())
        self.assertIn("/var/log/mailroom/*.log", output)

    def test_lintian_tags_are_all_explained(self):
        if shutil.which("lintian") is None:
            self.skipTest("lintian is not installed (scripts/bootstrap installs it)")
        proc = run(["lintian", "--no-cfg", "--display-info", "--tag-display-limit", "0", self.deb],
                   check=False, timeout=300)
        output = proc.stdout.decode()
        self.assertIn(proc.returncode, (0, 1), proc.stderr.decode())  # 1: tags were found
        tags = set(re.findall(r"^[EWIPXC]: mailroom(?: [a-z]+)?: ([a-z0-9][a-z0-9+.-]*)", output, re.M))
        with open(os.path.join(REPO, "docs", "install.md")) as f:
            explained = set(re.findall(r"^\| `([a-z0-9][a-z0-9+.-]*)` \|", f.read(), re.M))
        self.assertFalse(tags - explained, "lintian tags not explained in docs/install.md:\n" + output)
        self.assertNotRegex(output, r"^E: ", output)


if __name__ == "__main__":
    unittest.main()
