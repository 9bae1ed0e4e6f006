// Backup sinks: a directory tree, or a ustar/pax tar file; and the tar reader for restore.
#include "admin-cli/provision/backup_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "storage/maildir/unique_fd.h"

namespace mailroom::cli::provision {

namespace {

namespace fs = std::filesystem;
using storage::UniqueFd;

constexpr std::size_t kBlock = 512;
constexpr int64_t kMaxUstarSize = 077777777777;  // 11 octal digits

Error io_error(const std::string& what) { return make_error(ErrorCode::kIo, what + ": " + std::strerror(errno)); }

Status write_all(int fd, const char* data, std::size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write " + path);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

// Reads exactly `size` bytes unless the file ends first; returns how many were read.
Result<std::size_t> read_full(int fd, char* buf, std::size_t size, const std::string& path) {
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, buf + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read " + path);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

// `size` bytes from `read` to `fd` (the file `path`, entry `name`), in bounded pieces.
Status copy_exactly(const ReadFn& read, int64_t size, int fd, const std::string& name, const std::string& path) {
  std::vector<char> buf(kArchiveCopyBufferBytes);
  int64_t left = size;
  while (left > 0) {
    auto n = read(buf.data(), static_cast<std::size_t>(std::min<int64_t>(left, static_cast<int64_t>(buf.size()))));
    if (!n) return n.error();
    if (*n == 0) return make_error(ErrorCode::kIo, name + " became shorter while it was copied");
    if (auto st = write_all(fd, buf.data(), *n, path); !st) return st;
    left -= static_cast<int64_t>(*n);
  }
  return {};
}

void put_octal(char* field, std::size_t width, int64_t value) {
  // width-1 digits and a NUL.
  std::string digits(width - 1, '0');
  for (std::size_t i = width - 1; i-- > 0 && value > 0; value >>= 3) digits[i] = static_cast<char>('0' + (value & 7));
  std::memcpy(field, digits.data(), width - 1);
  field[width - 1] = '\0';
}

void put_text(char* field, std::size_t width, std::string_view text) {
  std::memcpy(field, text.data(), std::min(width, text.size()));
}

// "%d key=value\n" where the length counts the whole record, itself included.
std::string pax_record(const std::string& key, const std::string& value) {
  const std::size_t body = 1 + key.size() + 1 + value.size() + 1;  // " key=value\n"
  std::size_t len = body + 1;
  while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
  return std::to_string(len) + " " + key + "=" + value + "\n";
}

class TarSink final : public BackupSink {
 public:
  TarSink(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  Status add_directory(const std::string& name, mode_t mode, int64_t mtime) override {
    return header(name + "/", '5', mode, mtime, 0);
  }

  Status add_stream(const std::string& name, mode_t mode, int64_t mtime, int64_t size, const ReadFn& read) override {
    if (auto st = header(name, '0', mode, mtime, size); !st) return st;
    if (auto st = copy_exactly(read, size, fd_.get(), name, path_); !st) return st;
    return pad(size);
  }

  Status finish() override {
    std::array<char, 2 * kBlock> end{};
    if (auto st = write_all(fd_.get(), end.data(), end.size(), path_); !st) return st;
    if (::fsync(fd_.get()) != 0) return io_error("cannot sync " + path_);
    return {};
  }

 private:
  Status pad(int64_t size) {
    const std::size_t rest = static_cast<std::size_t>(size % static_cast<int64_t>(kBlock));
    if (rest == 0) return {};
    std::array<char, kBlock> zeros{};
    return write_all(fd_.get(), zeros.data(), kBlock - rest, path_);
  }

  Status block(char type, const std::string& name, mode_t mode, int64_t mtime, int64_t size) {
    std::array<char, kBlock> h{};
    put_text(&h[0], 100, name);
    put_octal(&h[100], 8, mode & 07777);
    put_octal(&h[108], 8, 0);
    put_octal(&h[116], 8, 0);
    put_octal(&h[124], 12, std::min(size, kMaxUstarSize));
    put_octal(&h[136], 12, std::max<int64_t>(mtime, 0));
    h[156] = type;
    std::memcpy(&h[257], "ustar", 6);
    std::memcpy(&h[263], "00", 2);
    std::memset(&h[148], ' ', 8);
    unsigned sum = 0;
    for (char c : h) sum += static_cast<unsigned char>(c);
    put_octal(&h[148], 7, sum);
    h[155] = ' ';
    return write_all(fd_.get(), h.data(), h.size(), path_);
  }

  // A pax header first when the name or the size does not fit the ustar fields.
  Status header(const std::string& name, char type, mode_t mode, int64_t mtime, int64_t size) {
    std::string pax;
    if (name.size() > 100) pax += pax_record("path", name);
    if (size > kMaxUstarSize) pax += pax_record("size", std::to_string(size));
    if (!pax.empty()) {
      if (auto st = block('x', "PaxHeader", 0600, mtime, static_cast<int64_t>(pax.size())); !st) return st;
      if (auto st = write_all(fd_.get(), pax.data(), pax.size(), path_); !st) return st;
      if (auto st = pad(static_cast<int64_t>(pax.size())); !st) return st;
    }
    return block(type, name.substr(0, 100), mode, mtime, size);
  }

  UniqueFd fd_;
  std::string path_;
};

class DirectorySink final : public BackupSink {
 public:
  explicit DirectorySink(std::string root) : root_(std::move(root)) {}

  Status add_directory(const std::string& name, mode_t mode, int64_t mtime) override {
    (void)mtime;  // a directory's time changes as its files arrive anyway
    const std::string path = root_ + "/" + name;
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create " + path + ": " + ec.message());
    if (::chmod(path.c_str(), (mode & 07777) | S_IRWXU) != 0) return io_error("cannot set the mode of " + path);
    return {};
  }

  Status add_stream(const std::string& name, mode_t mode, int64_t mtime, int64_t size, const ReadFn& read) override {
    const std::string path = root_ + "/" + name;
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create the folder of " + path + ": " + ec.message());
    // Created 0600 and given its mode once written: a key is never readable by others meanwhile.
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return io_error("cannot create " + path);
    if (auto st = copy_exactly(read, size, fd.get(), name, path); !st) return st;
    if (::fchmod(fd.get(), mode & 07777) != 0) return io_error("cannot set the mode of " + path);
    const struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
    (void)::futimens(fd.get(), times);
    if (::fsync(fd.get()) != 0) return io_error("cannot sync " + path);
    return {};
  }

  Status finish() override {
    UniqueFd dir(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.valid()) (void)::fsync(dir.get());
    return {};
  }

 private:
  std::string root_;
};

int64_t parse_octal(const char* field, std::size_t width) {
  int64_t v = 0;
  for (std::size_t i = 0; i < width && field[i] != '\0' && field[i] != ' '; ++i) {
    if (field[i] < '0' || field[i] > '7') return -1;
    v = v * 8 + (field[i] - '0');
  }
  return v;
}

std::string field_text(const char* field, std::size_t width) { return std::string(field, ::strnlen(field, width)); }

// The records of a pax extended header: path and size are the ones we use.
void parse_pax(const std::string& data, std::string& path, int64_t& size) {
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t space = data.find(' ', pos);
    if (space == std::string::npos) return;
    std::size_t len = 0;
    try {
      len = std::stoul(data.substr(pos, space - pos));
    } catch (const std::exception&) {
      return;
    }
    if (len == 0 || pos + len > data.size()) return;
    const std::string record = data.substr(space + 1, len - (space - pos) - 2);  // without the '\n'
    const std::size_t eq = record.find('=');
    if (eq != std::string::npos) {
      const std::string key = record.substr(0, eq);
      if (key == "path") path = record.substr(eq + 1);
      if (key == "size") size = std::stoll(record.substr(eq + 1));
    }
    pos += len;
  }
}

}  // namespace

Result<int64_t> BackupSink::add_file(const std::string& name, const std::string& source) {
  UniqueFd fd(::open(source.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return make_error(ErrorCode::kNotFound, source + " is gone");
    return io_error("cannot open " + source);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat " + source);
  if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::kInvalidArgument, source + " is not a regular file");
  const int fdn = fd.get();
  ReadFn read = [fdn, &source](char* buf, std::size_t max) { return read_full(fdn, buf, max, source); };
  if (auto s = add_stream(name, st.st_mode, st.st_mtim.tv_sec, st.st_size, read); !s) return s.error();
  return static_cast<int64_t>(st.st_size);
}

Status BackupSink::add_bytes(const std::string& name, std::string_view data, mode_t mode, int64_t mtime) {
  std::size_t offset = 0;
  ReadFn read = [&](char* buf, std::size_t max) -> Result<std::size_t> {
    const std::size_t n = std::min(max, data.size() - offset);
    std::memcpy(buf, data.data() + offset, n);
    offset += n;
    return n;
  };
  return add_stream(name, mode, mtime, static_cast<int64_t>(data.size()), read);
}

Result<std::unique_ptr<BackupSink>> create_tar_sink(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    if (errno == EEXIST) return make_error(ErrorCode::kAlreadyExists, path + " already exists");
    return io_error("cannot create " + path);
  }
  return std::unique_ptr<BackupSink>(std::make_unique<TarSink>(std::move(fd), path));
}

Result<std::unique_ptr<BackupSink>> create_directory_sink(const std::string& root, bool allow_existing) {
  std::error_code ec;
  if (fs::exists(root, ec)) {
    if (!fs::is_directory(root, ec)) return make_error(ErrorCode::kAlreadyExists, root + " exists and is not a directory");
    if (!allow_existing && !fs::is_empty(root, ec)) return make_error(ErrorCode::kAlreadyExists, root + " is not empty");
  } else if (::mkdir(root.c_str(), 0700) != 0) {
    return io_error("cannot create " + root);
  }
  return std::unique_ptr<BackupSink>(std::make_unique<DirectorySink>(root));
}

bool safe_entry_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.size() > kMaxArchiveNameBytes) return false;
  if (name.find('\0') != std::string_view::npos) return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view part = name.substr(start, end - start);
    if (part == "." || part == "..") return false;
    if (part.empty() && end != name.size()) return false;  // "a//b"
    start = end + 1;
  }
  return true;
}

Status extract_tar(const std::string& path, BackupSink& sink) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return io_error("cannot open " + path);
  const int fdn = fd.get();
  std::array<char, kBlock> h{};
  std::string pax_path;
  int64_t pax_size = -1;
  auto truncated = [&] { return make_error(ErrorCode::kInvalidArgument, path + " is truncated or not a tar file"); };
  while (true) {
    auto got = read_full(fdn, h.data(), kBlock, path);
    if (!got) return got.error();
    if (*got != kBlock) return truncated();
    if (std::all_of(h.begin(), h.end(), [](char c) { return c == '\0'; })) return {};  // the end
    unsigned sum = 0;
    for (std::size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    if (parse_octal(&h[148], 8) != static_cast<int64_t>(sum)) {
      return make_error(ErrorCode::kInvalidArgument, path + ": a header's checksum is wrong (not a tar file?)");
    }
    const char type = h[156];
    int64_t size = pax_size >= 0 ? pax_size : parse_octal(&h[124], 12);
    if (size < 0) return truncated();
    std::string name = pax_path;
    if (name.empty()) {
      const std::string prefix = field_text(&h[345], 155);
      name = (prefix.empty() ? "" : prefix + "/") + field_text(&h[0], 100);
    }
    pax_path.clear();
    pax_size = -1;
    const int64_t padded = (size + static_cast<int64_t>(kBlock) - 1) / static_cast<int64_t>(kBlock) * kBlock;

    if (type == 'x' || type == 'L') {  // pax extended header, or a GNU long name
      if (size > static_cast<int64_t>(kMaxArchiveNameBytes) * 4) {
        return make_error(ErrorCode::kInvalidArgument, path + ": an extended header is too large");
      }
      std::string data(static_cast<std::size_t>(padded), '\0');
      auto n = read_full(fdn, data.data(), data.size(), path);
      if (!n) return n.error();
      if (*n != data.size()) return truncated();
      data.resize(static_cast<std::size_t>(size));
      if (type == 'x') {
        parse_pax(data, pax_path, pax_size);
      } else {
        pax_path = std::string(data.c_str());
      }
      continue;
    }
    while (!name.empty() && name.back() == '/') name.pop_back();
    const mode_t mode = static_cast<mode_t>(std::max<int64_t>(parse_octal(&h[100], 8), 0));
    const int64_t mtime = std::max<int64_t>(parse_octal(&h[136], 12), 0);
    if ((type == '0' || type == '\0' || type == '5') && !safe_entry_name(name)) {
      return make_error(ErrorCode::kInvalidArgument, path + ": refusing the entry name '" + name + "'");
    }
    if (type == '5') {
      if (auto st = sink.add_directory(name, mode, mtime); !st) return st;
      if (padded > 0 && ::lseek(fdn, padded, SEEK_CUR) < 0) return io_error("cannot read " + path);
      continue;
    }
    if (type == '0' || type == '\0') {
      int64_t left = size;
      ReadFn read = [&](char* buf, std::size_t max) -> Result<std::size_t> {
        auto n = read_full(fdn, buf, static_cast<std::size_t>(std::min<int64_t>(left, static_cast<int64_t>(max))), path);
        if (n) left -= static_cast<int64_t>(*n);
        return n;
      };
      if (auto st = sink.add_stream(name, mode, mtime, size, read); !st) return st;
      if (padded > size && ::lseek(fdn, padded - size, SEEK_CUR) < 0) return io_error("cannot read " + path);
      continue;
    }
    // Links, devices, global headers: not written by Mailroom; skipped.
    if (padded > 0 && ::lseek(fdn, padded, SEEK_CUR) < 0) return io_error("cannot read " + path);
  }
}

}  // namespace mailroom::cli::provision
