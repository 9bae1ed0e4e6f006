// Small POSIX file helpers for the Maildir store (see fs_util.h).
#include "storage/maildir/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "storage/maildir/unique_fd.h"

namespace mailroom::storage::maildir {

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

Error io_error(const std::string& what, int err) { return make_error(ErrorCode::kIo, what + ": " + errno_text(err)); }

std::string join(const std::string& a, const std::string& b) {
  if (a.empty() || a.back() == '/') return a + b;
  return a + "/" + b;
}

Result<bool> make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) return true;
  int err = errno;
  if (err == EEXIST) {
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return false;
    return make_error(ErrorCode::kIo, "cannot create directory " + path + ": exists and is not a directory");
  }
  return io_error("cannot create directory " + path, err);
}

Status fsync_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return io_error("cannot open directory " + path, errno);
  if (::fsync(fd.get()) != 0) return io_error("cannot fsync directory " + path, errno);
  return {};
}

int write_fully(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  if (int err = write_fully(fd, data); err != 0) return io_error("cannot write " + path, err);
  return {};
}

}  // namespace mailroom::storage::maildir
