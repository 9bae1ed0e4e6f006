// lock_file(): an exclusive flock() on a small file, held as long as the returned descriptor.
// Used for the daemon's one-instance lock (DATA/run/mailroomd.lock) and a maildir's update lock.
#pragma once

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/base/result.h"
#include "storage/maildir/unique_fd.h"

namespace mailroom::storage {

// Opens `path` (created 0600 if missing) and locks it. wait=false: kInUse at once when another
// open file holds the lock; wait=true: blocks until it is free (call it from a worker only).
inline Result<UniqueFd> lock_file(const std::string& path, bool wait) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return make_error(ErrorCode::kIo, "cannot open " + path + ": " + std::strerror(errno));
  while (::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return make_error(ErrorCode::kInUse, path + " is locked");
    return make_error(ErrorCode::kIo, "cannot lock " + path + ": " + std::strerror(errno));
  }
  return fd;
}

}  // namespace mailroom::storage
