// OutboundQueue on disk (see outbound_queue.h): envelopes as JSON files replaced atomically, the
// messages in a Maildir, one flock()ed lock file per entry being worked on.
#include "storage/queue/outbound_queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string_view>
#include <utility>

#include "storage/maildir/delivery_writer.h"
#include "storage/maildir/fs_util.h"
#include "storage/maildir/lock_file.h"
#include "storage/maildir/maildir_name.h"
#include "storage/maildir/maildir_reader.h"
#include "storage/maildir/message_files.h"
#include "storage/queue/queue_envelope.h"
#include "storage/secrets/private_file.h"

namespace mailroom::storage {

namespace {

using maildir::errno_text;
using maildir::io_error;
using maildir::join;

constexpr std::string_view kEnvelopeSuffix = ".json";
constexpr std::string_view kTempMarker = ".json.tmp-";  // write_file_atomically's temporary files
class FileEntryLock final : public QueueEntryLock {
 public:
  explicit FileEntryLock(UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  UniqueFd fd_;
};

bool exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

// The file's age in seconds relative to `now` (by its mtime), or nullopt if it cannot be stat()ed.
std::optional<int64_t> age_of(int folder, const char* name, int64_t now) {
  struct stat st{};
  if (::fstatat(folder, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
  return now - static_cast<int64_t>(st.st_mtime);
}

// The names in an open directory (`path` for errors), "." and ".." left out.
Result<std::vector<std::string>> names_in(int folder, const std::string& path) {
  std::vector<std::string> names;
  auto s = maildir::for_each_dir_entry(folder, path, [&](const dirent& e) {
    std::string_view name = e.d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  });
  if (!s) return s.error();
  return names;
}

}  // namespace

OutboundQueue::OutboundQueue(std::string dir) : dir_(std::move(dir)) {}

std::string OutboundQueue::messages_maildir() const { return join(dir_, "messages"); }

namespace {

struct Paths {
  std::string envelopes, locks;
};

Paths paths_of(const std::string& dir) { return {join(dir, "envelopes"), join(dir, "locks")}; }

std::string envelope_path(const std::string& dir, const std::string& id) {
  return join(join(dir, "envelopes"), id + std::string(kEnvelopeSuffix));
}

Error no_such_entry(const std::string& id) {
  return make_error(ErrorCode::kNotFound, "no queued message '" + id + "' (see 'mailctl queue list')");
}

// Reads an envelope file, at most kMaxEnvelopeBytes of it: kNotFound if missing, kIo for an
// unreadable or broken one (the message says why).
Result<QueueEntry> load_envelope(const std::string& path, const std::string& messages_maildir) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) return make_error(ErrorCode::kNotFound, "no envelope " + path);
    return io_error("broken envelope " + path + ": cannot open it", err);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return io_error("broken envelope " + path + ": cannot stat it", errno);
  if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::kIo, "broken envelope " + path + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxEnvelopeBytes) {
    return make_error(ErrorCode::kIo, "broken envelope " + path + ": " + std::to_string(st.st_size) +
                                          " bytes (the limit is " + std::to_string(kMaxEnvelopeBytes) + ")");
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("broken envelope " + path + ": cannot read it", errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  auto entry = parse_envelope(text, messages_maildir);
  if (!entry) return make_error(ErrorCode::kIo, "broken envelope " + path + ": " + entry.error().message);
  return entry;
}

// The serialised envelope, refused when it would be over the size list() reads.
Result<std::string> checked_envelope_text(const QueueEntry& entry) {
  std::string text = envelope_text(entry);
  if (text.size() > kMaxEnvelopeBytes) {
    return make_error(ErrorCode::kInvalidArgument, "the envelope of " + entry.id + " would be " +
                                                       std::to_string(text.size()) + " bytes (the limit is " +
                                                       std::to_string(kMaxEnvelopeBytes) + ")");
  }
  return text;
}

}  // namespace

Status OutboundQueue::ensure_dirs() const {
  if (auto s = make_maildir_store()->create_maildir(messages_maildir()); !s) return s;
  const Paths p = paths_of(dir_);
  bool created = false;
  for (const std::string* d : {&p.envelopes, &p.locks}) {
    auto r = maildir::make_dir(*d);
    if (!r) return r.error();
    created = created || *r;
  }
  if (created) return maildir::fsync_dir(dir_);
  return {};
}

Result<QueueEntry> OutboundQueue::enqueue(const DeliveredMessage& copy, const std::string& sender,
                                          const std::vector<std::string>& recipients, int64_t now) const {
  const std::string new_dir = join(messages_maildir(), "new");
  const std::size_t slash = copy.path.rfind('/');
  if (slash == std::string::npos || copy.path.substr(0, slash) != new_dir) {
    // Not ours to remove: a message outside the queue's Maildir is refused and left alone.
    return make_error(ErrorCode::kInvalidArgument, "cannot queue " + copy.path + ": not in " + new_dir);
  }
  const std::string name = copy.path.substr(slash + 1);
  auto fail = [&](Error error) -> Result<QueueEntry> {
    ::unlink(copy.path.c_str());
    (void)maildir::fsync_dir(new_dir);  // best effort: an orphan left by a crash is removed later
    return error;
  };
  if (recipients.empty()) return fail(make_error(ErrorCode::kInvalidArgument, "no recipients to queue"));
  QueueEntry entry;
  entry.id = queue_id_for_message(name);
  if (!queue_id_ok(entry.id)) return fail(make_error(ErrorCode::kInvalidArgument, "cannot name a queue entry for " + name));
  entry.sender = sender;
  for (const auto& r : recipients) entry.recipients.push_back({r, RecipientState::kPending, ""});
  entry.size = copy.wire_size;
  entry.queued_at = now;
  entry.message_path = copy.path;
  const std::string path = envelope_path(dir_, entry.id);
  if (exists(path)) {
    // Ids are unique delivery names: this is that entry's own file, never removed here.
    return make_error(ErrorCode::kAlreadyExists, "queue entry " + entry.id + " exists already");
  }
  if (auto s = ensure_dirs(); !s) return fail(s.error());
  auto text = checked_envelope_text(entry);
  if (!text) return fail(text.error());
  // write_file_atomically: the file synced, renamed into place, envelopes/ synced. The message
  // was made durable by commit_to() before: once this returns ok, both survive a crash.
  if (auto s = write_file_atomically(path, *text, 0600); !s) return fail(s.error());
  return entry;
}

Result<std::vector<QueueEntry>> OutboundQueue::list() const {
  const Paths p = paths_of(dir_);
  std::vector<QueueEntry> entries;
  UniqueFd folder(::open(p.envelopes.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!folder.valid()) {
    if (errno == ENOENT) return entries;  // nothing was ever queued
    return io_error("cannot list " + p.envelopes, errno);
  }
  auto names = names_in(folder.get(), p.envelopes);
  if (!names) return names.error();
  for (const std::string& file : *names) {
    std::string_view name = file;
    if (name.size() <= kEnvelopeSuffix.size() || !name.ends_with(kEnvelopeSuffix)) continue;
    std::string id(name.substr(0, name.size() - kEnvelopeSuffix.size()));
    if (!queue_id_ok(id)) continue;
    auto entry = load_envelope(join(p.envelopes, file), messages_maildir());
    if (entry) {
      entries.push_back(std::move(entry).value());
      continue;
    }
    if (entry.error().code == ErrorCode::kNotFound) continue;  // removed while we listed
    QueueEntry broken;
    broken.id = std::move(id);
    broken.last_error = entry.error().message;
    struct stat st{};
    if (::fstatat(folder.get(), file.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) broken.queued_at = st.st_mtime;
    entries.push_back(std::move(broken));
  }
  std::sort(entries.begin(), entries.end(), [](const QueueEntry& a, const QueueEntry& b) {
    return a.queued_at != b.queued_at ? a.queued_at < b.queued_at : a.id < b.id;
  });
  return entries;
}

Result<QueueEntry> OutboundQueue::get(const std::string& id) const {
  if (!queue_id_ok(id)) return no_such_entry(id);
  auto entry = load_envelope(envelope_path(dir_, id), messages_maildir());
  if (!entry && entry.error().code == ErrorCode::kNotFound) return no_such_entry(id);
  return entry;
}

Result<std::unique_ptr<QueueEntryLock>> OutboundQueue::lock(const std::string& id) const {
  if (!queue_id_ok(id)) return no_such_entry(id);
  const std::string envelope = envelope_path(dir_, id);
  if (!exists(envelope)) return no_such_entry(id);
  const std::string lock_path = join(paths_of(dir_).locks, id);
  auto fd = lock_file(lock_path, /*wait=*/false);
  if (!fd) {
    if (fd.error().code == ErrorCode::kInUse) {
      return make_error(ErrorCode::kInUse, "queued message " + id + " is being worked on");
    }
    return fd.error();
  }
  if (!exists(envelope)) {  // removed between the check and the lock: its lock file goes too
    ::unlink(lock_path.c_str());
    return no_such_entry(id);
  }
  return std::unique_ptr<QueueEntryLock>(std::make_unique<FileEntryLock>(std::move(fd).value()));
}

Status OutboundQueue::update(const QueueEntry& entry) const {
  if (!queue_id_ok(entry.id)) return no_such_entry(entry.id);
  const std::string path = envelope_path(dir_, entry.id);
  if (!exists(path)) return no_such_entry(entry.id);
  auto text = checked_envelope_text(entry);
  if (!text) return text.error();
  return write_file_atomically(path, *text, 0600);
}

Status OutboundQueue::remove(const QueueEntry& entry) const {
  if (!queue_id_ok(entry.id)) return no_such_entry(entry.id);
  const Paths p = paths_of(dir_);
  const std::string envelope = envelope_path(dir_, entry.id);
  if (::unlink(envelope.c_str()) != 0) {
    if (errno == ENOENT) return no_such_entry(entry.id);
    return io_error("cannot remove " + envelope, errno);
  }
  // No longer queued, durably, before the message goes: a crash in between leaves an orphan.
  if (auto s = maildir::fsync_dir(p.envelopes); !s) return s;
  std::vector<std::string> messages;
  if (!entry.message_path.empty()) {
    messages.push_back(entry.message_path);
  } else {  // a broken envelope: its message is the file whose name gives this id
    for (const char* sub : maildir::kMessageFolders) {
      auto folder = maildir::open_folder(messages_maildir(), sub);
      if (!folder) continue;
      const std::string fpath = join(messages_maildir(), sub);
      (void)maildir::for_each_message_file(folder->get(), fpath, [&](std::string_view name) {
        if (queue_id_for_message(name) == entry.id) messages.push_back(join(fpath, std::string(name)));
      });
    }
  }
  for (const auto& m : messages) {
    if (::unlink(m.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove " + m, errno);
    (void)maildir::fsync_dir(m.substr(0, m.rfind('/')));  // an undone unlink is only an orphan
  }
  // The lock file goes while the caller holds it: whoever opens it later finds no envelope.
  ::unlink(join(p.locks, entry.id).c_str());
  return {};
}

Result<std::unique_ptr<MessageReader>> OutboundQueue::open_message(const QueueEntry& entry, WireMode mode) const {
  const std::string& path = entry.message_path;
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash < 3) return make_error(ErrorCode::kIo, "no message file for " + entry.id);
  const std::string sub = path.substr(slash - 3, 3);
  if ((sub != "new" && sub != "cur") || path.substr(0, slash - 3) != join(messages_maildir(), "")) {
    return make_error(ErrorCode::kIo, "message file of " + entry.id + " is outside the queue: " + path);
  }
  auto folder = maildir::open_folder(messages_maildir(), sub);
  if (!folder) return folder.error();
  auto file = maildir::open_message_file(folder->get(), std::string_view(path).substr(slash + 1), path);
  if (!file) return file.error();
  return maildir::make_message_reader(std::move(file->fd), path, mode, file->size);
}

Result<std::size_t> OutboundQueue::remove_orphans(int64_t now, int64_t min_age_seconds) const {
  std::size_t removed = 0;
  const Paths p = paths_of(dir_);
  // Message files with no envelope: an enqueue a crash interrupted.
  for (const char* sub : maildir::kMessageFolders) {
    auto folder = maildir::open_folder(messages_maildir(), sub);
    if (!folder) {
      if (folder.error().code == ErrorCode::kNotFound) continue;
      return folder.error();
    }
    const std::string fpath = join(messages_maildir(), sub);
    std::vector<std::string> orphans;
    auto s = maildir::for_each_message_file(folder->get(), fpath, [&](std::string_view name) {
      std::string id = queue_id_for_message(name);
      if (queue_id_ok(id) && exists(envelope_path(dir_, id))) return;
      std::string n(name);
      auto age = age_of(folder->get(), n.c_str(), now);
      if (age && *age >= min_age_seconds) orphans.push_back(std::move(n));
    });
    if (!s) return s.error();
    for (const auto& n : orphans) {
      if (::unlinkat(folder->get(), n.c_str(), 0) == 0) ++removed;
    }
    if (!orphans.empty()) (void)maildir::fsync_dir(fpath);
  }
  // Deliveries into the queue's Maildir that a crash interrupted (their writer gone).
  if (exists(join(messages_maildir(), "tmp"))) {
    auto tmp = maildir::remove_stale_tmp(messages_maildir(), std::chrono::seconds(std::max<int64_t>(min_age_seconds, 0)));
    if (!tmp) return tmp.error();
    removed += *tmp;
  }
  // Left-overs that are not messages: temporary envelopes of an interrupted update, lock files
  // of entries that are gone (a crash inside remove()). Not counted.
  for (const std::string* d : {&p.envelopes, &p.locks}) {
    UniqueFd folder(::open(d->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!folder.valid()) continue;
    auto names = names_in(folder.get(), *d);
    if (!names) continue;
    for (const auto& n : *names) {
      if (d == &p.envelopes) {
        if (n.find(kTempMarker) == std::string::npos) continue;
        auto age = age_of(folder.get(), n.c_str(), now);
        if (age && *age >= min_age_seconds) ::unlinkat(folder.get(), n.c_str(), 0);
      } else if (queue_id_ok(n) && !exists(envelope_path(dir_, n))) {
        auto held = lock_file(join(*d, n), /*wait=*/false);
        if (held && !exists(envelope_path(dir_, n))) ::unlinkat(folder.get(), n.c_str(), 0);
      }
    }
  }
  return removed;
}

}  // namespace mailroom::storage
