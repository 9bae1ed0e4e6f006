// Parser for IP filter rules: single, CIDR, address + mask, wildcard, range, "*".
#include "core/ipfilter/address_rule.h"

#include <bit>

namespace mailroom::ipfilter {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Appends parts instead of chaining operator+ (GCC 12 -O3 raises a false -Wrestrict on
// `"literal" + std::string&&`).
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

template <class... Parts>
Error invalid(const Parts&... parts) {
  return make_error(ErrorCode::kInvalidArgument, concat(parts...));
}

std::string quoted(std::string_view s) { return concat("'", s, "'"); }

AddressRule prefix_rule(std::string_view source, RuleForm form, const IpAddress& address, int bits128) {
  AddressRule r;
  r.source = std::string(source);
  r.form = form;
  r.range = {address.masked(bits128), address.last_of_prefix(bits128)};
  r.canonical = prefix_text(r.range.first, bits128);
  return r;
}

Result<AddressRule> parse_range(std::string_view text, std::size_t dash) {
  std::string_view left = trim(text.substr(0, dash));
  std::string_view right = trim(text.substr(dash + 1));
  if (left.empty() || right.empty()) {
    return invalid("range ", quoted(text), " needs an address on both sides of '-'");
  }
  auto first = IpAddress::parse(left);
  if (!first) return first.error();
  auto last = IpAddress::parse(right);
  if (!last) return last.error();
  if (first->is_v4() != last->is_v4()) return invalid("range ", quoted(text), " mixes IPv4 and IPv6");
  if (*last < *first) {
    return invalid("range ", quoted(text), " runs backwards: ", first->str(), " is above ", last->str());
  }
  AddressRule r;
  r.source = std::string(text);
  r.form = RuleForm::kRange;
  r.range = {*first, *last};
  r.canonical = *first == *last ? first->str() : concat(first->str(), "-", last->str());
  return r;
}

Result<AddressRule> parse_wildcard(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    return invalid("wildcards are for IPv4 only; write an IPv6 prefix as 2001:db8::/32, not ", quoted(text));
  }
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    auto dot = text.find('.', start);
    parts.push_back(text.substr(start, dot == std::string_view::npos ? text.npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() > 4) return invalid(quoted(text), " has more than four octets");
  uint32_t value = 0;
  int fixed = 0;
  bool in_stars = false;
  for (std::string_view part : parts) {
    if (part == "*") {
      in_stars = true;
      continue;
    }
    if (in_stars) {
      return invalid(quoted(text), ": '*' may only stand for trailing octets (e.g. 192.168.*.*)");
    }
    // Reuse the strict octet rules of the address parser.
    auto octet = IpAddress::parse_v4(concat(part, ".0.0.0"));
    if (!octet) {
      return invalid(quoted(text), " is not an IPv4 wildcard (use whole octets, e.g. 192.168.0.*)");
    }
    value |= (octet->v4() >> 24) << (24 - 8 * fixed);
    ++fixed;
  }
  return prefix_rule(text, RuleForm::kWildcard, IpAddress::from_v4(value), kV4PrefixOffset + 8 * fixed);
}

Result<AddressRule> parse_mask(std::string_view text, std::string_view addr_text, std::string_view mask_text) {
  auto address = IpAddress::parse(addr_text);
  if (!address) return address.error();
  if (!address->is_v4()) {
    return invalid("subnet masks are for IPv4 only; write an IPv6 prefix as ", address->str(), "/64, not ",
                   quoted(text));
  }
  auto mask = IpAddress::parse_v4(mask_text);
  if (!mask) return invalid(quoted(mask_text), " is not an IPv4 subnet mask");
  uint32_t inverse = ~mask->v4();
  if ((inverse & (inverse + 1)) != 0) return invalid("mask ", std::string(mask_text), " is not contiguous");
  int bits = std::popcount(mask->v4());
  return prefix_rule(text, RuleForm::kMask, *address, kV4PrefixOffset + bits);
}

Result<AddressRule> parse_cidr(std::string_view text, std::size_t slash) {
  std::string_view addr_text = trim(text.substr(0, slash));
  std::string_view len_text = trim(text.substr(slash + 1));
  if (len_text.find('.') != std::string_view::npos) return parse_mask(text, addr_text, len_text);
  auto address = IpAddress::parse(addr_text);
  if (!address) return address.error();
  // The notation sets the scale of the length: after IPv6 text it counts all 128 bits, so
  // "::ffff:0:0/96" is every IPv4 address (and "::ffff:0:0/95" an IPv6 network around them).
  const bool v6_notation = addr_text.find(':') != std::string_view::npos;
  int max_len = v6_notation ? 128 : 32;
  const char* family = v6_notation ? "IPv6" : "IPv4";
  int len = 0;
  bool digits = !len_text.empty() && len_text.size() <= 4;
  for (char c : len_text) {
    digits = digits && c >= '0' && c <= '9';
    if (digits) len = len * 10 + (c - '0');
  }
  if (!digits) return invalid("'/", std::string(len_text), "' is not a prefix length in ", quoted(text));
  if (len > max_len) {
    return invalid("prefix /", std::to_string(len), " is longer than ", std::to_string(max_len), " for ", family);
  }
  return prefix_rule(text, RuleForm::kCidr, *address, v6_notation ? len : kV4PrefixOffset + len);
}

}  // namespace

const char* rule_form_name(RuleForm form) {
  switch (form) {
    case RuleForm::kAny: return "any";
    case RuleForm::kSingle: return "single";
    case RuleForm::kCidr: return "cidr";
    case RuleForm::kMask: return "mask";
    case RuleForm::kWildcard: return "wildcard";
    case RuleForm::kRange: return "range";
  }
  return "single";
}

std::string prefix_text(const IpAddress& network, int bits128) {
  if (network.is_v4() && bits128 >= kV4PrefixOffset) {
    if (bits128 == 128) return network.str();
    return concat(network.str(), "/", std::to_string(bits128 - kV4PrefixOffset));
  }
  if (bits128 == 128) return network.str();
  return concat(network.str(), "/", std::to_string(bits128));
}

Result<Prefix> parse_prefix_text(std::string_view text) {
  auto rule = parse_address_rule(text);
  if (!rule) return rule.error();
  if (rule->form != RuleForm::kSingle && rule->form != RuleForm::kCidr) {
    return invalid(concat("'", std::string(text), "' is not an address or a network/length"));
  }
  int bits = 128;
  for (IpAddress probe = rule->range.first; bits > 0 && probe.last_of_prefix(bits - 1) <= rule->range.last &&
                                            probe.masked(bits - 1) == rule->range.first;) {
    --bits;
  }
  return Prefix{rule->range.first, bits};
}

Result<AddressRule> parse_address_rule(std::string_view text) {
  text = trim(text);
  if (text.empty()) return invalid("empty address rule");
  if (text == "*") {
    // Aggregate init: assigning "*" to a member trips a false -Wrestrict in GCC 12 -O3.
    return AddressRule{std::string(1, '*'), std::string(1, '*'), RuleForm::kAny,
                       {IpAddress(), IpAddress::max(), /*both_families=*/true}};
  }
  // '/' first so that "10.0.0.0/-1" is reported as a bad prefix, not a bad range.
  if (auto slash = text.find('/'); slash != std::string_view::npos) return parse_cidr(text, slash);
  if (auto dash = text.find('-'); dash != std::string_view::npos) return parse_range(text, dash);
  if (text.find('*') != std::string_view::npos) return parse_wildcard(text);
  if (auto space = text.find_first_of(" \t"); space != std::string_view::npos) {
    return parse_mask(text, text.substr(0, space), trim(text.substr(space)));
  }
  auto address = IpAddress::parse(text);
  if (!address) return address.error();
  AddressRule r;
  r.source = std::string(text);
  r.form = RuleForm::kSingle;
  r.range = {*address, *address};
  r.canonical = address->str();
  return r;
}

Result<std::vector<AddressRule>> parse_address_rules(std::string_view text) {
  std::vector<AddressRule> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto sep = text.find_first_of(",;\n", start);
    std::string_view entry = trim(text.substr(start, sep == std::string_view::npos ? text.npos : sep - start));
    if (!entry.empty()) {
      auto rule = parse_address_rule(entry);
      if (!rule) return rule.error();
      out.push_back(std::move(rule).value());
    }
    if (sep == std::string_view::npos) break;
    start = sep + 1;
  }
  return out;
}

}  // namespace mailroom::ipfilter
