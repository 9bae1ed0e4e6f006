// Which user mailroomd runs as, and whether its data directory is safe to run on. Started as
// root, the daemon becomes the service user (--user, default "mailroom") before it opens any file,
// keeps only CAP_NET_BIND_SERVICE while its listeners open, then gives up root for good.
#pragma once

#include <optional>
#include <string>

#include "core/base/result.h"
#include "core/system/process_identity.h"

namespace mailroom::daemon {

constexpr const char* kDefaultServiceUser = "mailroom";

struct RunAs {
  core::UserIdentity user;  // who the daemon runs as (after the switch)
  bool drops_root = false;  // started as root and becomes `user` (not root)
};

// The user to run as: `requested` (--user or MAILROOM_USER, "" when neither). As root the
// default is kDefaultServiceUser; `--user root` keeps root (logged as a warning). Not root, the
// daemon runs as itself and a --user naming anyone else is an error.
Result<RunAs> choose_run_user(const std::string& requested);

// Call as the user the daemon runs as (after become_user_keeping_bind). Refuses a data directory
// the daemon must not trust: the directory, its database, mail root,
// tls/ and run/ writable by others (world-writable, or group-writable by a group other than the
// service user's), or, when root is dropped, not owned by the service user. The message says
// how to fix it.
Status check_data_dir(const std::string& data_dir, const RunAs& run_as);

}  // namespace mailroom::daemon
