// Message files of a Maildir (internal to storage/maildir): which names are messages, and how the
// folders new/ and cur/ and the messages in them are opened and listed. Shared by the maildrop,
// the deletion intent, the scan and the reader.
//
// Whoever can write the maildir must not reach anything outside it through us: messages are
// opened, listed and unlinked only relative to descriptors of cur/ and new/ (opened without
// following a symlink in their place), a message is a regular file opened with O_NOFOLLOW, and
// the names from the listing cache (maildir_index.h) are only tried there, never trusted.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "storage/maildir/fs_util.h"
#include "storage/maildir/unique_fd.h"

namespace mailroom::storage::maildir {

// The folders that hold messages, new/ first (a message moves from new/ to cur/).
inline constexpr const char* kMessageFolders[] = {"new", "cur"};

// A name a folder listing yields as a message: not empty, no dot file, no '/', and nothing our
// line-based intent and index files could not carry (a newline). Checked again on names taken
// from the index or the listing before they are opened.
bool message_name_ok(std::string_view name);

// Opens the folder DIR/SUB (new/ or cur/) itself, refusing a symlink in its place: messages are
// listed, opened and unlinked relative to this descriptor, so a folder swapped for a link leads
// nowhere else. (DIR itself may be reached through symlinks: that path is the administrator's.)
Result<UniqueFd> open_folder(const std::string& dir, std::string_view sub);

struct MessageFile {
  UniqueFd fd;
  uint64_t size = 0;  // of the stored file
};

// How message files are opened: O_NOFOLLOW refuses a symlink (to a file outside the maildir, or to
// another message), and O_NONBLOCK keeps a FIFO from holding the worker until fstat() refuses it
// (it changes nothing for a regular file).
inline constexpr int kMessageOpenFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

// A message file just opened (fd may be invalid, errno then tells why): only a regular file is one.
Result<MessageFile> checked_message_file(UniqueFd fd, const std::string& path);

// Opens message NAME of an open folder for reading if it is a regular file there. kNotFound if
// there is no such entry; `path` is for error messages.
Result<MessageFile> open_message_file(int folder, std::string_view name, const std::string& path);

// Calls fn(entry) for each entry of an open folder (`path` names it in errors), "." and ".."
// included: the one directory walk of the store (the message listing, the outbound queue's).
template <class Fn>
Status for_each_dir_entry(int folder, const std::string& path, Fn&& fn) {
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
      return {};
    }
    fn(*e);
  }
}

// Calls fn(name) for each message file in an open folder (`path` names it in errors): regular
// files with names message_name_ok() accepts.
template <class Fn>
Status for_each_message_file(int folder, const std::string& path, Fn&& fn) {
  return for_each_dir_entry(folder, path, [&](const dirent& e) {
    std::string_view name = e.d_name;
    if (!message_name_ok(name)) return;
    bool regular = e.d_type == DT_REG;
    if (e.d_type == DT_UNKNOWN) {
      struct stat st{};
      regular = ::fstatat(folder, e.d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    }
    if (regular) fn(name);
  });
}

// Where a message with this stem lives now, as "new/NAME" or "cur/NAME": another client may
// have moved it to cur/ and appended ":2,FLAGS" since we listed it.
Result<std::map<std::string, std::string>> index_by_stem(const std::string& dir);

}  // namespace mailroom::storage::maildir
