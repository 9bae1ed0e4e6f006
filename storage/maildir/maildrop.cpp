// Maildrop: a session's view of one Maildir (listing, message opens, deletions) and its lock.
#include "storage/maildir/maildrop.h"

#include <linux/openat2.h>
#include <sys/syscall.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "storage/maildir/deletion_intent.h"
#include "storage/maildir/fs_util.h"
#include "storage/maildir/maildir_name.h"
#include "storage/maildir/maildir_reader.h"
#include "storage/maildir/message_files.h"
#include "storage/maildir/retrieval_record.h"
#include "storage/maildir/unique_fd.h"

namespace mailroom::storage::maildir {

namespace {

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
    return make_message_reader(std::move(file->fd), path, mode, size);
  }

  Status commit_deletions(const std::vector<std::size_t>& indexes) override {
    if (indexes.empty()) return {};
    std::string list;
    for (std::size_t i : indexes) {
      if (i >= messages().size()) {
        return make_error(ErrorCode::kInvalidArgument, "no message " + std::to_string(i + 1));
      }
      list += relative_path(i);
      list += '\n';
    }
    return delete_with_intent(dir_, list);
  }

  Result<Retrievals> read_retrievals() const override { return maildir::read_retrievals(dir_); }
  Status write_retrievals(const Retrievals& record) override { return maildir::write_retrievals(dir_, record); }

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

}  // namespace

std::unique_ptr<Maildrop> make_maildrop(std::string dir, std::vector<MessageInfo> messages) {
  return std::make_unique<MaildirDrop>(std::move(dir), std::move(messages));
}

Result<std::unique_ptr<MaildropLock>> lock_maildrop(const std::string& dir) {
  // The real path, so two spellings of one maildir (a trailing '/', a symlink) are one lock.
  std::error_code ec;
  std::string key = std::filesystem::canonical(dir, ec).string();
  if (ec) return make_error(ErrorCode::kIo, "cannot lock maildir " + dir + ": " + ec.message());
  if (!LockRegistry::instance().acquire(key)) {
    return make_error(ErrorCode::kInUse, "mailbox is in use by another session");
  }
  return std::unique_ptr<MaildropLock>(std::make_unique<MaildirLock>(std::move(key)));
}

}  // namespace mailroom::storage::maildir
