// Maildir index: a cache of one Maildir's listing (name, wire size and uid of every message, in
// delivery order) kept in DIR/.mailroom-index, so an unchanged mailbox opens with a few syscalls
// instead of a full scan. Only a hint: trusted while cur/ and new/ carry the stamps it recorded,
// and never as a source of file names: anyone who can write the maildir can forge it, so the store
// opens a name from it only as a regular file inside cur/ or new/ (see message_files.h), and a
// name that is not there is not served.
#pragma once

#include <sys/stat.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailroom::storage::maildir {

inline constexpr const char* kIndexFile = ".mailroom-index";
inline constexpr const char* kIndexTmpFile = ".mailroom-index.tmp";

// One state of a directory. Adding, removing or renaming an entry updates its mtime and ctime;
// ctime cannot be set from user space, so a tool that restores an mtime still changes it.
struct DirStamp {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t mtime_sec = 0;
  int64_t mtime_nsec = 0;
  int64_t ctime_sec = 0;
  int64_t ctime_nsec = 0;
  bool operator==(const DirStamp&) const = default;
};

DirStamp stamp_from_stat(const struct stat& st);

// Whether a directory stamp read after `before` (CLOCK_REALTIME_COARSE, the clock file systems
// stamp with) can be trusted to change on the next modification: its times are older than
// `before - settle`. A stamp from the current clock tick is not: an entry added in the same tick
// would leave it as it is. `settle` covers file systems with coarse timestamps (1 s and more).
bool stamp_settled(const DirStamp& stamp, const timespec& before, std::chrono::nanoseconds settle);

// One message as the index records it; the views point into the index text (or the caller's data).
struct IndexEntry {
  char sub = 'n';       // 'n': new/, 'c': cur/
  uint64_t size = 0;    // wire size
  std::string_view uid;   // empty: the uid is name_base(name)
  std::string_view name;  // file name in that folder
};

struct IndexContents {
  DirStamp new_dir;
  DirStamp cur_dir;
  std::vector<IndexEntry> entries;  // in delivery order
};

// The file's text: a version line, the two stamps, one line per message, and a checksum of all
// of it last, so a truncated, damaged or half-written file is recognised and not used.
std::string encode_index(const IndexContents& index);

// A verified index text: the header is parsed and the checksum of the whole file matches.
// Entries are read one by one (for_each), so a 100,000-message index is not copied first.
class IndexView {
 public:
  // nullopt if the version is not ours, the checksum does not match, or the header is malformed.
  // `text` must outlive the view and the entries it yields.
  static std::optional<IndexView> parse(std::string_view text);

  const DirStamp& new_dir() const { return new_dir_; }
  const DirStamp& cur_dir() const { return cur_dir_; }
  std::size_t count() const { return count_; }

  // Calls fn(const IndexEntry&) for every entry, in order. False if a line is malformed (a name
  // that is empty, a dot file or holds a '/'; a uid that is not a valid UIDL; a bad number or
  // folder letter) or the number of entries is not the recorded count; fn may have been called
  // for some entries by then.
  template <class Fn>
  bool for_each(Fn&& fn) const {
    std::string_view rest = entries_;
    std::size_t seen = 0;
    IndexEntry e;
    while (!rest.empty()) {
      auto nl = rest.find('\n');
      if (nl == std::string_view::npos || !parse_entry_line(rest.substr(0, nl), e)) return false;
      rest.remove_prefix(nl + 1);
      if (++seen > count_) return false;
      fn(e);
    }
    return seen == count_;
  }

 private:
  static bool parse_entry_line(std::string_view line, IndexEntry& e);

  DirStamp new_dir_;
  DirStamp cur_dir_;
  std::size_t count_ = 0;
  std::string_view entries_;  // the entry lines, each ending in LF
};

// IndexView::parse + for_each into one structure (for tests and tools).
std::optional<IndexContents> decode_index(std::string_view text);

// 64-bit checksum of the index text (detects damage, not forgery: anyone who can write the
// index can write the Maildir itself).
uint64_t index_checksum(std::string_view data);

}  // namespace mailroom::storage::maildir
