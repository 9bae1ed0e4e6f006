// Maildir delivery: the message streams into DIR/tmp/<unique> (CRLF -> LF, wire size counted as
// it goes), and commit fsyncs the file, links or renames it into new/ of every target under
// "<unique>,S=<stored>,W=<wire>" and fsyncs each new/, so a copy is acknowledged only once both
// its data and its directory entry are durable. Whatever fails, nothing is left in tmp/ or new/.
#include "storage/maildir/delivery_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <ctime>
#include <optional>
#include <utility>

#include "storage/maildir/fs_util.h"
#include "storage/maildir/maildir_name.h"
#include "storage/maildir/unique_fd.h"
#include "storage/maildir/wire_form.h"

namespace mailroom::storage::maildir {

namespace {

// A full disk or quota is worth a retry later (SMTP 452), unlike other I/O errors.
Error write_error(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return make_error(ErrorCode::kTemporary, what + ": " + errno_text(err) + " (disk full or over quota)");
  }
  return io_error(what, err);
}

// Why link() may fail where a copy still works: another file system, or one without hard links
// (or with a link-count limit reached).
bool link_impossible(int err) { return err == EXDEV || err == EPERM || err == EMLINK || err == ENOTSUP; }

// A writer holds flock(LOCK_EX) on its tmp file (through a descriptor of its own, so closing
// the written one before the commit keeps it) until the file is renamed or removed: the start-up
// sweep removes a young file only if it can take that lock, so a live writer keeps its file even
// where its pid cannot be checked (another PID namespace, another host on shared storage).
// Invalid when the file system has no flock(): the sweep then leaves young files alone.
UniqueFd lock_tmp_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid() && ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) fd.reset();
  return fd;
}

std::string stored_name(const std::string& unique, uint64_t stored, uint64_t wire) {
  return unique + ",S=" + std::to_string(stored) + ",W=" + std::to_string(wire);
}

class MaildirDeliveryWriter final : public DeliveryWriter {
 public:
  MaildirDeliveryWriter(std::string dir, std::string unique, std::string tmp_path, UniqueFd fd,
                        const DeliveryLimits& limits)
      : dir_(std::move(dir)), unique_(std::move(unique)), tmp_path_(std::move(tmp_path)), fd_(std::move(fd)),
        lock_(lock_tmp_file(tmp_path_)), limits_(limits) {
    buffer_.reserve(kDeliveryWriteChunk + kDeliveryWriteChunk / 8);
  }
  ~MaildirDeliveryWriter() override { abort(); }
  MaildirDeliveryWriter(const MaildirDeliveryWriter&) = delete;
  MaildirDeliveryWriter& operator=(const MaildirDeliveryWriter&) = delete;

  Status append(std::string_view chunk) override {
    if (auto s = usable(); !s) return s;
    // In slices, so one large append (deliver() of a message in memory) still buffers at most
    // one slice's stored form.
    while (!chunk.empty()) {
      const std::string_view slice = chunk.substr(0, kDeliveryWriteChunk);
      chunk.remove_prefix(slice.size());
      const std::size_t before = buffer_.size();
      normaliser_.feed(slice, buffer_);
      if (auto s = took(before); !s) return s;
      if (buffer_.size() >= kDeliveryWriteChunk) {
        if (auto s = flush(); !s) return s;
      }
    }
    return {};
  }

  uint64_t wire_size() const override { return counter_.wire_size(); }

  Result<DeliveredMessage> commit() override {
    auto results = commit_to({dir_});
    if (!results) return results.error();
    return std::move(results->front());
  }

  Result<std::vector<Result<DeliveredMessage>>> commit_to(const std::vector<std::string>& maildirs) override {
    if (auto s = usable(); !s) return s.error();
    if (maildirs.empty()) return fail(make_error(ErrorCode::kInvalidArgument, "delivery to no maildir"));
    // The text may end in a held-back CR, and its wire form in a CRLF the file does not hold.
    const std::size_t before = buffer_.size();
    normaliser_.finish(buffer_);
    if (auto s = took(before); !s) return s.error();
    std::string unused;
    counter_.finish(unused);
    if (auto s = check_cap(); !s) return s.error();
    if (auto s = flush(); !s) return s.error();
    if (::fsync(fd_.get()) != 0) {
      const int err = errno;
      return fail(write_error("cannot deliver to " + dir_ + ": cannot fsync " + tmp_path_, err));
    }
    if (fd_.close() != 0) {
      const int err = errno;
      return fail(write_error("cannot deliver to " + dir_ + ": cannot close " + tmp_path_, err));
    }
    buffer_ = std::string();

    std::vector<Result<DeliveredMessage>> results;
    results.reserve(maildirs.size());
    bool tmp_left = true;
    for (std::size_t i = 0; i < maildirs.size(); ++i) {
      // The last copy takes the tmp file itself (a rename, as a single delivery always did).
      const bool last = i + 1 == maildirs.size();
      results.push_back(place(maildirs[i], i == 0 ? unique_ : make_unique_name(), last, tmp_left));
    }
    if (tmp_left) ::unlink(tmp_path_.c_str());
    lock_.reset();
    state_ = State::kDone;
    return results;
  }

  void abort() override {
    if (state_ == State::kOpen) {
      fd_.reset();
      ::unlink(tmp_path_.c_str());
    }
    lock_.reset();
    if (state_ != State::kFailed) state_ = State::kDone;
  }

 private:
  enum class State { kOpen, kFailed, kDone };

  Status usable() const {
    if (state_ == State::kFailed) return *failure_;
    if (state_ == State::kDone) return make_error(ErrorCode::kInternal, "delivery already committed or aborted");
    return {};
  }

  // Gives up: the tmp file goes, and the error is what every later call returns.
  Error fail(Error error) {
    fd_.reset();
    ::unlink(tmp_path_.c_str());
    lock_.reset();
    buffer_ = std::string();
    failure_ = error;
    state_ = State::kFailed;
    return error;
  }

  // Counts the stored bytes added to the buffer since `before` and checks the cap before any of
  // them is written.
  Status took(std::size_t before) {
    const std::string_view added = std::string_view(buffer_).substr(before);
    counter_.count(added);
    stored_size_ += added.size();
    return check_cap();
  }

  Status check_cap() {
    if (counter_.wire_size() <= limits_.max_wire_size) return {};
    return fail(make_error(ErrorCode::kPermanent, "message exceeds the size limit of " +
                                                      std::to_string(limits_.max_wire_size) + " bytes"));
  }

  Status flush() {
    if (buffer_.empty()) return {};
    if (int err = write_fully(fd_.get(), buffer_); err != 0) {
      return fail(write_error("cannot deliver to " + dir_ + ": cannot write " + tmp_path_, err));
    }
    buffer_.clear();
    return {};
  }

  // Puts one copy into DIR/new/. `take` moves the tmp file there (after which `tmp_left` is
  // false); otherwise it is linked, or copied where it cannot be.
  Result<DeliveredMessage> place(const std::string& dir, const std::string& unique, bool take, bool& tmp_left) {
    const uint64_t wire = counter_.wire_size();
    const std::string name = stored_name(unique, stored_size_, wire);
    const std::string new_dir = join(dir, "new");
    const std::string path = join(new_dir, name);
    const int rc = take ? ::rename(tmp_path_.c_str(), path.c_str()) : ::link(tmp_path_.c_str(), path.c_str());
    const int err = errno;
    if (rc == 0) {
      tmp_left = tmp_left && !take;
    } else if (link_impossible(err)) {
      if (auto s = copy_into(dir, path); !s) return s.error();
    } else {
      // ENOSPC here is a directory that cannot grow (or, on tmpfs, no inode left for the link).
      return write_error("cannot deliver to " + dir + ": cannot move " + tmp_path_ + " to " + path, err);
    }
    if (auto synced = fsync_dir(new_dir); !synced) {
      // Not known to be durable: withdraw it rather than acknowledge a message we may lose.
      ::unlink(path.c_str());
      return synced.error();
    }
    return DeliveredMessage{dir, uid_from_name(name), path, stored_size_, wire};
  }

  // The copy where no link can be made: a new file in DIR/tmp/ (a name of its own: DIR may be
  // the maildir whose tmp/ holds the message itself), written from the fsynced tmp file, fsynced,
  // renamed to `path`. It is locked like the tmp file while it exists (see remove_stale_tmp).
  Status copy_into(const std::string& dir, const std::string& path) {
    const std::string copy_tmp = join(join(dir, "tmp"), make_unique_name());
    UniqueFd in(::open(tmp_path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in.valid()) return io_error("cannot reopen " + tmp_path_, errno);
    UniqueFd out(::open(copy_tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out.valid()) return write_error("cannot deliver to " + dir + ": cannot create " + copy_tmp, errno);
    UniqueFd held = lock_tmp_file(copy_tmp);  // released when this copy is renamed or removed
    Status s;
    std::string chunk(kDeliveryWriteChunk, '\0');
    for (;;) {
      ssize_t n = ::read(in.get(), chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        s = io_error("cannot read " + tmp_path_, errno);
        break;
      }
      if (n == 0) break;
      if (int err = write_fully(out.get(), std::string_view(chunk.data(), static_cast<std::size_t>(n))); err != 0) {
        s = write_error("cannot deliver to " + dir + ": cannot write " + copy_tmp, err);
        break;
      }
    }
    if (s && ::fsync(out.get()) != 0) s = write_error("cannot fsync " + copy_tmp, errno);
    if (s && out.close() != 0) s = write_error("cannot close " + copy_tmp, errno);
    if (s && ::rename(copy_tmp.c_str(), path.c_str()) != 0) {
      s = write_error("cannot deliver to " + dir + ": cannot move " + copy_tmp + " to new/", errno);
    }
    if (!s) ::unlink(copy_tmp.c_str());
    return s;
  }

  const std::string dir_;
  const std::string unique_;
  const std::string tmp_path_;
  UniqueFd fd_;
  UniqueFd lock_;  // holds flock(LOCK_EX) on the tmp file while it may exist
  const DeliveryLimits limits_;
  LineEndingNormaliser normaliser_;
  WireEncoder counter_;       // counts the wire size of the stored bytes
  std::string buffer_;        // stored bytes not yet written
  uint64_t stored_size_ = 0;  // written and buffered
  State state_ = State::kOpen;
  std::optional<Error> failure_;
};

}  // namespace

Result<std::unique_ptr<DeliveryWriter>> begin_delivery(const std::string& dir, const DeliveryLimits& limits) {
  std::string unique = make_unique_name();
  std::string tmp_path = join(join(dir, "tmp"), unique);
  UniqueFd fd(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    const int err = errno;
    return write_error("cannot deliver to " + dir + ": cannot create " + tmp_path, err);
  }
  return std::unique_ptr<DeliveryWriter>(
      std::make_unique<MaildirDeliveryWriter>(dir, std::move(unique), std::move(tmp_path), std::move(fd), limits));
}

namespace {

// A tmp/ file whose name says a process of this host wrote it, and that process is gone: a
// delivery a crash or a kill interrupted (never acknowledged, never visible). A pid reused since
// only keeps the file until it is old enough.
// Both must hold: the pid in the name runs no more, and nobody holds the file's lock (a writer
// in another PID namespace with this host name, or on another host of that name).
bool orphaned(int folder, const char* file, std::string_view name) {
  const auto writer = name_writer(name);
  if (!writer || writer->host != sanitized_hostname() || writer->pid <= 0) return false;
  if (writer->pid == static_cast<long long>(::getpid())) return false;  // ours: may be running
  if (::kill(static_cast<pid_t>(writer->pid), 0) == 0 || errno != ESRCH) return false;
  UniqueFd fd(::openat(folder, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  return fd.valid() && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;  // unknown: keep it
}

}  // namespace

Result<std::size_t> remove_stale_tmp(const std::string& dir, std::chrono::seconds min_age) {
  const std::string tmp_dir = join(dir, "tmp");
  UniqueFd folder(::open(tmp_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!folder.valid()) return io_error("cannot open " + tmp_dir, errno);
  // fdopendir() takes its descriptor over: it gets a duplicate, the folder stays for unlinkat().
  const int copy = ::fcntl(folder.get(), F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return io_error("cannot list " + tmp_dir, errno);
  const std::unique_ptr<DIR, int (*)(DIR*)> listing(::fdopendir(copy), &::closedir);
  if (!listing) {
    const int err = errno;
    ::close(copy);
    return io_error("cannot list " + tmp_dir, err);
  }
  DIR* d = listing.get();
  const time_t cutoff = ::time(nullptr) - static_cast<time_t>(min_age.count());
  std::size_t removed = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st{};
    if (::fstatat(folder.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    if (S_ISDIR(st.st_mode)) continue;
    if (st.st_mtime > cutoff && !orphaned(folder.get(), e->d_name, name)) continue;
    if (::unlinkat(folder.get(), e->d_name, 0) == 0) ++removed;
  }
  return removed;
}

}  // namespace mailroom::storage::maildir
