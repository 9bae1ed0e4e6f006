// Context::act_as_data_owner: mailctl run as root writes as the data directory's owner, so the
// daemon (running as that user) can read and change everything mailctl creates.
#include <sys/stat.h>
#include <unistd.h>

#include "admin-cli/output.h"
#include "core/system/process_identity.h"

namespace mailroom::cli {

Status Context::act_as_data_owner() const {
  if (::geteuid() != 0 || data_option.empty()) return {};
  const std::string dir = data_dir();
  struct stat st{};
  // Missing: `init` creates it as root (the daemon then asks for a chown or --user root).
  if (::stat(dir.c_str(), &st) != 0 || st.st_uid == 0) return {};
  const core::UserIdentity owner = core::user_of(st.st_uid, st.st_gid);
  if (auto switched = core::become_user(owner); !switched.ok()) {
    return make_error(ErrorCode::kPermanent, "mailctl runs as root and " + dir + " belongs to " + owner.name +
                                                 ", but cannot act as that user: " + switched.error().message);
  }
  return {};
}

}  // namespace mailroom::cli
