// Run-as user and data directory checks (see run_as.h).
#include "daemon/run_as.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

namespace mailroom::daemon {

namespace {

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

}  // namespace

Result<RunAs> choose_run_user(const std::string& requested) {
  const uid_t me = ::geteuid();
  if (me != 0) {
    core::UserIdentity self = core::user_of(me, ::getegid());
    if (!requested.empty() && requested != self.name && requested != std::to_string(me)) {
      return make_error(ErrorCode::kInvalidArgument, "--user " + requested + " needs mailroomd to be started as root (it runs as " +
                                                         self.name + ")");
    }
    return RunAs{self, false};
  }
  const std::string name = requested.empty() ? kDefaultServiceUser : requested;
  auto user = core::find_user(name);
  if (!user) {
    std::string message = "started as root, mailroomd runs as user '" + name + "', but: " + user.error().message;
    if (requested.empty()) message += ", or name another user with --user NAME";
    return make_error(user.error().code, message);
  }
  return RunAs{*user, user->uid != 0};
}

Status check_data_dir(const std::string& data_dir, const RunAs& run_as) {
  namespace fs = std::filesystem;
  const fs::path dir(data_dir);
  // What the daemon trusts: the directory, its database (and SQLite's side files, or the
  // PostgreSQL URL of mailctl init --database), the mail root
  // and the folders it writes to. A missing one is created later by the daemon or mailctl.
  const std::vector<fs::path> paths = {dir,
                                       dir / "mailroom.db",
                                       dir / "mailroom.db-wal",
                                       dir / "mailroom.db-shm",
                                       dir / "database.url",
                                       dir / "mail",
                                       dir / "tls",
                                       dir / "run"};
  for (const auto& path : paths) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // a missing data directory is reported when it is opened
      const int error = errno;
      std::string message = "cannot use " + path.string() + ": " + std::strerror(error);
      if (error == EACCES) {
        message += " (mailroomd runs as " + run_as.user.name + ": chown -R " + run_as.user.name + ": " + data_dir +
                   ", or start it with --user set to the data directory's owner)";
      }
      return make_error(ErrorCode::kPermanent, message);
    }
    if (run_as.drops_root && st.st_uid != run_as.user.uid) {
      const core::UserIdentity owner = core::user_of(st.st_uid, st.st_gid);
      return make_error(ErrorCode::kPermanent,
                        path.string() + " belongs to " + owner.name + ", but mailroomd runs as " + run_as.user.name +
                            ": give the data directory to that user (chown -R " + run_as.user.name + ": " + data_dir +
                            ") or start mailroomd with --user " + owner.name);
    }
    const bool others_write = (st.st_mode & S_IWOTH) != 0;
    const bool group_write = (st.st_mode & S_IWGRP) != 0 && st.st_gid != run_as.user.gid;
    if (others_write || group_write) {
      return make_error(ErrorCode::kPermanent,
                        path.string() + " is writable by " + (others_write ? "every user" : "its group") + " (mode " +
                            octal_mode(st.st_mode) + "): anyone who can write it can read and change every mailbox; " +
                            "fix it with chmod go-w " + path.string());
    }
  }
  return {};
}

}  // namespace mailroom::daemon
