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

Result<std::string> read_regular_file(const std::string& path, std::size_t max_size) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) return make_error(ErrorCode::kNotFound, path + " does not exist");
    return io_error("cannot open " + path, err);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat " + path, errno);
  if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::kIo, "cannot read " + path + ": not a regular file");
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read " + path, errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_size) {
      return make_error(ErrorCode::kIo, "cannot read " + path + ": larger than " + std::to_string(max_size) + " octets");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

Status replace_file_durably(const std::string& dir, const char* name, const char* tmp_name, std::string_view data) {
  const std::string tmp_path = join(dir, tmp_name);
  const std::string path = join(dir, name);
  {
    ::unlink(tmp_path.c_str());
    UniqueFd fd(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return io_error("cannot create " + tmp_path, errno);
    Status s = write_all(fd.get(), data, tmp_path);
    if (s && ::fsync(fd.get()) != 0) s = io_error("cannot fsync " + tmp_path, errno);
    if (s && fd.close() != 0) s = io_error("cannot close " + tmp_path, errno);
    if (!s) {
      ::unlink(tmp_path.c_str());
      return s;
    }
  }
  if (::rename(tmp_path.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_path.c_str());
    return io_error("cannot rename " + tmp_path, err);
  }
  return fsync_dir(dir);
}

}  // namespace mailroom::storage::maildir
