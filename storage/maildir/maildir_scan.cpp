// Maildir listing: the scan of new/ and cur/, and the listing cache that spares it.
#include "storage/maildir/maildir_scan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "core/log/logger.h"
#include "storage/maildir/fs_util.h"
#include "storage/maildir/maildir_index.h"
#include "storage/maildir/maildir_name.h"
#include "storage/maildir/maildir_reader.h"
#include "storage/maildir/message_files.h"
#include "storage/maildir/unique_fd.h"

namespace mailroom::storage::maildir {

namespace {

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
    const char* sub = kMessageFolders[i];
    auto folder = open_folder(dir, sub);
    if (!folder) return folder.error();
    folders[i] = std::move(folder).value();
    if (auto s = scan_folder(folders[i].get(), join(dir, sub), sub[0], buffer, names); !s) return s.error();
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

}  // namespace

Result<std::vector<MessageInfo>> list_maildir(const std::string& dir, const StoreOptions& options, bool* complete) {
  bool ignored = true;
  if (complete == nullptr) complete = &ignored;
  *complete = true;  // an index is saved only for a complete listing
  if (!options.use_index) {
    auto scanned = scan_maildir(dir);
    if (!scanned) return scanned.error();
    *complete = scanned->complete;
    return std::move(scanned->messages);
  }

  // The clock is read before the stamps: a change after this moment moves them (see
  // maildir::stamp_settled).
  timespec before{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &before);
  std::optional<Stamps> stamps = read_stamps(dir);
  if (stamps) {
    if (auto cached = load_index(dir, *stamps)) return std::move(*cached);
  }
  auto scanned = scan_maildir(dir);
  if (!scanned) return scanned.error();
  *complete = scanned->complete;
  // A listing that left an entry out is not cached: made readable, the entry would not change
  // the folders' stamps, and the index would hide it.
  if (stamps && scanned->complete && maildir::stamp_settled(stamps->new_dir, before, options.index_settle_time) &&
      maildir::stamp_settled(stamps->cur_dir, before, options.index_settle_time)) {
    save_index(dir, *stamps, scanned->messages);
  }
  return std::move(scanned->messages);
}

std::optional<FolderStamps> read_folder_stamps(const std::string& dir) {
  auto stamps = read_stamps(dir);
  if (!stamps) return std::nullopt;
  return FolderStamps{stamps->new_dir, stamps->cur_dir};
}

}  // namespace mailroom::storage::maildir
