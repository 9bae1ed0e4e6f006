// Maildir MailStore: atomic delivery (tmp/ -> new/), listing in delivery order, streaming
// reads in wire form, crash-safe deletion through a durable intent file, flock()-based locking.
#include "storage/maildir/maildir_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "storage/mail_store.h"
#include "storage/maildir/maildir_name.h"
#include "storage/maildir/unique_fd.h"
#include "storage/maildir/wire_form.h"

namespace mailroom::storage {

namespace {

using maildir::kDeleteIntentFile;
using maildir::kDeleteIntentTmpFile;
using maildir::kLockFile;

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr const char* kSubdirs[] = {"new", "cur"};

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

Error io_error(const std::string& what, int err) {
  return make_error(ErrorCode::kIo, what + ": " + errno_text(err));
}

std::string join(const std::string& a, const std::string& b) {
  if (a.empty() || a.back() == '/') return a + b;
  return a + "/" + b;
}

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status fsync_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return io_error("cannot open directory " + path, errno);
  if (::fsync(fd.get()) != 0) return io_error("cannot fsync directory " + path, errno);
  return {};
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write " + path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// Reads a whole (small) file; used only for the deletion intent list.
Result<std::string> read_small_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return io_error("cannot open " + path, errno);
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

// Message files in DIR/SUBDIR: regular files, no dot files, and no names our intent-file
// format could not carry (a newline).
Result<std::vector<std::string>> list_messages(const std::string& dir, const std::string& subdir) {
  std::string path = join(dir, subdir);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(path.c_str()), &::closedir);
  if (!d) {
    int err = errno;
    return make_error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                      "cannot list " + path + ": " + errno_text(err));
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(d.get());
    if (e == nullptr) {
      if (errno != 0) return io_error("cannot list " + path, errno);
      break;
    }
    std::string_view name = e->d_name;
    if (name.empty() || name[0] == '.' || name.find('\n') != std::string_view::npos) continue;
    bool regular = e->d_type == DT_REG;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st{};
      regular = ::fstatat(dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    }
    if (regular) names.emplace_back(name);
  }
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
  std::vector<std::string> missing;
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    // Only "new/NAME" or "cur/NAME": a damaged intent must not unlink anything else.
    if (line.size() < 5 || (line.substr(0, 4) != "new/" && line.substr(0, 4) != "cur/")) continue;
    std::string_view name = line.substr(4);
    if (name[0] == '.' || name.find('/') != std::string_view::npos) continue;
    std::string path = join(dir, std::string(line));
    if (::unlink(path.c_str()) == 0) continue;
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
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot delete " + path, errno);
    }
  }
  for (const char* sub : kSubdirs) {
    if (auto s = fsync_dir(join(dir, sub)); !s) return s;
  }
  if (::unlink(intent_path.c_str()) != 0 && errno != ENOENT) {
    return io_error("cannot remove " + intent_path, errno);
  }
  return fsync_dir(dir);
}

class MaildirMessageReader final : public MessageReader {
 public:
  explicit MaildirMessageReader(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {
    // Most messages are a few KiB: a buffer the size of the file (not a whole chunk) saves
    // zero-filling 64 KiB per RETR, which showed up in profiles of many small sessions.
    struct stat st {};
    chunk_ = kReadChunk;
    if (::fstat(fd_.get(), &st) == 0 && st.st_size >= 0) {
      chunk_ = std::clamp<std::size_t>(static_cast<std::size_t>(st.st_size) + 1, 512, kReadChunk);
    }
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
      buf_.resize(chunk_);
      ssize_t n = ::read(fd_.get(), buf_.data(), buf_.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("cannot read " + path_, errno);
      }
      if (n == 0) {
        eof_ = true;
        encoder_.finish(pending_);
        continue;
      }
      encoder_.encode(std::string_view(buf_.data(), static_cast<std::size_t>(n)), pending_);
    }
    return appended;
  }

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

// Wire size of a file whose name carries no W= tag: read and count it.
Result<uint64_t> compute_wire_size(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return io_error("cannot open " + path, errno);
  maildir::WireEncoder encoder;
  std::string buf(kReadChunk, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
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

class MaildirLock final : public MaildropLock {
 public:
  explicit MaildirLock(UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  UniqueFd fd_;  // closing it releases the flock
};

class MaildirDrop final : public Maildrop {
 public:
  struct Entry {
    std::string rel;  // "new/NAME" or "cur/NAME" as listed
    std::string stem;
  };

  MaildirDrop(std::string dir, std::vector<MessageInfo> messages, std::vector<Entry> entries)
      : dir_(std::move(dir)), messages_(std::move(messages)), entries_(std::move(entries)) {}

  const std::vector<MessageInfo>& messages() const override { return messages_; }

  Result<std::unique_ptr<MessageReader>> open_message(std::size_t index) override {
    if (index >= messages_.size()) {
      return make_error(ErrorCode::kInvalidArgument, "no message " + std::to_string(index + 1));
    }
    std::string path = messages_[index].path;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid() && errno == ENOENT) {
      // Another client may have moved it to cur/ (and renamed it with flags) since we listed.
      auto where = index_by_stem(dir_);
      if (!where) return where.error();
      auto it = where->find(entries_[index].stem);
      if (it == where->end()) {
        return make_error(ErrorCode::kNotFound, "message " + std::to_string(index + 1) +
                                                    " was removed by another client");
      }
      path = join(dir_, it->second);
      fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    }
    if (!fd.valid()) return io_error("cannot open " + path, errno);
    return std::unique_ptr<MessageReader>(std::make_unique<MaildirMessageReader>(std::move(fd), path));
  }

  Status commit_deletions(const std::vector<std::size_t>& indexes) override {
    if (indexes.empty()) return {};
    std::string list;
    for (std::size_t i : indexes) {
      if (i >= entries_.size()) {
        return make_error(ErrorCode::kInvalidArgument, "no message " + std::to_string(i + 1));
      }
      list += entries_[i].rel;
      list += '\n';
    }
    // The intent is durable before the first unlink, so a crash half-way is finished by open().
    std::string tmp_path = join(dir_, kDeleteIntentTmpFile);
    std::string intent_path = join(dir_, kDeleteIntentFile);
    {
      UniqueFd fd(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
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
  std::string dir_;
  std::vector<MessageInfo> messages_;
  std::vector<Entry> entries_;  // parallel to messages_
};

class MaildirStore final : public MailStore {
 public:
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

  Result<std::string> deliver(const std::string& dir, std::string_view message) override {
    const std::string name = maildir::make_unique_name();
    const std::string stored = maildir::normalise_line_endings(message);
    const uint64_t wire = maildir::wire_size_of(stored);
    const std::string tmp_path = join(join(dir, "tmp"), name);
    const std::string final_name = name + ",S=" + std::to_string(stored.size()) + ",W=" + std::to_string(wire);
    const std::string new_dir = join(dir, "new");
    const std::string final_path = join(new_dir, final_name);

    UniqueFd fd(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) return io_error("cannot deliver to " + dir + ": cannot create " + tmp_path, errno);
    Status s = write_all(fd.get(), stored, tmp_path);
    if (s && ::fsync(fd.get()) != 0) s = io_error("cannot fsync " + tmp_path, errno);
    if (s && fd.close() != 0) s = io_error("cannot close " + tmp_path, errno);
    if (s && ::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
      s = io_error("cannot move " + tmp_path + " to new/", errno);
    }
    if (!s) {
      fd.reset();
      ::unlink(tmp_path.c_str());
      return s.error();
    }
    if (auto synced = fsync_dir(new_dir); !synced) {
      // Not known to be durable: withdraw it rather than acknowledge a message we may lose.
      ::unlink(final_path.c_str());
      return synced.error();
    }
    return maildir::uid_from_name(final_name);
  }

  Result<std::unique_ptr<MaildropLock>> lock(const std::string& dir) override {
    std::string path = join(dir, kLockFile);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) return io_error("cannot open lock file " + path, errno);
    for (;;) {
      if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) break;
      if (errno == EINTR) continue;
      if (errno == EWOULDBLOCK) return make_error(ErrorCode::kInUse, "mailbox is in use by another session");
      return io_error("cannot lock " + path, errno);
    }
    return std::unique_ptr<MaildropLock>(std::make_unique<MaildirLock>(std::move(fd)));
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
    if (auto s = complete_deletion_intent(abs); !s) return s.error();

    struct Listed {
      std::string name;
      std::string sub;
    };
    // new/ first, then cur/: a message moved between the two listings shows up in cur/ as
    // well, and the later (cur/) sighting replaces the stale one.
    std::map<std::string, Listed> by_stem;
    for (const char* sub : kSubdirs) {
      auto names = list_messages(abs, sub);
      if (!names) return names.error();
      for (auto& n : *names) {
        std::string stem(maildir::name_stem(n));
        by_stem[stem] = Listed{std::move(n), sub};
      }
    }
    std::vector<Listed> listed;
    listed.reserve(by_stem.size());
    for (auto& [stem, l] : by_stem) listed.push_back(std::move(l));
    std::sort(listed.begin(), listed.end(), [](const Listed& a, const Listed& b) {
      return maildir::delivery_order_less(a.name, b.name);
    });

    std::vector<MessageInfo> messages;
    std::vector<MaildirDrop::Entry> entries;
    std::set<std::string> uids;
    for (auto& l : listed) {
      MessageInfo info;
      info.path = join(join(abs, l.sub), l.name);
      if (auto w = maildir::wire_size_from_name(l.name)) {
        info.size = *w;
      } else {
        auto computed = compute_wire_size(info.path);
        if (!computed) {
          if (::access(info.path.c_str(), F_OK) != 0 && errno == ENOENT) continue;  // just deleted
          return computed.error();
        }
        info.size = *computed;
      }
      info.uid = maildir::uid_from_name(l.name);
      // Two names with one base ("x,S=1" and "x,S=2", copied in by hand) would share a UIDL;
      // the later one takes the hash of its whole stem, which survives moves to cur/ too.
      if (uids.count(info.uid) != 0) info.uid = maildir::sha1_hex(maildir::name_stem(l.name));
      uids.insert(info.uid);
      std::string stem(maildir::name_stem(l.name));
      entries.push_back({l.sub + "/" + l.name, std::move(stem)});
      messages.push_back(std::move(info));
    }
    return std::unique_ptr<Maildrop>(std::make_unique<MaildirDrop>(abs, std::move(messages), std::move(entries)));
  }
};

}  // namespace

std::unique_ptr<MailStore> make_maildir_store() { return std::make_unique<MaildirStore>(); }

}  // namespace mailroom::storage
