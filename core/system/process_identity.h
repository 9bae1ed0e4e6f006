// Process identity: which user the process runs as, switching to another one, and the Linux
// capabilities it holds. Used by mailroomd (started as root, it opens its listeners and then runs
// as an unprivileged user) and by mailctl (run as root, it writes as the data directory's owner).
// Every call here is process-wide, except where a comment says otherwise.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "core/base/result.h"

namespace mailroom::core {

struct UserIdentity {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;  // the user's primary group
};

// The user of that name, or kNotFound with a message that says how to create it.
Result<UserIdentity> find_user(const std::string& name);
// The user that owns uid (its name is the number when no entry exists).
UserIdentity user_of(uid_t uid, gid_t gid);

// Becomes `user` for files and permissions (groups, real and effective ids) but keeps root as the
// saved user id, so the permitted capabilities survive; raises CAP_NET_BIND_SERVICE in the
// effective set so listeners on ports below 1024 can still be opened. Call as root, before any
// other thread exists (capabilities are per thread; threads started later inherit them).
Status become_user_keeping_bind(const UserIdentity& user);
// Gives up root for good: the saved user id becomes `user` too, which clears every capability
// in every thread (glibc applies id changes to all threads). Verifies the result.
Status drop_root_for_good(const UserIdentity& user);
// Becomes `user` entirely and at once (groups, real, effective and saved ids): mailctl.
Status become_user(const UserIdentity& user);

// The calling thread's capability sets as the kernel reports them (bit N = capability N).
struct Capabilities {
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
};
Result<Capabilities> thread_capabilities();

}  // namespace mailroom::core
