// Mailbox addresses: "mailbox@postoffice", with configurable alternate @ characters.
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"

namespace mailroom::storage {

struct Address {
  std::string mailbox;     // local part, lower-cased
  std::string postoffice;  // domain, lower-cased
  std::string str() const { return mailbox + "@" + postoffice; }
  bool operator==(const Address&) const = default;
};

// Validates a postoffice (domain) name: 1-253 chars, labels of [a-z0-9-] (1-63, no leading or
// trailing '-'), separated by '.'. Returns the lower-cased name or an error a user can act on.
// ASCII only: an internationalised domain is given in its A-label ("xn--") form.
Result<std::string> normalize_postoffice_name(std::string_view name);

// Validates a mailbox (local part) name: 1-64 octets of [a-z0-9._+-] or UTF-8 (RFC 6531: valid
// sequences of code points from U+00A0 on), not starting or ending with '.', no "..". Returns it
// with ASCII letters lower-cased (non-ASCII characters are kept as given, not normalised).
Result<std::string> normalize_mailbox_name(std::string_view name);

// Parses "mailbox@postoffice". If `alt_at_chars` is non-empty, each of its characters is accepted
// in place of '@' (the first separator found, scanning the characters '@' then alt chars, splits).
// Exactly one separator must split the login into two valid parts.
Result<Address> parse_address(std::string_view login, std::string_view alt_at_chars = "");

}  // namespace mailroom::storage
