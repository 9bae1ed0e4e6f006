// The UIDL map: DIR/.mailroom-uidls, the durable record of UIDLs a Maildir's messages were given
// other than their native one (the file's base name): imported from another server (mailctl
// mailbox import-uidls) or made from a pop3 `uidl_format` template. Unlike .mailroom-index it is
// no cache: it is replaced atomically (tmp file, fsync, rename, fsync of DIR) under the update
// lock, and a damaged one is an error, never silently replaced. Format and file I/O here; how
// the map is applied and extended is in uidl_assign.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/base/result.h"

namespace mailroom::storage::maildir {

inline constexpr std::size_t kMaxUidlMapSize = 256u * 1024 * 1024;

struct UidlMap {
  uint64_t uidvalidity = 0;  // 0: none chosen yet
  uint64_t next_uid = 1;     // the next %u a template gives; only grows
  // A template has been applied: messages without an entry get one from the template. Before
  // that (or with `native`) they show their native UIDL; the first template session records the
  // native UIDL of every message already there, so what clients saw stays.
  bool template_started = false;
  std::unordered_map<std::string, std::string> by_base;  // file base name -> UIDL
};

// "mailroom-uidls 1 V<uidvalidity> N<next> T<0|1> C<count>", one "<base> <uidl>" line per entry
// (sorted), then "end <checksum>" over everything before it.
std::string encode_uidl_map(const UidlMap& map);
// kIo "damaged ..." for anything but an intact file of this format.
Result<UidlMap> decode_uidl_map(std::string_view text);

// What salvage_uidl_map() could read of a damaged map.
struct UidlMapSalvage {
  UidlMap map;               // the entries read; uidvalidity, next uid and T only if header_kept
  bool header_kept = false;  // the first line is an intact header of this format
  std::size_t dropped = 0;   // lines that are not an entry of this format (the end line aside): cut
                             // off, garbled, a file name or a UIDL listed a second time
};
// Reads what it can of a map decode_uidl_map() refuses: the header if its line is intact, and
// every complete, well-formed entry line (a last line without its newline is dropped: it may be a
// cut-off UIDL). The first of two lines for one file name or one UIDL wins. Never fails.
UidlMapSalvage salvage_uidl_map(std::string_view text);

// nullopt when DIR has no map; an error when it cannot be read or is damaged.
Result<std::optional<UidlMap>> read_uidl_map(const std::string& dir);
// Replaces DIR's map durably. The caller holds DIR's update lock (lock_for_update()).
Status write_uidl_map(const std::string& dir, const UidlMap& map);

}  // namespace mailroom::storage::maildir
