// UnixSocketFile: bind a unix-domain socket to a path, replacing only a stale socket file.
#include "core/net/unix_socket_file.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace mailroom::net {

namespace {

// Closes a descriptor it still holds (an error path of bind()).
struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

int new_socket() { return ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

sockaddr_un address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);  // length checked by the caller
  return addr;
}

int bind_to(int fd, const sockaddr_un& addr) {
  return ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
}

enum class Probe { kStale, kListening, kUnknown };

// Whether some process listens on the socket file at `addr`. connect() on a unix socket never
// waits: it is refused at once when nobody listens, and succeeds (or finds the backlog full)
// when someone does.
Probe probe(const sockaddr_un& addr, int* error) {
  FdGuard fd{new_socket()};
  if (fd.fd < 0) {
    *error = errno;
    return Probe::kUnknown;
  }
  if (::connect(fd.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return Probe::kListening;
  *error = errno;
  if (errno == ECONNREFUSED) return Probe::kStale;
  if (errno == EAGAIN || errno == EINPROGRESS) return Probe::kListening;
  return Probe::kUnknown;
}

std::string explain(int error) {
  switch (error) {
    case ENOENT: return "no such directory";
    case EACCES: return "permission denied";
    case ENOTDIR: return "a component of the path is not a directory";
    default: return std::strerror(error);
  }
}

Error failure(std::string why) { return Error{ErrorCode::kIo, std::move(why)}; }

}  // namespace

Result<UnixSocketFile> UnixSocketFile::bind(const std::string& path, unsigned mode) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
    return failure("a unix socket path must be 1 to " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                   " bytes long");
  }
  const sockaddr_un addr = address_of(path);
  FdGuard fd{new_socket()};
  if (fd.fd < 0) return failure(std::strerror(errno));
  int err = bind_to(fd.fd, addr);
  if (err == EADDRINUSE) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
      return failure("the path exists and is not a socket (left alone)");
    }
    int probe_error = 0;
    switch (probe(addr, &probe_error)) {
      case Probe::kListening:
        return failure("in use by another process (a server listens on this socket)");
      case Probe::kUnknown:
        return failure("a socket file is there and cannot be probed: " + explain(probe_error));
      case Probe::kStale:
        // A dead process's socket: nobody listens. Remove it and take the path.
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
          return failure("cannot remove the stale socket file: " + explain(errno));
        }
        err = bind_to(fd.fd, addr);
        break;
    }
  }
  if (err != 0) return failure(explain(err));

  UnixSocketFile file;
  file.path_ = path;
  file.owns_file_ = true;
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    file.dev_ = st.st_dev;
    file.ino_ = st.st_ino;
  }
  file.fd_ = fd.release();
  if (Status s = file.set_mode(mode); !s) return s.error();  // the file is removed with `file`
  return file;
}

UnixSocketFile::UnixSocketFile(UnixSocketFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      owns_file_(std::exchange(other.owns_file_, false)),
      dev_(other.dev_),
      ino_(other.ino_) {}

UnixSocketFile& UnixSocketFile::operator=(UnixSocketFile&& other) noexcept {
  if (this != &other) {
    remove_file();
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    owns_file_ = std::exchange(other.owns_file_, false);
    dev_ = other.dev_;
    ino_ = other.ino_;
  }
  return *this;
}

UnixSocketFile::~UnixSocketFile() {
  remove_file();
  if (fd_ >= 0) ::close(fd_);
}

int UnixSocketFile::release_fd() { return std::exchange(fd_, -1); }

Status UnixSocketFile::set_mode(unsigned mode) {
  // fchmod() on a socket descriptor does not change its file: the path it is.
  if (::chmod(path_.c_str(), static_cast<mode_t>(mode)) != 0) {
    return failure("cannot set the socket file's mode: " + explain(errno));
  }
  return {};
}

// Removes the file only while it is the socket bound here: a file someone put there since
// (another daemon on the path after a reload) stays.
void UnixSocketFile::remove_file() {
  if (!owns_file_) return;
  owns_file_ = false;
  struct stat st{};
  if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
}

}  // namespace mailroom::net
