// UnixSocketFile: the file system side of a listening unix-domain socket. bind() makes the
// socket and its file (replacing a stale socket file a dead process left, never anything else)
// and sets the file's permissions; the destructor removes the file if it is still the one made
// here.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/base/result.h"

namespace mailroom::net {

class UnixSocketFile {
 public:
  // A new SOCK_STREAM socket (non-blocking, close-on-exec) bound to `path`, the file's permission
  // bits set to `mode`, not yet listening: nobody can connect before listen(), so the mode is in
  // place first. When `path` is taken: a socket nobody listens on (connect() is refused) is
  // removed and bound again; a socket some process listens on, or a file that is not a socket,
  // is an error and stays. The error message says why, without the path.
  static Result<UnixSocketFile> bind(const std::string& path, unsigned mode);

  UnixSocketFile(UnixSocketFile&& other) noexcept;
  UnixSocketFile& operator=(UnixSocketFile&& other) noexcept;
  UnixSocketFile(const UnixSocketFile&) = delete;
  UnixSocketFile& operator=(const UnixSocketFile&) = delete;
  ~UnixSocketFile();

  const std::string& path() const { return path_; }
  // The socket descriptor, for the caller to own from now on (-1 once taken).
  int release_fd();
  // New permission bits for the file (a reload).
  Status set_mode(unsigned mode);

 private:
  UnixSocketFile() = default;
  void remove_file();

  std::string path_;
  int fd_ = -1;
  bool owns_file_ = false;
  dev_t dev_ = 0;  // identity of the file bound here, so only that one is removed
  ino_t ino_ = 0;
};

}  // namespace mailroom::net
