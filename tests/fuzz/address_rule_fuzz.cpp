// Fuzzes the IP filter's parsers (core/ipfilter): one rule, a rule list, an address and a
// prefix, all from the same text.
// Invariants: a rule's range is ordered; its canonical text parses to
// the same range and is its own canonical text; a rule list is the rules of its entries; an
// address's text form parses back to it; a prefix's text form parses back to it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/ipfilter/address_rule.h"
#include "core/ipfilter/ip_address.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailroom::ipfilter;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto rule = parse_address_rule(text)) {
    FUZZ_CHECK_DATA(rule->range.first <= rule->range.last, text);
    FUZZ_CHECK_DATA(rule->range.both_families == (rule->form == RuleForm::kAny), text);
    auto again = parse_address_rule(rule->canonical);
    FUZZ_CHECK_DATA(again.ok(), rule->canonical);
    FUZZ_CHECK_DATA(again->range == rule->range && again->canonical == rule->canonical, rule->canonical);
    FUZZ_CHECK_DATA(rule->source.size() <= text.size(), text);
  }

  if (auto rules = parse_address_rules(text)) {
    for (const AddressRule& r : *rules) {
      auto one = parse_address_rule(r.source);
      FUZZ_CHECK_DATA(one.ok() && one->range == r.range && one->canonical == r.canonical, r.source);
    }
  }

  if (auto address = IpAddress::parse(text)) {
    auto back = IpAddress::parse(address->str());
    FUZZ_CHECK_DATA(back.ok() && *back == *address, address->str());
  }

  if (auto prefix = parse_prefix_text(text)) {
    FUZZ_CHECK_DATA(prefix->bits >= 0 && prefix->bits <= 128, text);
    FUZZ_CHECK_DATA(prefix->network.masked(prefix->bits) == prefix->network, text);
    const std::string written = prefix_text(prefix->network, prefix->bits);
    auto back = parse_prefix_text(written);
    FUZZ_CHECK_DATA(back.ok() && *back == *prefix, written);
  }
  return 0;
}
