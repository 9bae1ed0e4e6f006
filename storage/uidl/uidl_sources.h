// The UIDL lists other servers leave in a Maildir, read into (file base name, UIDL) pairs for
// `mailctl mailbox import-uidls`. Pure parsers over the file's text, bounded by its size (the
// caller reads at most kMaxSourceSize octets).
//   * Dovecot's dovecot-uidlist: version 3 ("3 V<uidvalidity> N<next uid> G<guid>", then
//     "<uid> [<ext> ...] :<file name>", a P<uidl> extension when Dovecot kept an explicit POP3
//     UIDL) and version 1 ("1 <uidvalidity> <next uid>", then "<uid> <file name>"); messages
//     without P get the UIDL Dovecot's pop3_uidl_format made of them (default %08Xu%08Xv).
//   * Courier's courierpop3dsizelist: "/2 <next uid> <uidvalidity>" (or /3, /1, or no header:
//     version 0), then "<file name> <size> [<uid>[:<uidvalidity>[:n]]]"; the UIDL is
//     "UID<uid>-<uidvalidity>", "UID<uid>", or for version 0 the file name with bytes outside
//     0x21..0x7E and ' " + written "+XX" (Courier's own rules, as Dovecot's migration script has them).
//   * A plain list: "<file name> <uidl>" per line; blank lines and '#' comments ignored.
// File names are matched by their base: up to ':2,' and without ',S=' and other attributes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "storage/uidl/uidl_template.h"

namespace mailroom::storage::uidl {

inline constexpr std::size_t kMaxSourceSize = 256u * 1024 * 1024;
inline constexpr const char* kDovecotUidlistFile = "dovecot-uidlist";
inline constexpr const char* kCourierSizelistFile = "courierpop3dsizelist";

struct SourceEntry {
  std::string file_base;  // the message file's base name
  std::string uidl;       // not checked here: import counts an invalid one
};

struct UidlSource {
  std::vector<SourceEntry> entries;
  std::size_t malformed_lines = 0;       // lines that could not be read (counted as invalid)
  std::optional<uint64_t> uidvalidity;   // the old server's, when the file records one
  std::optional<uint64_t> next_uid;      // the old server's next uid
};

// `format` renders the messages that have no P<uidl> (the old server's pop3_uidl_format).
Result<UidlSource> parse_dovecot_uidlist(std::string_view text, const UidlTemplate& format);
Result<UidlSource> parse_courier_sizelist(std::string_view text);
Result<UidlSource> parse_plain_uidl_list(std::string_view text);

// Courier's version 0 UIDL of a file name (see above).
std::string courier_escaped_name(std::string_view name);

}  // namespace mailroom::storage::uidl
