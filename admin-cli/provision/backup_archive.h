// Where a backup goes: a directory tree, or a tar file written by Mailroom itself (POSIX ustar,
// with pax extended headers for names over 100 bytes), both keeping file modes and times; and
// reading such a tar back. Relative names only ("mail/example.test/a/Maildir/cur/1.x").
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace mailroom::cli::provision {

// The longest entry name accepted when reading (a pax path record); names are relative paths.
inline constexpr std::size_t kMaxArchiveNameBytes = 4096;
// Copy buffer: files are streamed in pieces of this size, whatever their size.
inline constexpr std::size_t kArchiveCopyBufferBytes = 64 * 1024;

// Reads up to `max` bytes into `buf`; 0 at the end.
using ReadFn = std::function<Result<std::size_t>(char* buf, std::size_t max)>;

class BackupSink {
 public:
  virtual ~BackupSink() = default;
  virtual Status add_directory(const std::string& name, mode_t mode, int64_t mtime) = 0;
  // A regular file of exactly `size` bytes, read through `read` (a shorter stream is an error).
  virtual Status add_stream(const std::string& name, mode_t mode, int64_t mtime, int64_t size, const ReadFn& read) = 0;
  // Flushes and syncs everything; the backup is complete only when this succeeded.
  virtual Status finish() = 0;

  // Copies the regular file at `source` (opened without following a symlink), its mode and
  // time kept. kNotFound when it vanished meanwhile (a message deleted during the backup): the
  // caller skips it. Returns the bytes copied.
  Result<int64_t> add_file(const std::string& name, const std::string& source);
  Status add_bytes(const std::string& name, std::string_view data, mode_t mode, int64_t mtime);
};

// A new tar file at `path` (must not exist; created 0600: it holds password hashes and keys).
Result<std::unique_ptr<BackupSink>> create_tar_sink(const std::string& path);
// A directory tree under `root` (created 0700 if missing; it must be empty unless
// `allow_existing`, when files of the same name are replaced).
Result<std::unique_ptr<BackupSink>> create_directory_sink(const std::string& root, bool allow_existing = false);

// Whether `name` is a safe relative entry name: no leading '/', no "." or ".." component.
bool safe_entry_name(std::string_view name);

// Reads the tar at `path` and replays its directories and regular files into `sink` (other
// entry types are skipped). An unsafe name, a bad checksum or a truncated file is an error.
Status extract_tar(const std::string& path, BackupSink& sink);

}  // namespace mailroom::cli::provision
