// Small POSIX file helpers shared by the Maildir store and its delivery writer, so both report
// errors the same way (what failed, the path, the errno text).
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"

namespace mailroom::storage::maildir {

std::string errno_text(int err);

// kIo with "<what>: <errno text>".
Error io_error(const std::string& what, int err);

// a + "/" + b, without doubling a trailing '/'.
std::string join(const std::string& a, const std::string& b);

// Creates one directory (0700); an existing directory is fine. Returns whether it was created
// (not yet durable: fsync_dir() its parent).
Result<bool> make_dir(const std::string& path);

// Opens the directory and fsyncs it, making the entries created or renamed in it durable.
Status fsync_dir(const std::string& path);

// write() until all of `data` is written (EINTR and short writes retried). Returns 0 or the
// errno of the failure, for callers that tell a full disk from other errors.
int write_fully(int fd, std::string_view data);

// write_fully() with the error as a Status; `path` is for the message.
Status write_all(int fd, std::string_view data, const std::string& path);

// Reads a whole small file, only a regular one (a symlink or FIFO planted in its place is refused,
// not read). kNotFound if it does not exist; kIo if it is larger than `max_size`.
Result<std::string> read_regular_file(const std::string& path, std::size_t max_size);

// Replaces DIR/NAME durably with `data`: DIR/TMP_NAME is created fresh (whatever is in its way is
// removed first: the caller holds the lock every writer of NAME holds), written, fsynced, renamed
// over NAME, and DIR is fsynced. On failure the tmp file is removed and NAME is as it was.
Status replace_file_durably(const std::string& dir, const char* name, const char* tmp_name, std::string_view data);

}  // namespace mailroom::storage::maildir
