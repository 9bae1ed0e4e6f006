// Process identity: user lookup, id switches and capability sets (see process_identity.h).
#include "core/system/process_identity.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace mailroom::core {

namespace {

std::string errno_text() { return std::strerror(errno); }

// capget/capset through the raw system calls: glibc has no wrapper and libcap is not needed for
// two calls. Version 3 uses two 32-bit words per set.
bool read_caps(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;  // the calling thread
  return ::syscall(SYS_capget, &header, data) == 0;
}

bool write_caps(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  return ::syscall(SYS_capset, &header, data) == 0;
}

// Room for one passwd entry, as the system suggests.
std::vector<char> passwd_buffer() {
  const long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  return std::vector<char>(size > 0 ? static_cast<std::size_t>(size) : 16384);
}

uint64_t join(uint32_t low, uint32_t high) { return (static_cast<uint64_t>(high) << 32) | low; }

// Supplementary groups of `user` (its /etc/group memberships), then the primary group.
Status switch_groups(const UserIdentity& user) {
  if (::initgroups(user.name.c_str(), user.gid) != 0) {
    // A user known only by number (no passwd entry): its primary group alone.
    if (::setgroups(1, &user.gid) != 0) {
      return make_error(ErrorCode::kPermanent, "cannot set the groups of " + user.name + ": " + errno_text());
    }
  }
  if (::setresgid(user.gid, user.gid, user.gid) != 0) {
    return make_error(ErrorCode::kPermanent, "cannot switch to group " + std::to_string(user.gid) + ": " + errno_text());
  }
  return {};
}

}  // namespace

Result<UserIdentity> find_user(const std::string& name) {
  std::vector<char> buffer = passwd_buffer();
  passwd entry{};
  passwd* found = nullptr;
  int rc = 0;
  while ((rc = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE &&
         buffer.size() < (1u << 20)) {
    buffer.resize(buffer.size() * 2);
  }
  if (rc != 0) return make_error(ErrorCode::kIo, "cannot look up user '" + name + "': " + std::strerror(rc));
  if (found == nullptr) {
    return make_error(ErrorCode::kNotFound, "user '" + name + "' does not exist (create it with 'adduser --system --group " +
                                                name + "')");
  }
  return UserIdentity{found->pw_name, found->pw_uid, found->pw_gid};
}

UserIdentity user_of(uid_t uid, gid_t gid) {
  std::vector<char> buffer = passwd_buffer();
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return UserIdentity{found->pw_name, uid, gid};
  }
  return UserIdentity{std::to_string(uid), uid, gid};
}

Status become_user_keeping_bind(const UserIdentity& user) {
  if (auto groups = switch_groups(user); !groups.ok()) return groups;
  // Saved id 0: the permitted set survives the switch, the effective one is cleared.
  if (::setresuid(user.uid, user.uid, 0) != 0) {
    return make_error(ErrorCode::kPermanent, "cannot switch to user " + user.name + ": " + errno_text());
  }
  __user_cap_data_struct caps[2]{};
  if (!read_caps(caps)) return make_error(ErrorCode::kPermanent, "cannot read capabilities: " + errno_text());
  constexpr unsigned kBind = CAP_NET_BIND_SERVICE;  // < 32: the first word
  static_assert(kBind < 32);
  if ((caps[0].permitted & (1u << kBind)) != 0) {
    caps[0].effective = 1u << kBind;
    caps[1].effective = 0;
    if (!write_caps(caps)) {
      return make_error(ErrorCode::kPermanent, "cannot keep CAP_NET_BIND_SERVICE: " + errno_text());
    }
  }
  return {};
}

Status drop_root_for_good(const UserIdentity& user) {
  if (::setresuid(user.uid, user.uid, user.uid) != 0) {
    return make_error(ErrorCode::kPermanent, "cannot give up root: " + errno_text());
  }
  uid_t r = 0, e = 0, s = 0;
  if (::getresuid(&r, &e, &s) != 0 || r != user.uid || e != user.uid || s != user.uid) {
    return make_error(ErrorCode::kPermanent, "root was not given up (user ids still include 0)");
  }
  auto caps = thread_capabilities();
  if (!caps) return caps.error();
  if (caps->effective != 0 || caps->permitted != 0) {
    return make_error(ErrorCode::kPermanent, "capabilities are still held after giving up root");
  }
  // Nothing the daemon could ever run (it runs nothing) may gain privileges again.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return make_error(ErrorCode::kPermanent, "cannot set no_new_privs: " + errno_text());
  }
  return {};
}

Status become_user(const UserIdentity& user) {
  if (auto groups = switch_groups(user); !groups.ok()) return groups;
  if (::setresuid(user.uid, user.uid, user.uid) != 0) {
    return make_error(ErrorCode::kPermanent, "cannot switch to user " + user.name + ": " + errno_text());
  }
  return {};
}

Result<Capabilities> thread_capabilities() {
  __user_cap_data_struct caps[2]{};
  if (!read_caps(caps)) return make_error(ErrorCode::kIo, "cannot read capabilities: " + errno_text());
  return Capabilities{join(caps[0].effective, caps[1].effective), join(caps[0].permitted, caps[1].permitted),
                      join(caps[0].inheritable, caps[1].inheritable)};
}

}  // namespace mailroom::core
