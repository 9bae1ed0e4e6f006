// Address rules of the IP filter: every accepted syntax becomes one [first, last] range of
// the 128-bit space, plus a canonical text used for display and duplicate detection.
//
// Address families: a rule applies to one family only, "*" to both. A range lying inside
// ::ffff:0:0/96 (where IPv4 is stored) is IPv4 — whichever notation it was written in, so
// "::ffff:0:0/96" is the rule 0.0.0.0/0 and "::ffff:10.0.0.0/104" is 10.0.0.0/8 (a dual-stack
// socket reports IPv4 clients in that form, and no IPv6 client can have such an address). Any
// other range is IPv6 and never matches an IPv4 address, although its span may hold them all:
// "::/0" is every IPv6 address, "::/64" the network of ::1.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/ipfilter/ip_address.h"

namespace mailroom::ipfilter {

struct IpRange {
  IpAddress first;
  IpAddress last;  // inclusive
  bool both_families = false;  // "*" only; otherwise the range is of the family is_v4() says

  // IPv4 when the range lies inside ::ffff:0:0/96, IPv6 otherwise.
  bool is_v4() const { return first.is_v4() && last.is_v4(); }
  bool fits_family(const IpAddress& a) const { return both_families || a.is_v4() == is_v4(); }
  bool contains(const IpAddress& a) const { return first <= a && a <= last && fits_family(a); }
  // Every address of `other` is in this range: ::/64 covers ::1/128 but not 127.0.0.1.
  bool covers(const IpRange& other) const {
    bool families = both_families || (!other.both_families && other.is_v4() == is_v4());
    return families && first <= other.first && other.last <= last;
  }
  bool operator==(const IpRange&) const = default;
};

enum class RuleForm {
  kAny,       // "*": every address, IPv4 and IPv6
  kSingle,    // "10.0.0.1", "2001:db8::1"
  kCidr,      // "192.168.0.0/16", "2001:db8::/32"
  kMask,      // "156.21.50.0 255.255.255.0" (or "156.21.50.0/255.255.255.0"), IPv4 only
  kWildcard,  // "192.168.0.*", "192.168.*.*", "202.*" (trailing octets only)
  kRange,     // "10.0.0.1-10.0.0.50", "2001:db8::1-2001:db8::ff" (one family, inclusive)
};

const char* rule_form_name(RuleForm form);

struct AddressRule {
  std::string source;     // as written (trimmed)
  std::string canonical;  // see parse_address_rule
  RuleForm form = RuleForm::kSingle;
  IpRange range;
};

// Parses one rule. Canonical text: "*" for kAny; the bare address when the rule covers one
// address; "network/len" for CIDR, mask and wildcard forms (so "192.168.0.*",
// "192.168.0.0 255.255.255.0" and "192.168.0.9/24" are all "192.168.0.0/24": host bits are
// cleared, not rejected); "first-last" for ranges. A prefix length counts 0-32 after an address
// in dotted notation, 0-128 after one in IPv6 notation (so "::ffff:0:0/96" is "0.0.0.0/0").
// "0.0.0.0/0" is all of IPv4, "::/0" all of IPv6, "*" both.
Result<AddressRule> parse_address_rule(std::string_view text);

// Parses a list separated by ',', ';' or newlines (spaces separate an address from its mask,
// so they cannot separate rules). Empty entries are skipped; the first bad entry is the error.
Result<std::vector<AddressRule>> parse_address_rules(std::string_view text);

// The canonical text of a prefix: "10.0.0.0/8", "2001:db8::/32", or the bare address for /32, /128.
std::string prefix_text(const IpAddress& network, int bits128);

// The inverse of prefix_text: "10.0.0.1" -> {10.0.0.1, 128}, "2001:db8::/64" -> {2001:db8::, 64}.
struct Prefix {
  IpAddress network;
  int bits = 128;  // in the 128-bit space
  // Same family and inside the prefix: "::/64" does not contain 127.0.0.1.
  bool contains(const IpAddress& a) const { return prefix_fits_family(a, bits) && a.masked(bits) == network; }
  bool operator==(const Prefix&) const = default;
};
Result<Prefix> parse_prefix_text(std::string_view text);

}  // namespace mailroom::ipfilter
