// Maildir MailStore: creates maildirs, delivers (tmp/ -> new/, delivery_writer.cpp) and opens a
// maildir for a session: an interrupted deletion is finished first (deletion_intent.h), then the
// listing is taken (maildir_scan.h) and handed to a maildrop (maildrop.h), which reads messages
// (maildir_reader.h) and commits deletions. How message files are reached without leaving the
// maildir is in message_files.h.
#include "storage/maildir/maildir_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <system_error>
#include <utility>

#include "storage/mail_store.h"
#include "storage/maildir/deletion_intent.h"
#include "storage/maildir/delivery_writer.h"
#include "storage/maildir/fs_util.h"
#include "storage/maildir/lock_file.h"
#include "storage/maildir/maildir_scan.h"
#include "storage/maildir/maildir_usage.h"
#include "storage/maildir/maildrop.h"
#include "storage/maildir/uidl_assign.h"
#include "storage/maildir/unique_fd.h"

namespace mailroom::storage {

namespace {

using maildir::errno_text;
using maildir::fsync_dir;
using maildir::io_error;
using maildir::join;
using maildir::make_dir;

// DIR made absolute, without a trailing '/'.
Result<std::string> absolute_dir(const std::string& dir) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(dir, ec).string();
  if (ec) return make_error(ErrorCode::kIo, "cannot resolve " + dir + ": " + ec.message());
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  return abs;
}

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class MaildirStore final : public MailStore {
 public:
  explicit MaildirStore(const maildir::StoreOptions& options) : options_(options) {}

  Status create_maildir(const std::string& dir) override {
    // Each new entry is made durable by fsyncing the directory that holds it.
    std::vector<std::string> created;
    if (auto s = make_tree(dir, created); !s) return s;
    std::set<std::string> parents;
    for (const auto& c : created) parents.insert(parent_of(c));
    for (const auto& p : parents) {
      if (auto s = fsync_dir(p); !s) return s;
    }
    return {};
  }

  Status create_maildirs(const std::vector<std::string>& dirs) override {
    std::vector<std::string> created;
    for (const auto& dir : dirs) {
      if (auto s = make_tree(dir, created); !s) return s;
    }
    // One syncfs() per file system the new folders are on commits them all.
    std::set<dev_t> synced;
    for (const auto& c : created) {
      struct stat st{};
      if (::stat(c.c_str(), &st) != 0 || !synced.insert(st.st_dev).second) continue;
      UniqueFd fd(::open(c.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!fd.valid() || ::syncfs(fd.get()) != 0) {
        return make_error(ErrorCode::kIo, "cannot sync the file system of " + c + ": " + std::strerror(errno));
      }
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

  Result<std::unique_ptr<MaildropLock>> lock(const std::string& dir) override { return maildir::lock_maildrop(dir); }

  using MailStore::open;
  Result<std::unique_ptr<Maildrop>> open(const std::string& dir, const OpenOptions& open_options) override {
    auto resolved = absolute_dir(dir);
    if (!resolved) return resolved.error();
    const std::string& abs = *resolved;
    struct stat st{};
    if (::stat(abs.c_str(), &st) != 0) {
      int err = errno;
      return make_error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                        "cannot open maildir " + abs + ": " + errno_text(err));
    }
    if (auto s = maildir::finish_interrupted_deletion(abs); !s) return s.error();
    bool complete = true;
    auto messages = maildir::list_maildir(abs, options_, &complete);
    if (!messages) return messages.error();
    if (auto s = maildir::apply_uidls(abs, *messages, complete, open_options.uidl_format.get()); !s) {
      return s.error();
    }
    return maildir::make_maildrop(abs, std::move(messages).value());
  }

  Result<UidlImportReport> import_uidls(const std::string& dir, const uidl::UidlSource& source) override {
    auto resolved = absolute_dir(dir);
    if (!resolved) return resolved.error();
    const std::string& abs = *resolved;
    return maildir::import_uidls(abs, source, options_);
  }

  Result<UidlRepairReport> repair_uidls(const std::string& dir, const uidl::UidlSource* refill) override {
    auto abs = absolute_dir(dir);
    if (!abs) return abs.error();
    return maildir::repair_uidls(*abs, refill, options_);
  }

  Result<MailboxUsage> usage(const std::string& dir) override {
    auto abs = absolute_dir(dir);
    if (!abs) return abs.error();
    return maildir::maildir_usage(*abs, options_);
  }

 private:
  // mkdir -p DIR, then DIR/{cur,new,tmp}; appends what it created to `created` (not yet durable).
  static Status make_tree(const std::string& dir, std::vector<std::string>& created) {
    if (dir.empty()) return make_error(ErrorCode::kInvalidArgument, "empty maildir path");
    std::string path = dir;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
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
    return {};
  }

  maildir::StoreOptions options_;
};

}  // namespace

std::unique_ptr<MailStore> make_maildir_store() { return maildir::make_store(maildir::StoreOptions{}); }

Result<UniqueFd> maildir::lock_for_update(const std::string& dir) {
  return lock_file(join(dir, kUpdateLockFile), /*wait=*/true);
}

std::unique_ptr<MailStore> maildir::make_store(const maildir::StoreOptions& options) {
  return std::make_unique<MaildirStore>(options);
}

}  // namespace mailroom::storage
