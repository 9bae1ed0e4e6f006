// Maildir file names: unique delivery names, and what a name tells us (uid, wire size, order).
// Pure string functions, so the naming rules are unit-tested without touching the disk.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailroom::storage::maildir {

// Hostname for Maildir names: '/' -> "\057", ':' -> "\072" (they would break the name).
std::string sanitize_hostname(std::string_view host);

// "<unix seconds>.M<microseconds>P<pid>Q<counter>.<sanitized hostname>", unique per delivery.
std::string make_unique_name();

// The writer a unique name records: the pid and the sanitised host name of make_unique_name()'s
// form; nullopt for a name of another form (another program's delivery).
struct NameWriter {
  long long pid = 0;
  std::string host;
  bool operator==(const NameWriter&) const = default;
};
std::optional<NameWriter> name_writer(std::string_view file_name);
// This host's name as make_unique_name() writes it.
const std::string& sanitized_hostname();

// The name up to its first ':' (the ":2,FLAGS" info a client adds when moving new/ -> cur/).
// Identifies one message across moves and flag changes.
std::string_view name_stem(std::string_view file_name);

// The stem without ",X=..." attributes (",S=<size>", ",W=<size>").
std::string_view name_base(std::string_view file_name);

// RFC 1939's UIDL: 1 to 70 characters in 0x21..0x7E.
bool valid_uidl(std::string_view uidl);

// UIDL: the base if it is 1..70 chars in 0x21..0x7E, else the hex SHA-1 of the base.
std::string uid_from_name(std::string_view file_name);
std::string sha1_hex(std::string_view data);

// The ",W=<n>" wire size recorded in the name, if any.
std::optional<uint64_t> wire_size_from_name(std::string_view file_name);

// The leading decimal number of a name (its delivery time in seconds); 0 if none.
uint64_t leading_timestamp(std::string_view file_name);

// Delivery order: by leading timestamp, then the rest of the name with digit runs compared as
// numbers ("1.M7563P1Q2" before "1.M22501P1Q3"), then plain byte order as the last tie-break.
bool delivery_order_less(std::string_view a, std::string_view b);

}  // namespace mailroom::storage::maildir
