// Files that hold secrets (TLS private keys): written so that no other user can read them at any
// moment, whatever the umask, and never half written.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <utility>

#include "core/base/result.h"
#include "storage/maildir/unique_fd.h"

namespace mailroom::storage {

// Creates `path` as a new file open for writing, mode 0600 from its first moment (the mode is
// given to open(), so no umask can widen it and there is no chmod afterwards). Never opens a
// file or symlink that is already there (O_EXCL): someone could hold that one open. kAlreadyExists
// when the name is taken, kIo otherwise.
Result<UniqueFd> create_private_file(const std::string& path);

// Replaces `path` with `data`: a new temporary file next to it (create_private_file, a random
// name), given exactly `mode` before the first byte is written, synced, renamed over `path`, and
// the directory synced. A reader sees the old file or the new one; the temporary file is removed
// on failure. `mode` 0600 for keys; a certificate may be 0644.
Status write_file_atomically(const std::string& path, std::string_view data, mode_t mode = 0600);

// Unlinks a temporary file when it goes out of scope, unless release()d (renamed into place).
class TempFileGuard {
 public:
  explicit TempFileGuard(std::string path) : path_(std::move(path)) {}
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;
  ~TempFileGuard() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

// fsync()s the directory holding `path`, so a file just created or renamed there survives a crash.
Status fsync_parent_dir(const std::string& path);

}  // namespace mailroom::storage
