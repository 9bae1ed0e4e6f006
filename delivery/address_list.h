// RFC 5322 address lists (section 3.4, with the obsolete forms of 4.4): the addr-specs of a To,
// Cc, Bcc or From field body. Pure. Handles folding, display names, quoted strings, comments
// (nested, with quoted pairs), groups (`undisclosed-recipients:;`), angle addresses with an
// obsolete route, and empty list elements. Domain literals ("[192.0.2.1]") are kept as written.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace mailroom::delivery {

struct AddrSpec {
  std::string local;   // as it goes into an envelope: a dot-atom, or a quoted string with its quotes
  std::string domain;  // as written (a dot-atom or a [literal]); compare it case-insensitively
  std::string str() const { return local + "@" + domain; }
  // Same local part (case-sensitive, RFC 5321 2.4) and the same domain ignoring case.
  bool same_as(const AddrSpec& other) const;
};

// Removes folding: every CRLF (or bare LF) followed by a space or tab.
std::string unfold(std::string_view field_body);

// The addr-specs of one field body (unfolded or not), in order; a group contributes its members
// (none for `undisclosed-recipients:;`). kInvalidArgument with a sentence naming the problem.
Result<std::vector<AddrSpec>> parse_address_list(std::string_view field_body);

}  // namespace mailroom::delivery
