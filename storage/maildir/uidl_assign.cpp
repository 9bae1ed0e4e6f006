// Applying, extending and importing a Maildir's UIDL map.
#include "storage/maildir/uidl_assign.h"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <unistd.h>

#include "core/log/logger.h"
#include "storage/maildir/fs_util.h"
#include "storage/maildir/maildir_name.h"
#include "storage/maildir/maildir_scan.h"
#include "storage/maildir/uidl_map.h"

namespace mailroom::storage::maildir {

namespace {

// A template uid whose UIDL another message shows is passed over; after this many in a row the
// message keeps its native UIDL (a template that cannot make new UIDLs, e.g. "%v%u" clashing
// with imported ones, must not stall the open).
constexpr int kMaxTemplateTries = 10000;

std::string_view base_of(const MessageInfo& m) {
  std::string_view path = m.path;
  return name_base(path.substr(path.rfind('/') + 1));
}

// A base the map can record: a name its "<base> <uidl>" line can carry.
bool recordable(std::string_view base) { return !base.empty() && base.find(' ') == std::string_view::npos; }

Result<std::optional<UidlMap>> read_logged(const std::string& dir) {
  auto map = read_uidl_map(dir);
  if (!map) {
    log::error("maildir.uidl_map_unreadable",
               {{"path", join(dir, kUidlMapFile)}, {"error", map.error().message}, {"action", "open refused"},
                {"repair", "mailctl mailbox repair-uidls ADDRESS"}});
  }
  return map;
}

// Gives every listed message without an entry one (see apply_uidls()); drops entries of messages
// that are gone when the listing is complete. True if the map changed.
bool extend_map(UidlMap& map, const std::vector<MessageInfo>& messages, bool complete,
                const uidl::UidlTemplate& format) {
  bool changed = false;
  std::unordered_set<std::string_view> listed;
  if (complete) {
    for (const auto& m : messages) listed.insert(base_of(m));
    for (auto it = map.by_base.begin(); it != map.by_base.end();) {
      if (listed.count(it->first) == 0) {
        it = map.by_base.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
  }
  if (map.uidvalidity == 0) {
    map.uidvalidity = static_cast<uint64_t>(std::time(nullptr));
    changed = true;
  }
  const bool first = !map.template_started;
  if (first) {
    map.template_started = true;
    changed = true;
  }
  std::unordered_set<std::string> shown;
  for (const auto& [base, uidl] : map.by_base) shown.insert(uidl);
  for (const auto& m : messages) shown.insert(m.uid);  // native UIDLs: they may have been shown
  for (const auto& m : messages) {
    std::string_view base = base_of(m);
    if (!recordable(base) || map.by_base.count(std::string(base)) != 0) continue;
    if (first) {
      map.by_base.emplace(base, m.uid);
      changed = true;
      continue;
    }
    for (int tries = 0; tries < kMaxTemplateTries; ++tries) {
      std::string uidl = format.render(uidl::UidlVars{map.next_uid++, map.uidvalidity, base});
      changed = true;
      if (shown.insert(uidl).second) {
        map.by_base.emplace(base, std::move(uidl));
        break;
      }
    }
  }
  return changed;
}

// Two messages showing one UIDL (a map entry equal to another's native UIDL): the later one takes
// the hex SHA-1 of its file's stem, as the scan does for two names with one base.
void keep_unique(std::vector<MessageInfo>& messages) {
  std::unordered_set<std::string> seen;
  seen.reserve(messages.size());
  for (auto& m : messages) {
    if (seen.insert(m.uid).second) continue;
    std::string_view path = m.path;
    m.uid = sha1_hex(name_stem(path.substr(path.rfind('/') + 1)));
    seen.insert(m.uid);
  }
}

}  // namespace

Status apply_uidls(const std::string& dir, std::vector<MessageInfo>& messages, bool complete,
                   const uidl::UidlTemplate* format) {
  auto read = read_logged(dir);
  if (!read) return read.error();
  if (!*read && format == nullptr) return {};  // native UIDLs only: nothing recorded
  UidlMap map = *read ? std::move(**read) : UidlMap{};
  if (format != nullptr) {
    bool missing = !map.template_started;
    for (const auto& m : messages) {
      if (!missing && recordable(base_of(m)) && map.by_base.count(std::string(base_of(m))) == 0) missing = true;
    }
    if (missing) {
      auto lock = lock_for_update(dir);
      if (!lock) return lock.error();
      auto again = read_logged(dir);  // mailctl may have changed it meanwhile
      if (!again) return again.error();
      map = *again ? std::move(**again) : UidlMap{};
      if (extend_map(map, messages, complete, *format)) {
        if (auto s = write_uidl_map(dir, map); !s) return s;
      }
    }
  }
  for (auto& m : messages) {
    auto it = map.by_base.find(std::string(base_of(m)));
    if (it != map.by_base.end()) m.uid = it->second;
  }
  keep_unique(messages);
  return {};
}

Result<UidlImportReport> import_uidls(const std::string& dir, const uidl::UidlSource& source,
                                      const StoreOptions& options) {
  auto lock = lock_for_update(dir);
  if (!lock) return lock.error();
  auto listing = list_maildir(dir, options);
  if (!listing) return listing.error();
  auto read = read_uidl_map(dir);
  if (!read) return read.error();
  UidlMap map = *read ? std::move(**read) : UidlMap{};
  const bool fresh = map.by_base.empty();

  // What each listed message shows now, and who shows each UIDL (recorded ones of messages gone
  // included: they are not handed out again).
  std::unordered_map<std::string, std::string> base_of_uidl;
  std::unordered_set<std::string> listed;
  for (const auto& [base, uidl] : map.by_base) base_of_uidl.emplace(uidl, base);
  for (const auto& m : *listing) {
    std::string base(base_of(m));
    listed.insert(base);
    auto it = map.by_base.find(base);
    base_of_uidl.emplace(it != map.by_base.end() ? it->second : m.uid, base);
  }

  UidlImportReport report;
  report.invalid = source.malformed_lines;
  bool changed = false;
  for (const auto& e : source.entries) {
    if (!valid_uidl(e.uidl) || !recordable(e.file_base)) {
      ++report.invalid;
      continue;
    }
    if (listed.count(e.file_base) == 0) {
      ++report.no_such_message;
      continue;
    }
    auto owner = base_of_uidl.find(e.uidl);
    if (owner != base_of_uidl.end() && owner->second != e.file_base) {
      ++report.duplicate;
      continue;
    }
    auto [slot, inserted] = map.by_base.try_emplace(e.file_base, e.uidl);
    if (!inserted && slot->second != e.uidl) {
      base_of_uidl.erase(slot->second);  // the UIDL it had is its no more
      slot->second = e.uidl;
      changed = true;
    }
    changed = changed || inserted;
    base_of_uidl[e.uidl] = e.file_base;
    ++report.kept;
  }
  if (fresh && source.uidvalidity && *source.uidvalidity != 0 && map.uidvalidity != *source.uidvalidity) {
    map.uidvalidity = *source.uidvalidity;  // templates go on where the old server stopped
    changed = true;
  }
  if (source.next_uid && *source.next_uid > map.next_uid) {
    map.next_uid = *source.next_uid;
    changed = true;
  }
  if (changed) {
    if (auto s = write_uidl_map(dir, map); !s) return s.error();
  }
  return report;
}

namespace {

// DIR/.mailroom-uidls.damaged-<now> (-2, -3, ... if taken) as a hard link to the map: the damaged
// bytes stay, whatever happens to the map after.
Result<std::string> keep_aside(const std::string& dir) {
  const std::string map_path = join(dir, kUidlMapFile);
  const std::string stem = map_path + ".damaged-" + std::to_string(static_cast<long long>(std::time(nullptr)));
  for (int n = 1; n <= 100; ++n) {
    std::string aside = n == 1 ? stem : stem + "-" + std::to_string(n);
    if (::link(map_path.c_str(), aside.c_str()) == 0) {
      if (auto s = fsync_dir(dir); !s) return s.error();
      return aside;
    }
    if (errno != EEXIST) return io_error("cannot keep " + map_path + " aside as " + aside, errno);
  }
  return make_error(ErrorCode::kIo, "cannot keep " + map_path + " aside: 100 copies exist already");
}

}  // namespace

Result<UidlRepairReport> repair_uidls(const std::string& dir, const uidl::UidlSource* refill,
                                      const StoreOptions& options) {
  auto lock = lock_for_update(dir);
  if (!lock) return lock.error();
  UidlRepairReport report;
  auto text = read_regular_file(join(dir, kUidlMapFile), kMaxUidlMapSize);
  if (!text) {
    if (text.error().code == ErrorCode::kNotFound) return report;
    return text.error();
  }
  if (decode_uidl_map(*text)) {
    report.state = UidlRepairReport::State::kIntact;
    return report;
  }
  auto listing = list_maildir(dir, options);
  if (!listing) return listing.error();
  UidlMapSalvage salvage = salvage_uidl_map(*text);
  UidlMap map;
  if (salvage.header_kept) {  // else templates start again: the first session records native UIDLs
    map.next_uid = salvage.map.next_uid;
    map.template_started = salvage.map.template_started;
  }
  // A new uidvalidity in any case (a header line may be well-formed and still garbled): template
  // UIDLs with %v never repeat one given before the damage.
  map.uidvalidity = std::max(static_cast<uint64_t>(std::time(nullptr)), salvage.map.uidvalidity + 1);
  std::unordered_set<std::string> listed;
  for (const auto& m : *listing) listed.insert(std::string(base_of(m)));
  for (auto& [base, uidl] : salvage.map.by_base) {
    if (listed.count(base) == 0) {
      ++report.gone;
      continue;
    }
    map.by_base.emplace(base, std::move(uidl));
  }
  if (refill != nullptr) {
    // What each listed message shows now: its entry, else its native UIDL.
    std::unordered_set<std::string> shown;
    for (const auto& m : *listing) {
      auto it = map.by_base.find(std::string(base_of(m)));
      shown.insert(it != map.by_base.end() ? it->second : m.uid);
    }
    for (const auto& e : refill->entries) {
      if (!valid_uidl(e.uidl) || !recordable(e.file_base) || listed.count(e.file_base) == 0 ||
          map.by_base.count(e.file_base) != 0 || !shown.insert(e.uidl).second) {
        continue;
      }
      map.by_base.emplace(e.file_base, e.uidl);
      ++report.refilled;
    }
  }
  for (const auto& base : listed) {
    if (recordable(base) && map.by_base.count(base) == 0) ++report.without_entry;
  }
  auto aside = keep_aside(dir);
  if (!aside) return aside.error();
  if (auto s = write_uidl_map(dir, map); !s) return s.error();
  report.state = UidlRepairReport::State::kRepaired;
  report.kept_aside = *aside;
  report.header_kept = salvage.header_kept;
  report.kept = map.by_base.size() - report.refilled;
  report.dropped_lines = salvage.dropped;
  log::warn("maildir.uidl_map_repaired", {{"path", join(dir, kUidlMapFile)},
                                          {"kept_aside", report.kept_aside},
                                          {"kept", std::to_string(report.kept)},
                                          {"dropped_lines", std::to_string(report.dropped_lines)},
                                          {"refilled", std::to_string(report.refilled)},
                                          {"without_entry", std::to_string(report.without_entry)}});
  return report;
}

}  // namespace mailroom::storage::maildir
