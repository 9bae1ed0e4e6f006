// Private files: O_EXCL and mode 0600 in the open() itself, a random temporary name, rename.
#include "storage/secrets/private_file.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace mailroom::storage {
namespace {

std::string errno_text(int err) { return std::strerror(err); }


// "<path>.tmp-<16 hex digits>": nobody can have made it beforehand by guessing the name (and if
// they did, create_private_file refuses it).
Result<std::string> temporary_name(const std::string& path) {
  unsigned char tag[8];
  if (RAND_bytes(tag, sizeof tag) != 1) {
    return make_error(ErrorCode::kInternal, "cannot name a temporary file for " + path + ": the random generator failed");
  }
  std::string name = path + ".tmp-";
  for (unsigned char b : tag) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", b);
    name += hex;
  }
  return name;
}

}  // namespace

Status fsync_parent_dir(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) {
    return make_error(ErrorCode::kIo, "cannot sync the directory " + dir.string() + ": " + errno_text(errno));
  }
  return {};
}

Result<UniqueFd> create_private_file(const std::string& path) {
  // O_NOFOLLOW on top of O_EXCL (which already refuses a symlink) says what is meant.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    int err = errno;
    return make_error(err == EEXIST ? ErrorCode::kAlreadyExists : ErrorCode::kIo,
                      "cannot create " + path + ": " + errno_text(err));
  }
  return fd;
}

Status write_file_atomically(const std::string& path, std::string_view data, mode_t mode) {
  auto tmp = temporary_name(path);
  if (!tmp) return tmp.error();
  auto fd = create_private_file(*tmp);
  if (!fd) return make_error(ErrorCode::kIo, "cannot write " + path + ": " + fd.error().message);
  TempFileGuard guard(*tmp);
  // The mode is set on the empty file: a wider one (a certificate's 0644) is never a secret's,
  // and a narrower umask must not change what was asked for.
  if (::fchmod(fd->get(), mode) != 0) {
    return make_error(ErrorCode::kIo, "cannot set the mode of " + *tmp + ": " + errno_text(errno));
  }
  size_t put = 0;
  while (put < data.size()) {
    ssize_t n = ::write(fd->get(), data.data() + put, data.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(ErrorCode::kIo, "cannot write " + *tmp + ": " + errno_text(errno));
    put += static_cast<size_t>(n);
  }
  if (::fsync(fd->get()) != 0 || fd->close() != 0) {
    return make_error(ErrorCode::kIo, "cannot write " + *tmp + ": " + errno_text(errno));
  }
  if (::rename(tmp->c_str(), path.c_str()) != 0) {
    return make_error(ErrorCode::kIo, "cannot install " + path + ": " + errno_text(errno));
  }
  guard.release();
  return fsync_parent_dir(path);
}

}  // namespace mailroom::storage
