// Maildir MailStore: atomic delivery (tmp/ -> new/, delivery_writer.cpp), listing in delivery order, streaming
// reads in wire form, crash-safe deletion through a durable intent file, flock()-based locking.
//
// Whoever can write the maildir must not reach anything outside it through us: messages are
// opened, listed and unlinked only relative to descriptors of cur/ and new/ (opened without
// following a symlink in their place), a message is a regular file opened with O_NOFOLLOW, and
// the names from the listing cache (maildir_index.h) are only tried there, never trusted.
#include "storage/maildir/maildir_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "core/log/logger.h"
#include "storage/mail_store.h"
#include "storage/maildir/delivery_writer.h"
#include "storage/maildir/fs_util.h"
#include "storage/maildir/maildir_index.h"
#include "storage/maildir/lock_file.h"
#include "storage/maildir/maildir_name.h"
#include "storage/maildir/unique_fd.h"
#include "storage/maildir/wire_form.h"

namespace mailroom::storage {

namespace {

using maildir::kDeleteIntentFile;
using maildir::kDeleteIntentTmpFile;
using maildir::kUpdateLockFile;
using maildir::errno_text;
using maildir::fsync_dir;
using maildir::io_error;
using maildir::join;
using maildir::write_all;

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr const char* kSubdirs[] = {"new", "cur"};

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Reads a whole (small) file; used only for the deletion intent list. Only a regular file: a
// symlink planted in its place (to /dev/zero, a FIFO, another file) is refused, not read.
Result<std::string> read_small_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return io_error("cannot open " + path, errno);
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
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Creates one directory; an existing directory is fine. Returns whether it was created.
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

// A name a folder listing yields as a message: not empty, no dot file, no '/', and nothing our
// line-based intent and index files could not carry (a newline). Checked again on names taken
// from the index or the listing before they are opened.
bool message_name_ok(std::string_view name) {
  return !name.empty() && name[0] != '.' && name.find_first_of(std::string_view("/\n\0", 3)) == std::string_view::npos;
}

// Opens the folder DIR/SUB (new/ or cur/) itself, refusing a symlink in its place: messages are
// listed, opened and unlinked relative to this descriptor, so a folder swapped for a link leads
// nowhere else. (DIR itself may be reached through symlinks: that path is the administrator's.)
Result<UniqueFd> open_folder(const std::string& dir, std::string_view sub) {
  std::string path = join(dir, std::string(sub));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid()) return fd;
  int err = errno;
  if (err == ENOENT) return make_error(ErrorCode::kNotFound, "cannot open " + path + ": " + errno_text(err));
  if (err == ELOOP || err == ENOTDIR) {
    return make_error(ErrorCode::kIo, "cannot open " + path + ": not a directory (a symbolic link?)");
  }
  return io_error("cannot open " + path, err);
}

struct MessageFile {
  UniqueFd fd;
  uint64_t size = 0;  // of the stored file
};

// How message files are opened: O_NOFOLLOW refuses a symlink (to a file outside the maildir, or to
// another message), and O_NONBLOCK keeps a FIFO from holding the worker until fstat() refuses it
// (it changes nothing for a regular file).
constexpr int kMessageOpenFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

// A message file just opened (fd may be invalid, errno then tells why): only a regular file is one.
Result<MessageFile> checked_message_file(UniqueFd fd, const std::string& path) {
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) return make_error(ErrorCode::kNotFound, "cannot open " + path + ": " + errno_text(err));
    if (err == ELOOP) return make_error(ErrorCode::kIo, "cannot open " + path + ": a symbolic link, not a message");
    return io_error("cannot open " + path, err);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat " + path, errno);
  if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::kIo, "cannot open " + path + ": not a regular file");
  return MessageFile{std::move(fd), static_cast<uint64_t>(st.st_size)};
}

// Opens message NAME of an open folder for reading if it is a regular file there. kNotFound if
// there is no such entry; `path` is for error messages.
Result<MessageFile> open_message_file(int folder, std::string_view name, const std::string& path) {
  if (!message_name_ok(name)) return make_error(ErrorCode::kInvalidArgument, "not a message file: " + path);
  return checked_message_file(UniqueFd(::openat(folder, std::string(name).c_str(), kMessageOpenFlags)), path);
}

std::atomic<bool> g_openat2_missing{false};  // the kernel (or a seccomp filter) has no openat2()

// open(path) following no symlink on the whole path (openat2 RESOLVE_NO_SYMLINKS, Linux 5.6): one
// syscall where a folder descriptor costs three more (open, openat, close), and syscalls are most of
// the cost of opening a small message. -1 with errno set if it fails or is not available (ENOSYS).
int open_without_symlinks(const std::string& path) {
#ifdef SYS_openat2
  if (!g_openat2_missing.load(std::memory_order_relaxed)) {
    open_how how{};
    how.flags = static_cast<uint64_t>(kMessageOpenFlags);
    how.resolve = RESOLVE_NO_SYMLINKS;
    long fd = ::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
    g_openat2_missing.store(true, std::memory_order_relaxed);
  }
#endif
  errno = ENOSYS;
  return -1;
}

// Calls fn(name) for each message file in an open folder (`path` names it in errors): regular
// files with names message_name_ok() accepts.
template <class Fn>
Status for_each_message_file(int folder, const std::string& path, Fn&& fn) {
  // fdopendir() takes its descriptor over: it gets a duplicate (sharing the read position, which
  // rewinddir() resets), the caller keeps the folder for openat().
  int copy = ::fcntl(folder, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return io_error("cannot list " + path, errno);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(copy), &::closedir);
  if (!d) {
    int err = errno;
    ::close(copy);
    return io_error("cannot list " + path, err);
  }
  ::rewinddir(d.get());
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(d.get());
    if (e == nullptr) {
      if (errno != 0) return io_error("cannot list " + path, errno);
      break;
    }
    std::string_view name = e->d_name;
    if (!message_name_ok(name)) continue;
    bool regular = e->d_type == DT_REG;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st{};
      regular = ::fstatat(dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    }
    if (regular) fn(name);
  }
  return {};
}

// The message files in DIR/SUBDIR (see for_each_message_file).
Result<std::vector<std::string>> list_messages(const std::string& dir, const std::string& subdir) {
  auto folder = open_folder(dir, subdir);
  if (!folder) return folder.error();
  std::vector<std::string> names;
  auto add = [&](std::string_view name) { names.emplace_back(name); };
  if (auto s = for_each_message_file(folder->get(), join(dir, subdir), add); !s) return s.error();
  return names;
}

// Where a message with this stem lives now, as "new/NAME" or "cur/NAME": another client may
// have moved it to cur/ and appended ":2,FLAGS" since we listed it.
Result<std::map<std::string, std::string>> index_by_stem(const std::string& dir) {
  std::map<std::string, std::string> where;
  for (const char* sub : kSubdirs) {
    auto names = list_messages(dir, sub);
    if (!names) return names.error();
    for (const auto& n : *names) where[std::string(maildir::name_stem(n))] = std::string(sub) + "/" + n;
  }
  return where;
}

// Holds DIR/.mailroom-lock (blocking flock, on a worker) for one deletion: writing an intent and
// carrying it out. Sessions of one process never meet here (the lock registry below keeps one
// session per maildrop); this guards against another process sharing the maildir.
Result<UniqueFd> lock_for_update(const std::string& dir) { return lock_file(join(dir, kUpdateLockFile), /*wait=*/true); }

// Carries out DIR/.mailroom-delete if present: unlinks every listed message (wherever it moved),
// makes the unlinks durable, then drops the intent.
Status complete_deletion_intent(const std::string& dir) {
  std::string intent_path = join(dir, kDeleteIntentFile);
  auto text = read_small_file(intent_path);
  if (!text) {
    // No intent: nothing was promised.
    struct stat st{};
    if (::stat(intent_path.c_str(), &st) != 0 && errno == ENOENT) return {};
    return text.error();
  }
  // Unlinks go through the folders' descriptors: a folder swapped for a symlink is refused here,
  // so a forged intent cannot delete anything outside the maildir.
  UniqueFd folders[2];
  for (int i = 0; i < 2; ++i) {
    auto folder = open_folder(dir, kSubdirs[i]);
    if (!folder) return folder.error();
    folders[i] = std::move(folder).value();
  }
  auto folder_of = [&](std::string_view rel) { return folders[rel[0] == 'n' ? 0 : 1].get(); };
  std::vector<std::string> missing;
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    // Only "new/NAME" or "cur/NAME": a damaged intent must not unlink anything else.
    if (line.size() < 5 || (line.substr(0, 4) != "new/" && line.substr(0, 4) != "cur/")) continue;
    std::string_view name = line.substr(4);
    if (!message_name_ok(name)) continue;
    std::string path = join(dir, std::string(line));
    if (::unlinkat(folder_of(line), std::string(name).c_str(), 0) == 0) continue;
    if (errno != ENOENT) return io_error("cannot delete " + path, errno);
    missing.emplace_back(maildir::name_stem(name));
  }
  if (!missing.empty()) {
    auto where = index_by_stem(dir);
    if (!where) return where.error();
    for (const auto& stem : missing) {
      auto it = where->find(stem);
      if (it == where->end()) continue;  // already gone: that is the goal
      std::string path = join(dir, it->second);
      if (::unlinkat(folder_of(it->second), it->second.c_str() + 4, 0) != 0 && errno != ENOENT) {
        return io_error("cannot delete " + path, errno);
      }
    }
  }
  for (int i = 0; i < 2; ++i) {
    if (::fsync(folders[i].get()) != 0) return io_error("cannot fsync directory " + join(dir, kSubdirs[i]), errno);
  }
  if (::unlink(intent_path.c_str()) != 0 && errno != ENOENT) {
    return io_error("cannot remove " + intent_path, errno);
  }
  return fsync_dir(dir);
}

class MaildirMessageReader final : public MessageReader {
 public:
  // `file_size`: the stored file's size, as open_message_file() found it.
  MaildirMessageReader(UniqueFd fd, std::string path, WireMode mode, uint64_t file_size)
      : fd_(std::move(fd)), path_(std::move(path)), encoder_(mode == WireMode::kDotStuffed) {
    // Most messages are a few KiB: a buffer the size of the file (not a whole chunk) saves
    // zero-filling 64 KiB per RETR, which showed up in profiles of many small sessions.
    chunk_ = static_cast<std::size_t>(std::clamp<uint64_t>(file_size + 1, 512, kReadChunk));
  }

  Result<std::size_t> read(std::string& out, std::size_t max) override {
    std::size_t appended = 0;
    while (appended < max) {
      if (pos_ < pending_.size()) {
        std::size_t n = std::min(max - appended, pending_.size() - pos_);
        out.append(pending_, pos_, n);
        pos_ += n;
        appended += n;
        continue;
      }
      if (eof_) break;
      pending_.clear();
      pos_ = 0;
      // Encoding only grows the text, so reading at most what is still wanted overshoots by
      // at most the CRs added; the wire form goes straight into `out` (no second copy), and
      // only an overshoot waits in pending_ for the next call.
      if (buf_.size() < chunk_) buf_.resize(chunk_);
      ssize_t n = ::read(fd_.get(), buf_.data(), std::min(chunk_, max - appended));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("cannot read " + path_, errno);
      }
      if (n == 0) {
        eof_ = true;
        encoder_.finish(pending_);
        continue;
      }
      const std::size_t before = out.size();
      encoder_.encode(std::string_view(buf_.data(), static_cast<std::size_t>(n)), out);
      const std::size_t produced = out.size() - before;
      if (appended + produced > max) {
        const std::size_t excess = appended + produced - max;
        pending_.assign(out, out.size() - excess, excess);
        out.resize(out.size() - excess);
        appended = max;
      } else {
        appended += produced;
      }
    }
    return appended;
  }

  uint64_t octets() const override { return encoder_.wire_size(); }

 private:
  UniqueFd fd_;
  std::string path_;
  maildir::WireEncoder encoder_;
  std::size_t chunk_ = kReadChunk;
  std::string buf_;      // raw file bytes of the current chunk
  std::string pending_;  // wire bytes converted but not yet handed out
  std::size_t pos_ = 0;
  bool eof_ = false;
};

// Wire size of message NAME of an open folder whose name carries no W= tag: read and count it.
Result<uint64_t> compute_wire_size(int folder, std::string_view name, const std::string& path) {
  auto file = open_message_file(folder, name, path);
  if (!file) return file.error();
  maildir::WireEncoder encoder;
  std::string buf(kReadChunk, '\0');
  for (;;) {
    ssize_t n = ::read(file->fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read " + path, errno);
    }
    if (n == 0) break;
    encoder.count(std::string_view(buf.data(), static_cast<std::size_t>(n)));
  }
  std::string tail;
  encoder.finish(tail);
  return encoder.wire_size();
}

// One session per maildrop (RFC 1939) is kept in the daemon's memory: one daemon serves a data
// directory (it holds DATA/run/mailroomd.lock), so a set of held maildirs, keyed by their real
// path, is enough, and a held maildrop costs no file descriptor (10,000 logged-in sessions would
// otherwise need 20,000). Process-wide, so every MailStore instance in a process agrees.
class LockRegistry {
 public:
  static LockRegistry& instance() {
    static LockRegistry registry;
    return registry;
  }
  bool acquire(const std::string& key) {
    std::lock_guard guard(mu_);
    return held_.insert(key).second;
  }
  void release(const std::string& key) {
    std::lock_guard guard(mu_);
    held_.erase(key);
  }

 private:
  std::mutex mu_;
  std::unordered_set<std::string> held_;
};

class MaildirLock final : public MaildropLock {
 public:
  explicit MaildirLock(std::string key) : key_(std::move(key)) {}
  ~MaildirLock() override { LockRegistry::instance().release(key_); }
  MaildirLock(const MaildirLock&) = delete;
  MaildirLock& operator=(const MaildirLock&) = delete;

 private:
  std::string key_;  // the maildir's real path
};

class MaildirDrop final : public Maildrop {
 public:
  // `messages` paths all start with join(dir, ""): the rest is "new/NAME" or "cur/NAME".
  MaildirDrop(std::string dir, std::vector<MessageInfo> messages)
      : dir_(std::move(dir)),
        prefix_len_(join(dir_, "").size()),
        listing_(std::make_shared<const std::vector<MessageInfo>>(std::move(messages))) {}

  const std::vector<MessageInfo>& messages() const override { return *listing_; }
  Listing listing() const override { return listing_; }

  Result<std::unique_ptr<MessageReader>> open_message(std::size_t index, WireMode mode) override {
    if (index >= messages().size()) {
      return make_error(ErrorCode::kInvalidArgument, "no message " + std::to_string(index + 1));
    }
    std::string path = messages()[index].path;
    auto file = open_relative(relative_path(index), path);
    if (!file && file.error().code == ErrorCode::kNotFound) {
      // Another client may have moved it to cur/ (and renamed it with flags) since we listed.
      auto where = index_by_stem(dir_);
      if (!where) return where.error();
      auto it = where->find(std::string(maildir::name_stem(file_name(index))));
      if (it == where->end()) {
        return make_error(ErrorCode::kNotFound, "message " + std::to_string(index + 1) +
                                                    " was removed by another client");
      }
      path = join(dir_, it->second);
      file = open_relative(it->second, path);
    }
    if (!file) return file.error();
    const uint64_t size = file->size;
    return std::unique_ptr<MessageReader>(
        std::make_unique<MaildirMessageReader>(std::move(file->fd), path, mode, size));
  }

  Status commit_deletions(const std::vector<std::size_t>& indexes) override {
    if (indexes.empty()) return {};
    auto update_lock = lock_for_update(dir_);
    if (!update_lock) return update_lock.error();
    std::string list;
    for (std::size_t i : indexes) {
      if (i >= messages().size()) {
        return make_error(ErrorCode::kInvalidArgument, "no message " + std::to_string(i + 1));
      }
      list += relative_path(i);
      list += '\n';
    }
    // The intent is durable before the first unlink, so a crash half-way is finished by open().
    std::string tmp_path = join(dir_, kDeleteIntentTmpFile);
    std::string intent_path = join(dir_, kDeleteIntentFile);
    {
      // A fresh file: whatever is in the way (a leftover, or a symlink planted to make us write
      // elsewhere) is removed first, under the update lock that every writer of it holds.
      ::unlink(tmp_path.c_str());
      UniqueFd fd(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd.valid()) return io_error("cannot create " + tmp_path, errno);
      Status s = write_all(fd.get(), list, tmp_path);
      if (s && ::fsync(fd.get()) != 0) s = io_error("cannot fsync " + tmp_path, errno);
      if (s && fd.close() != 0) s = io_error("cannot close " + tmp_path, errno);
      if (!s) {
        ::unlink(tmp_path.c_str());
        return s;
      }
    }
    if (::rename(tmp_path.c_str(), intent_path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp_path.c_str());
      return io_error("cannot rename " + tmp_path, err);
    }
    if (auto s = fsync_dir(dir_); !s) return s;
    return complete_deletion_intent(dir_);
  }

 private:
  // "new/NAME" or "cur/NAME", as listed.
  std::string_view relative_path(std::size_t index) const {
    return std::string_view(messages()[index].path).substr(prefix_len_);
  }
  std::string_view file_name(std::size_t index) const { return relative_path(index).substr(4); }

  // Opens `rel` ("new/NAME" or "cur/NAME"; `path` is join(dir_, rel)) if it is a regular file in
  // that folder. The rule is the folder-descriptor way (open_folder, open_message_file: a folder
  // opened per message keeps a logged-in session free of descriptors). First, though, one openat2()
  // that follows no symlink at all on the path: when it opens the file, neither the folder nor the
  // file is a symlink, so it is the same file at a quarter of the syscalls. When it fails the
  // folder way decides, and if that succeeds the symlink was in the maildir's own path (allowed:
  // it is the administrator's), so this maildrop stops trying.
  Result<MessageFile> open_relative(std::string_view rel, const std::string& path) {
    if (rel.size() < 5 || (rel.substr(0, 4) != "new/" && rel.substr(0, 4) != "cur/")) {
      return make_error(ErrorCode::kInvalidArgument, "not a message file: " + path);
    }
    bool loop = false;
    if (!path_has_symlink_.load(std::memory_order_relaxed) && message_name_ok(rel.substr(4))) {
      UniqueFd fd(open_without_symlinks(path));
      if (fd.valid() || errno == ENOENT) return checked_message_file(std::move(fd), path);
      loop = errno == ELOOP;
    }
    auto folder = open_folder(dir_, rel.substr(0, 3));
    if (!folder) return folder.error();
    auto file = open_message_file(folder->get(), rel.substr(4), path);
    if (file && loop) path_has_symlink_.store(true, std::memory_order_relaxed);
    return file;
  }

  std::string dir_;
  std::size_t prefix_len_;
  Listing listing_;
  // dir_ goes through a symlink: open_relative() skips its openat2() try. Atomic because a
  // session's jobs may run on different workers (one at a time).
  std::atomic<bool> path_has_symlink_{false};
};

// ---------------------------------------------------------------- listing and index

struct Stamps {
  maildir::DirStamp new_dir;
  maildir::DirStamp cur_dir;
};

// lstat(): a folder swapped for a symlink has no stamps, so the index is not used and the scan
// refuses the folder (open_folder).
std::optional<Stamps> read_stamps(const std::string& dir) {
  Stamps s;
  struct stat st{};
  if (::lstat(join(dir, "new").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  s.new_dir = maildir::stamp_from_stat(st);
  if (::lstat(join(dir, "cur").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  s.cur_dir = maildir::stamp_from_stat(st);
  return s;
}

// One directory entry of a scan; its name lives in the scan's shared buffer (one allocation for
// all names rather than one each).
struct ScannedName {
  uint64_t timestamp;  // leading_timestamp(name): most order comparisons stop there
  std::size_t offset;
  uint32_t length;
  char sub;  // 'n' or 'c'
  bool superseded = false;
};

// Appends the message files of an open folder (same rules as list_messages) to `names`/`buffer`.
Status scan_folder(int folder, const std::string& path, char sub, std::string& buffer,
                   std::vector<ScannedName>& names) {
  return for_each_message_file(folder, path, [&](std::string_view name) {
    names.push_back(ScannedName{maildir::leading_timestamp(name), buffer.size(),
                                static_cast<uint32_t>(name.size()), sub});
    buffer.append(name);
  });
}

// Open-addressing table of item numbers keyed by a string: finds "the same stem" or "the same
// uid" among tens of thousands of names without a node allocation per name.
class ViewTable {
 public:
  static constexpr std::size_t kEmpty = static_cast<std::size_t>(-1);

  explicit ViewTable(std::size_t expected)
      : slots_(std::bit_ceil(std::max<std::size_t>(16, expected * 2)), kEmpty), mask_(slots_.size() - 1) {}

  // The slot of `key`: the item filed under it (its key read back through `key_of`), or kEmpty
  // for a new key, to be filled by the caller. At most `expected` keys may be filed.
  template <class KeyOf>
  std::size_t& slot(std::string_view key, const KeyOf& key_of) {
    for (std::size_t i = std::hash<std::string_view>{}(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i] == kEmpty || key_of(slots_[i]) == key) return slots_[i];
    }
  }

 private:
  std::vector<std::size_t> slots_;
  std::size_t mask_;
};

// Logs an entry the scan had to skip, once per path in the life of the process. It is skipped at
// every open of its maildir (a listing that skipped one is not saved in the index, so each login
// scans again and sees it once readable): a line per login would bury the log, and one line tells
// the administrator what to fix. A bounded set: after very many, it starts over.
void report_skipped(const std::string& path, const Error& error) {
  constexpr std::size_t kMaxReported = 10000;
  static std::mutex mu;
  static std::unordered_set<std::string> reported;
  {
    std::lock_guard guard(mu);
    if (reported.size() >= kMaxReported) reported.clear();
    if (!reported.insert(path).second) return;
  }
  log::warn("maildir.unreadable", {{"path", path}, {"error", error.message}, {"action", "not listed"}});
}

struct Scan {
  std::vector<MessageInfo> messages;
  bool complete = true;  // false: an entry could not be read and was left out
};

// Lists new/ and cur/ in delivery order with sizes and unique uids. An entry that cannot be read
// (needed only for a name without W=) is left out and reported: the rest of the mailbox is served.
Result<Scan> scan_maildir(const std::string& dir) {
  std::string buffer;
  std::vector<ScannedName> names;
  UniqueFd folders[2];  // new/, cur/
  // new/ first, then cur/: a message moved between the two listings shows up in cur/ as
  // well, and the later (cur/) sighting replaces the stale one.
  for (int i = 0; i < 2; ++i) {
    auto folder = open_folder(dir, kSubdirs[i]);
    if (!folder) return folder.error();
    folders[i] = std::move(folder).value();
    if (auto s = scan_folder(folders[i].get(), join(dir, kSubdirs[i]), kSubdirs[i][0], buffer, names); !s) {
      return s.error();
    }
  }
  auto name_of = [&](const ScannedName& n) { return std::string_view(buffer).substr(n.offset, n.length); };
  {
    ViewTable by_stem(names.size());
    auto stem_of = [&](std::size_t i) { return maildir::name_stem(name_of(names[i])); };
    for (std::size_t i = 0; i < names.size(); ++i) {
      std::size_t& holder = by_stem.slot(stem_of(i), stem_of);
      if (holder != ViewTable::kEmpty) names[holder].superseded = true;
      holder = i;
    }
  }
  std::erase_if(names, [](const ScannedName& n) { return n.superseded; });
  std::sort(names.begin(), names.end(), [&](const ScannedName& a, const ScannedName& b) {
    if (a.timestamp != b.timestamp) return a.timestamp < b.timestamp;
    return maildir::delivery_order_less(name_of(a), name_of(b));
  });

  Scan scan;
  std::vector<MessageInfo>& messages = scan.messages;
  // Reserved once: the uid table below holds views of the uids in place.
  messages.reserve(names.size());
  const std::string prefix = join(dir, "");
  for (const auto& n : names) {
    std::string_view name = name_of(n);
    MessageInfo info;
    info.path.reserve(prefix.size() + 4 + name.size());
    info.path.append(prefix).append(n.sub == 'n' ? "new/" : "cur/").append(name);
    if (auto w = maildir::wire_size_from_name(name)) {
      info.size = *w;
    } else {
      auto computed = compute_wire_size(folders[n.sub == 'n' ? 0 : 1].get(), name, info.path);
      if (!computed) {
        if (computed.error().code == ErrorCode::kNotFound) continue;  // just deleted
        report_skipped(info.path, computed.error());
        scan.complete = false;
        continue;
      }
      info.size = *computed;
    }
    info.uid = maildir::uid_from_name(name);
    messages.push_back(std::move(info));
  }
  // Two names with one base ("x,S=1" and "x,S=2", copied in by hand) would share a UIDL; the
  // later one takes the hash of its whole stem, which survives moves to cur/ too.
  ViewTable uids(messages.size());
  auto uid_of = [&](std::size_t i) { return std::string_view(messages[i].uid); };
  for (std::size_t i = 0; i < messages.size(); ++i) {
    std::size_t& holder = uids.slot(uid_of(i), uid_of);
    if (holder == ViewTable::kEmpty) {
      holder = i;
      continue;
    }
    std::string_view rel = std::string_view(messages[i].path).substr(prefix.size());
    messages[i].uid = maildir::sha1_hex(maildir::name_stem(rel.substr(4)));
    std::size_t& hashed = uids.slot(uid_of(i), uid_of);
    if (hashed == ViewTable::kEmpty) hashed = i;
  }
  return scan;
}

constexpr std::size_t kKeptBuffer = 1 << 20;  // an index of ~20,000 messages

// The listing recorded in DIR/.mailroom-index, if it is intact and was written for exactly these
// directory stamps; nullopt means "scan": a missing, damaged, foreign or stale index.
std::optional<std::vector<MessageInfo>> load_index(const std::string& dir, const Stamps& stamps) {
  std::string path = join(dir, maildir::kIndexFile);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return std::nullopt;
  struct stat st{};
  constexpr off_t kMaxIndexSize = off_t{1} << 30;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > kMaxIndexSize) {
    return std::nullopt;
  }
  // One buffer per worker thread, kept between opens: a fresh 250 KB allocation per login costs
  // page faults and makes malloc consolidate its free lists (seen in profiles).
  thread_local std::string text;
  text.resize(static_cast<std::size_t>(st.st_size));
  struct Release {  // a huge mailbox's buffer is not kept
    ~Release() {
      if (text.capacity() > kKeptBuffer) std::string().swap(text);
    }
  } release;
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;  // an error, or shorter than fstat said: being replaced
    got += static_cast<std::size_t>(n);
  }
  auto index = maildir::IndexView::parse(text);
  if (!index || !(index->new_dir() == stamps.new_dir) || !(index->cur_dir() == stamps.cur_dir)) return std::nullopt;
  std::vector<MessageInfo> messages;
  messages.reserve(index->count());
  const std::string prefix = join(dir, "");
  bool ok = index->for_each([&](const maildir::IndexEntry& e) {
    MessageInfo& m = messages.emplace_back();
    m.size = e.size;
    m.uid = e.uid.empty() ? maildir::name_base(e.name) : e.uid;
    m.path.reserve(prefix.size() + 4 + e.name.size());
    m.path.append(prefix).append(e.sub == 'n' ? "new/" : "cur/").append(e.name);
  });
  if (!ok) return std::nullopt;
  return messages;
}

// Replaces DIR/.mailroom-index (tmp file + rename, so readers see the old or the new one whole).
// Best effort and not fsynced: it is a cache, and a file torn by a crash fails its checksum.
void save_index(const std::string& dir, const Stamps& stamps, const std::vector<MessageInfo>& messages) {
  maildir::IndexContents index{stamps.new_dir, stamps.cur_dir, {}};
  index.entries.reserve(messages.size());
  const std::size_t prefix_len = join(dir, "").size();
  for (const auto& m : messages) {
    std::string_view rel = std::string_view(m.path).substr(prefix_len);  // "new/NAME" or "cur/NAME"
    maildir::IndexEntry e;
    e.sub = rel[0] == 'n' ? 'n' : 'c';
    e.size = m.size;
    e.name = rel.substr(4);
    if (m.uid != maildir::name_base(e.name)) e.uid = m.uid;
    index.entries.push_back(e);
  }
  std::string text = maildir::encode_index(index);
  std::string tmp_path = join(dir, maildir::kIndexTmpFile);
  std::string path = join(dir, maildir::kIndexFile);
  UniqueFd fd(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return;  // read-only maildir: every open scans, as without an index
  bool ok = write_all(fd.get(), text, tmp_path).ok();
  ok = fd.close() == 0 && ok;
  if (!ok || ::rename(tmp_path.c_str(), path.c_str()) != 0) ::unlink(tmp_path.c_str());
}

class MaildirStore final : public MailStore {
 public:
  explicit MaildirStore(const maildir::StoreOptions& options) : options_(options) {}

  Status create_maildir(const std::string& dir) override {
    if (dir.empty()) return make_error(ErrorCode::kInvalidArgument, "empty maildir path");
    std::string path = dir;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    // mkdir -p: every prefix, then the three subfolders; each new entry is made durable by
    // fsyncing the directory that holds it.
    std::vector<std::string> created;
    for (std::size_t pos = path.find('/', 1); ; pos = path.find('/', pos + 1)) {
      std::string prefix = pos == std::string::npos ? path : path.substr(0, pos);
      auto r = make_dir(prefix);
      if (!r) return r.error();
      if (*r) created.push_back(prefix);
      if (pos == std::string::npos) break;
    }
    for (const char* sub : {"cur", "new", "tmp"}) {
      std::string p = join(path, sub);
      auto r = make_dir(p);
      if (!r) return r.error();
      if (*r) created.push_back(p);
    }
    std::set<std::string> parents;
    for (const auto& c : created) parents.insert(parent_of(c));
    for (const auto& p : parents) {
      if (auto s = fsync_dir(p); !s) return s;
    }
    return {};
  }

  Result<std::unique_ptr<DeliveryWriter>> begin_delivery(const std::string& dir,
                                                         const DeliveryLimits& limits) override {
    return maildir::begin_delivery(dir, limits);
  }

  Result<std::string> deliver(const std::string& dir, std::string_view message) override {
    // No cap: the caller already holds the whole message.
    auto writer = maildir::begin_delivery(dir, DeliveryLimits{.max_wire_size = std::numeric_limits<uint64_t>::max()});
    if (!writer) return writer.error();
    if (auto s = (*writer)->append(message); !s) return s.error();
    auto delivered = (*writer)->commit();
    if (!delivered) return delivered.error();
    return std::move(delivered->uid);
  }

  Result<std::size_t> remove_stale_tmp(const std::string& dir, std::chrono::seconds min_age) override {
    return maildir::remove_stale_tmp(dir, min_age);
  }

  Result<std::unique_ptr<MaildropLock>> lock(const std::string& dir) override {
    // The real path, so two spellings of one maildir (a trailing '/', a symlink) are one lock.
    std::error_code ec;
    std::string key = std::filesystem::canonical(dir, ec).string();
    if (ec) return make_error(ErrorCode::kIo, "cannot lock maildir " + dir + ": " + ec.message());
    if (!LockRegistry::instance().acquire(key)) {
      return make_error(ErrorCode::kInUse, "mailbox is in use by another session");
    }
    return std::unique_ptr<MaildropLock>(std::make_unique<MaildirLock>(std::move(key)));
  }

  Result<std::unique_ptr<Maildrop>> open(const std::string& dir) override {
    std::error_code ec;
    std::string abs = std::filesystem::absolute(dir, ec).string();
    if (ec) return make_error(ErrorCode::kIo, "cannot resolve " + dir + ": " + ec.message());
    while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
    struct stat st{};
    if (::stat(abs.c_str(), &st) != 0) {
      int err = errno;
      return make_error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                        "cannot open maildir " + abs + ": " + errno_text(err));
    }
    // What an interrupted deletion left is dealt with first, under the update lock (a stat each
    // when nothing is left): a durable intent is carried out; a temp file that never became the
    // intent promised nothing and is only removed.
    const std::string intent_path = join(abs, kDeleteIntentFile);
    const std::string tmp_path = join(abs, kDeleteIntentTmpFile);
    struct stat leftover{};
    const bool intent = ::stat(intent_path.c_str(), &leftover) == 0;
    if (!intent && errno != ENOENT) return io_error("cannot check " + intent_path, errno);
    const bool stale_tmp = ::lstat(tmp_path.c_str(), &leftover) == 0;
    if (intent || stale_tmp) {
      auto update_lock = lock_for_update(abs);
      if (!update_lock) return update_lock.error();
      if (intent) {
        if (auto s = complete_deletion_intent(abs); !s) return s.error();
      }
      // Best effort: the next commit_deletions() clears the way itself.
      if (stale_tmp) ::unlink(tmp_path.c_str());
    }
    if (!options_.use_index) {
      auto scanned = scan_maildir(abs);
      if (!scanned) return scanned.error();
      return std::unique_ptr<Maildrop>(std::make_unique<MaildirDrop>(abs, std::move(scanned->messages)));
    }

    // The clock is read before the stamps: a change after this moment moves them (see
    // maildir::stamp_settled).
    timespec before{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &before);
    std::optional<Stamps> stamps = read_stamps(abs);
    if (stamps) {
      if (auto cached = load_index(abs, *stamps)) {
        return std::unique_ptr<Maildrop>(std::make_unique<MaildirDrop>(abs, std::move(*cached)));
      }
    }
    auto scanned = scan_maildir(abs);
    if (!scanned) return scanned.error();
    // A listing that left an entry out is not cached: made readable, the entry would not change
    // the folders' stamps, and the index would hide it.
    if (stamps && scanned->complete && maildir::stamp_settled(stamps->new_dir, before, options_.index_settle_time) &&
        maildir::stamp_settled(stamps->cur_dir, before, options_.index_settle_time)) {
      save_index(abs, *stamps, scanned->messages);
    }
    return std::unique_ptr<Maildrop>(std::make_unique<MaildirDrop>(abs, std::move(scanned->messages)));
  }

 private:
  maildir::StoreOptions options_;
};

}  // namespace

std::unique_ptr<MailStore> make_maildir_store() { return maildir::make_store(maildir::StoreOptions{}); }

std::unique_ptr<MailStore> maildir::make_store(const maildir::StoreOptions& options) {
  return std::make_unique<MaildirStore>(options);
}

}  // namespace mailroom::storage
