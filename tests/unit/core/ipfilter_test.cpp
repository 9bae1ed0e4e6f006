// IP filter engine: address and rule parsing, the range lookup, list precedence, hit
// counters, and anti-hammering (windows, delays, IPv6 prefix grouping, blocks, auto-deny).
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/ipfilter/access_policy.h"
#include "core/ipfilter/address_rule.h"
#include "core/ipfilter/hammer_guard.h"
#include "core/ipfilter/ip_address.h"
#include "core/ipfilter/range_set.h"

using mailroom::ErrorCode;
using namespace mailroom::ipfilter;
using namespace std::chrono_literals;

namespace {

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  REQUIRE_MESSAGE(a.ok(), text);
  return *a;
}

AddressRule rule(const char* text) {
  auto r = parse_address_rule(text);
  REQUIRE_MESSAGE(r.ok(), text, ": ", r.ok() ? "" : r.error().message);
  return *r;
}

std::string rule_error(const char* text) {
  auto r = parse_address_rule(text);
  REQUIRE_MESSAGE(!r.ok(), text, " parsed as ", r.ok() ? r->canonical : "");
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
  return r.error().message;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

const TimePoint t0 = TimePoint{} + 1000h;

}  // namespace

// ---------------------------------------------------------------- addresses

TEST_CASE("IPv4 addresses are stored IPv4-mapped and print as dotted quads") {
  IpAddress a = ip("192.168.1.20");
  CHECK(a.is_v4());
  CHECK(a.v4() == 0xC0A80114u);
  CHECK(a.hi() == 0);
  CHECK(a.lo() == 0x0000ffffC0A80114ULL);
  CHECK(a.str() == "192.168.1.20");
  CHECK(ip("::ffff:192.168.1.20") == a);  // the mapped v6 text is the same client
  CHECK(ip("0.0.0.0").str() == "0.0.0.0");
  CHECK(ip("255.255.255.255").v4() == 0xffffffffu);
}

TEST_CASE("IPv6 addresses parse and print in RFC 5952 form") {
  IpAddress a = ip("2001:DB8:0:0:0:0:0:1");
  CHECK_FALSE(a.is_v4());
  CHECK(a.hi() == 0x20010db800000000ULL);
  CHECK(a.lo() == 1);
  CHECK(a.str() == "2001:db8::1");
  CHECK(ip("::").is_zero());
  CHECK(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").is_max());
  CHECK(ip("::1").str() == "::1");
}

TEST_CASE("malformed addresses are rejected with the family named") {
  for (const char* bad : {"192.168.0.300", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1..2.3", "a.b.c.d",
                          "1.2.3.4 ", "", "1234.1.1.1", "-1.2.3.4"}) {
    CAPTURE(bad);
    auto r = IpAddress::parse(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "'" + std::string(bad) + "' is not an IPv4 address");
  }
  for (const char* bad : {"2001:db8::1::2", "2001:db8:::1", "fe80::1%eth0", "12345::", "[::1]", "2001:db8:g::1"}) {
    CAPTURE(bad);
    auto r = IpAddress::parse(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "'" + std::string(bad) + "' is not an IPv6 address");
  }
}

TEST_CASE("prefix masking and stepping work across the 64-bit halves") {
  IpAddress a = ip("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff");
  CHECK(a.masked(64).str() == "2001:db8:aaaa:bbbb::");
  CHECK(a.last_of_prefix(64).str() == "2001:db8:aaaa:bbbb:ffff:ffff:ffff:ffff");
  CHECK(a.masked(0).is_zero());
  CHECK(a.last_of_prefix(0).is_max());
  CHECK(a.masked(128) == a);
  CHECK(a.masked(72).str() == "2001:db8:aaaa:bbbb:cc00::");
  CHECK(ip("::ffff:ffff:ffff:ffff").next().str() == "0:0:0:1::");
  CHECK(ip("0:0:0:1::").prev().str() == "::ffff:ffff:ffff:ffff");
  CHECK(ip("10.0.0.255").next().str() == "10.0.1.0");
}

// ---------------------------------------------------------------- rules: valid

TEST_CASE("a single address rule covers exactly that address") {
  AddressRule r = rule(" 10.1.2.3 ");
  CHECK(r.form == RuleForm::kSingle);
  CHECK(r.source == "10.1.2.3");
  CHECK(r.canonical == "10.1.2.3");
  CHECK(r.range.first == ip("10.1.2.3"));
  CHECK(r.range.last == ip("10.1.2.3"));
  AddressRule v6 = rule("2001:0db8::0001");
  CHECK(v6.canonical == "2001:db8::1");
  CHECK(v6.range == IpRange{ip("2001:db8::1"), ip("2001:db8::1")});
}

TEST_CASE("CIDR rules cover their first through last address") {
  AddressRule r = rule("192.168.0.0/16");
  CHECK(r.form == RuleForm::kCidr);
  CHECK(r.canonical == "192.168.0.0/16");
  CHECK(r.range.first == ip("192.168.0.0"));
  CHECK(r.range.last == ip("192.168.255.255"));
  CHECK(r.range.contains(ip("192.168.0.0")));
  CHECK(r.range.contains(ip("192.168.255.255")));
  CHECK_FALSE(r.range.contains(ip("192.167.255.255")));
  CHECK_FALSE(r.range.contains(ip("192.169.0.0")));

  AddressRule v6 = rule("2001:db8::/32");
  CHECK(v6.canonical == "2001:db8::/32");
  CHECK(v6.range.first == ip("2001:db8::"));
  CHECK(v6.range.last == ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
  CHECK_FALSE(v6.range.contains(ip("2001:db9::")));
}

TEST_CASE("CIDR boundaries /0, /32 and /128") {
  AddressRule all4 = rule("0.0.0.0/0");
  CHECK(all4.canonical == "0.0.0.0/0");
  CHECK(all4.range.first == ip("0.0.0.0"));
  CHECK(all4.range.last == ip("255.255.255.255"));
  CHECK_FALSE(all4.range.contains(ip("::1")));  // IPv4 /0 is all of IPv4, not IPv6

  AddressRule host4 = rule("10.0.0.7/32");
  CHECK(host4.canonical == "10.0.0.7");
  CHECK(host4.range == IpRange{ip("10.0.0.7"), ip("10.0.0.7")});

  AddressRule all6 = rule("::/0");
  CHECK(all6.canonical == "::/0");
  CHECK(all6.range.first.is_zero());
  CHECK(all6.range.last.is_max());
  CHECK_FALSE(all6.range.contains(ip("1.2.3.4")));  // IPv6 /0 is all of IPv6, not IPv4
  CHECK(all6.range.contains(ip("::1")));

  AddressRule host6 = rule("2001:db8::5/128");
  CHECK(host6.canonical == "2001:db8::5");
  CHECK(host6.range.first == host6.range.last);
}

TEST_CASE("host bits in a CIDR rule are cleared in the canonical form") {
  AddressRule r = rule("192.168.1.77/24");
  CHECK(r.canonical == "192.168.1.0/24");
  CHECK(r.source == "192.168.1.77/24");
  CHECK(r.range.first == ip("192.168.1.0"));
  CHECK(rule("2001:db8::1/64").canonical == "2001:db8::/64");
}

TEST_CASE("address plus subnet mask is the same as the CIDR prefix") {
  AddressRule r = rule("156.21.50.0 255.255.255.0");
  CHECK(r.form == RuleForm::kMask);
  CHECK(r.canonical == "156.21.50.0/24");
  CHECK(r.range == IpRange{ip("156.21.50.0"), ip("156.21.50.255")});
  CHECK(rule("156.21.50.0/255.255.255.0").canonical == "156.21.50.0/24");
  CHECK(rule("10.0.0.0\t255.0.0.0").canonical == "10.0.0.0/8");
  CHECK(rule("10.1.2.3 255.255.255.255").canonical == "10.1.2.3");
  CHECK(rule("10.1.2.3 0.0.0.0").canonical == "0.0.0.0/0");
  CHECK(rule("10.1.2.3 255.255.240.0").canonical == "10.1.0.0/20");
}

TEST_CASE("wildcards stand for trailing octets") {
  AddressRule r = rule("192.168.0.*");
  CHECK(r.form == RuleForm::kWildcard);
  CHECK(r.canonical == "192.168.0.0/24");
  CHECK(r.range == IpRange{ip("192.168.0.0"), ip("192.168.0.255")});

  CHECK(rule("192.168.*.*").range == IpRange{ip("192.168.0.0"), ip("192.168.255.255")});
  CHECK(rule("192.168.*").canonical == "192.168.0.0/16");
  AddressRule short_form = rule("202.*");
  CHECK(short_form.canonical == "202.0.0.0/8");
  CHECK(short_form.range == IpRange{ip("202.0.0.0"), ip("202.255.255.255")});
  CHECK(rule("202.*.*.*").canonical == "202.0.0.0/8");
  CHECK(rule("*.*.*.*").canonical == "0.0.0.0/0");
}

TEST_CASE("a lone star is every address, IPv4 and IPv6") {
  AddressRule r = rule("*");
  CHECK(r.form == RuleForm::kAny);
  CHECK(r.canonical == "*");
  CHECK(r.range.first.is_zero());
  CHECK(r.range.last.is_max());
  CHECK(r.range.contains(ip("1.2.3.4")));
  CHECK(r.range.contains(ip("2001:db8::1")));
}

TEST_CASE("ranges are inclusive at both ends") {
  AddressRule r = rule("10.0.0.1-10.0.0.50");
  CHECK(r.form == RuleForm::kRange);
  CHECK(r.canonical == "10.0.0.1-10.0.0.50");
  CHECK(r.range.contains(ip("10.0.0.1")));
  CHECK(r.range.contains(ip("10.0.0.50")));
  CHECK_FALSE(r.range.contains(ip("10.0.0.0")));
  CHECK_FALSE(r.range.contains(ip("10.0.0.51")));
  CHECK(rule("10.0.0.1 - 10.0.0.50").canonical == "10.0.0.1-10.0.0.50");
  CHECK(rule("10.0.0.9-10.0.0.9").canonical == "10.0.0.9");
  AddressRule v6 = rule("2001:db8::1-2001:db8::ff");
  CHECK(v6.canonical == "2001:db8::1-2001:db8::ff");
  CHECK(v6.range.contains(ip("2001:db8::80")));
  CHECK_FALSE(v6.range.contains(ip("2001:db8::100")));
}

TEST_CASE("rule lists split on commas, semicolons and newlines") {
  auto rules = parse_address_rules("10.0.0.1, 156.21.50.0 255.255.255.0;\n2001:db8::/32\n,, 202.*");
  REQUIRE(rules.ok());
  REQUIRE(rules->size() == 4);
  CHECK((*rules)[0].canonical == "10.0.0.1");
  CHECK((*rules)[1].canonical == "156.21.50.0/24");
  CHECK((*rules)[2].canonical == "2001:db8::/32");
  CHECK((*rules)[3].canonical == "202.0.0.0/8");
  auto empty = parse_address_rules("  ");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  auto bad = parse_address_rules("10.0.0.1, 10.0.0.300");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "'10.0.0.300' is not an IPv4 address");
}

// ---------------------------------------------------------------- rules: invalid

TEST_CASE("invalid rules give a message naming the problem") {
  CHECK(rule_error("192.168.0.300") == "'192.168.0.300' is not an IPv4 address");
  CHECK(rule_error("2001:db8::zz") == "'2001:db8::zz' is not an IPv6 address");
  CHECK(rule_error("") == "empty address rule");
  CHECK(rule_error("10.0.0.0/33") == "prefix /33 is longer than 32 for IPv4");
  CHECK(rule_error("2001:db8::/129") == "prefix /129 is longer than 128 for IPv6");
  CHECK(contains(rule_error("10.0.0.0/"), "is not a prefix length"));
  CHECK(contains(rule_error("10.0.0.0/x"), "is not a prefix length"));
  CHECK(contains(rule_error("10.0.0.0/-1"), "is not a prefix length"));
  CHECK(contains(rule_error("10.0.0.0/00008"), "is not a prefix length"));
  CHECK(rule_error("300.0.0.0/8") == "'300.0.0.0' is not an IPv4 address");
  CHECK(rule_error("156.21.50.0 255.0.255.0") == "mask 255.0.255.0 is not contiguous");
  CHECK(rule_error("156.21.50.0 0.255.255.255") == "mask 0.255.255.255 is not contiguous");
  CHECK(rule_error("156.21.50.0 255.255.256.0") == "'255.255.256.0' is not an IPv4 subnet mask");
  CHECK(contains(rule_error("2001:db8:: ffff:ffff::"), "subnet masks are for IPv4 only"));
  CHECK(contains(rule_error("192.*.0.1"), "'*' may only stand for trailing octets"));
  CHECK(contains(rule_error("*.168.0.1"), "'*' may only stand for trailing octets"));
  CHECK(contains(rule_error("192.168.0.1*"), "is not an IPv4 wildcard"));
  CHECK(contains(rule_error("192.300.*"), "is not an IPv4 wildcard"));
  CHECK(contains(rule_error("1.2.3.4.*"), "more than four octets"));
  CHECK(contains(rule_error("2001:db8::*"), "wildcards are for IPv4 only"));
  CHECK(contains(rule_error("10.0.0.50-10.0.0.1"), "runs backwards"));
  CHECK(contains(rule_error("10.0.0.1-2001:db8::1"), "mixes IPv4 and IPv6"));
  CHECK(contains(rule_error("10.0.0.1-"), "needs an address on both sides"));
  CHECK(rule_error("10.0.0.1-10.0.0.256") == "'10.0.0.256' is not an IPv4 address");
  CHECK(rule_error("example.com") == "'example.com' is not an IPv4 address");
}

// ---------------------------------------------------------------- range set

TEST_CASE("the range set finds the narrowest covering rule and nothing outside") {
  RangeSet set({{rule("10.0.0.0/8").range, 0},
                {rule("10.1.0.0/16").range, 1},
                {rule("10.1.2.3").range, 2},
                {rule("10.2.0.0-10.3.0.0").range, 3},
                {rule("2001:db8::/32").range, 4}});
  CHECK(set.find(ip("10.0.0.0")) == 0u);
  CHECK(set.find(ip("10.255.255.255")) == 0u);
  CHECK(set.find(ip("10.1.0.0")) == 1u);
  CHECK(set.find(ip("10.1.2.2")) == 1u);
  CHECK(set.find(ip("10.1.2.3")) == 2u);
  CHECK(set.find(ip("10.1.2.4")) == 1u);
  CHECK(set.find(ip("10.1.255.255")) == 1u);
  CHECK(set.find(ip("10.2.0.0")) == 3u);
  CHECK(set.find(ip("10.3.0.0")) == 3u);
  CHECK(set.find(ip("10.3.0.1")) == 0u);
  CHECK_FALSE(set.find(ip("9.255.255.255")).has_value());
  CHECK_FALSE(set.find(ip("11.0.0.0")).has_value());
  CHECK(set.find(ip("2001:db8:ffff::1")) == 4u);
  CHECK_FALSE(set.find(ip("2001:db9::")).has_value());
  CHECK_FALSE(set.find(ip("::")).has_value());
  CHECK_FALSE(set.find(IpAddress::max()).has_value());
}

TEST_CASE("the range set handles the ends of the address space and empty input") {
  RangeSet empty;
  CHECK(empty.empty());
  CHECK_FALSE(empty.find(ip("1.2.3.4")).has_value());

  RangeSet all({{rule("*").range, 7}, {rule("::/128").range, 8}, {IpRange{IpAddress::max(), IpAddress::max()}, 9}});
  CHECK(all.find(ip("::")) == 8u);
  CHECK(all.find(ip("::1")) == 7u);
  CHECK(all.find(IpAddress::max()) == 9u);
  CHECK(all.find(IpAddress::max().prev()) == 7u);
  CHECK(all.segment_count() == 3);
}

TEST_CASE("adjacent and duplicate ranges of one rule merge into one segment") {
  RangeSet set({{rule("10.0.0.0-10.0.0.9").range, 1}, {rule("10.0.0.10-10.0.0.19").range, 1},
                {rule("10.0.0.0-10.0.0.19").range, 1}});
  CHECK(set.segment_count() == 1);
  CHECK(set.find(ip("10.0.0.19")) == 1u);
  CHECK_FALSE(set.find(ip("10.0.0.20")).has_value());
}

TEST_CASE("equal-width overlapping rules go to the lower tag") {
  RangeSet set({{rule("10.0.0.0/24").range, 5}, {rule("10.0.0.0-10.0.0.255").range, 2}});
  CHECK(set.find(ip("10.0.0.100")) == 2u);
}

TEST_CASE("the range set agrees with a linear scan on many random rules") {
  // Deterministic pseudo-random rules in a small space so that they overlap a lot.
  uint32_t seed = 12345;
  auto rnd = [&] {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
  };
  std::vector<RangeSet::Entry> entries;
  for (uint32_t i = 0; i < 300; ++i) {
    uint32_t a = rnd() % 5000;
    uint32_t b = a + rnd() % 300;
    entries.push_back({IpRange{IpAddress::from_v4(a), IpAddress::from_v4(b)}, i});
  }
  RangeSet set(entries);
  for (uint32_t x = 0; x < 5600; ++x) {
    IpAddress probe = IpAddress::from_v4(x);
    std::optional<uint32_t> expect;
    uint32_t best_width = 0;
    for (const auto& e : entries) {
      if (!e.range.contains(probe)) continue;
      uint32_t w = e.range.last.v4() - e.range.first.v4();
      if (!expect || w < best_width || (w == best_width && e.tag < *expect)) {
        expect = e.tag;
        best_width = w;
      }
    }
    auto got = set.find(probe);
    if (got != expect) {
      CAPTURE(x);
      REQUIRE(got == expect);
    }
  }
}

// ---------------------------------------------------------------- policy precedence

TEST_CASE("with no rules everyone is allowed by default") {
  AccessPolicy p;
  Verdict v = p.check(ip("1.2.3.4"), t0);
  CHECK(v.allowed());
  CHECK(v.reason == Reason::kDefault);
  CHECK(v.rule_id == 0);
}

TEST_CASE("deny mode refuses the deny list and allows everyone else") {
  AccessPolicy p;
  REQUIRE(p.set_rules(AccessList::kDeny, "10.0.0.0/8, 2001:db8::/32").ok());
  Verdict v = p.check(ip("10.9.8.7"), t0);
  CHECK(v.decision == Decision::kDeny);
  CHECK(v.reason == Reason::kDenyList);
  CHECK(v.rule_text == "10.0.0.0/8");
  CHECK(v.rule_id == p.rules(AccessList::kDeny)[0].id);
  CHECK(p.check(ip("2001:db8::1"), t0).reason == Reason::kDenyList);
  CHECK(p.check(ip("11.0.0.1"), t0).reason == Reason::kDefault);
  CHECK(p.check(ip("11.0.0.1"), t0).allowed());
}

TEST_CASE("the allow list only counts in allow_only mode") {
  AccessPolicy p(AccessMode::kAllowOnly);
  REQUIRE(p.set_rules(AccessList::kAllow, "192.168.0.*").ok());
  Verdict in = p.check(ip("192.168.0.200"), t0);
  CHECK(in.allowed());
  CHECK(in.reason == Reason::kAllowList);
  CHECK(in.rule_text == "192.168.0.0/24");
  Verdict out = p.check(ip("192.168.1.1"), t0);
  CHECK_FALSE(out.allowed());
  CHECK(out.reason == Reason::kNotInAllowList);

  p.set_mode(AccessMode::kDeny);
  CHECK(p.check(ip("192.168.1.1"), t0).reason == Reason::kDefault);
  CHECK(p.check(ip("192.168.0.200"), t0).reason == Reason::kDefault);
}

TEST_CASE("the deny list beats the allow list in allow_only mode") {
  AccessPolicy p(AccessMode::kAllowOnly);
  REQUIRE(p.set_rules(AccessList::kAllow, "10.0.0.0/8").ok());
  REQUIRE(p.set_rules(AccessList::kDeny, "10.0.0.66").ok());
  CHECK(p.check(ip("10.0.0.66"), t0).reason == Reason::kDenyList);
  CHECK(p.check(ip("10.0.0.67"), t0).reason == Reason::kAllowList);
}

TEST_CASE("the safe list overrules the deny list and allow_only mode") {
  AccessPolicy p(AccessMode::kAllowOnly);
  REQUIRE(p.set_rules(AccessList::kDeny, "*").ok());
  REQUIRE(p.set_rules(AccessList::kSafe, "127.0.0.1, ::1").ok());
  Verdict v = p.check(ip("127.0.0.1"), t0);
  CHECK(v.allowed());
  CHECK(v.reason == Reason::kSafeList);
  CHECK(v.rule_text == "127.0.0.1");
  CHECK(p.check(ip("::1"), t0).reason == Reason::kSafeList);
  CHECK(p.check(ip("127.0.0.2"), t0).reason == Reason::kDenyList);
}

TEST_CASE("a hammer block beats the safe list") {
  HammerSettings hs;
  hs.max_login_failures = 2;
  AccessPolicy p(AccessMode::kDeny, hs);
  REQUIRE(p.set_rules(AccessList::kSafe, "10.0.0.0/8").ok());
  IpAddress client = ip("10.0.0.5");
  p.guard().record_failure(client, t0);
  CHECK(p.check(client, t0).reason == Reason::kSafeList);
  CHECK(p.guard().record_failure(client, t0 + 1s).blocked);
  Verdict v = p.check(client, t0 + 2s);
  CHECK_FALSE(v.allowed());
  CHECK(v.reason == Reason::kBlocked);
  CHECK(v.rule_text == "10.0.0.5");
  REQUIRE(v.block_expiry.has_value());
  CHECK(*v.block_expiry == t0 + 1s + hs.block_duration);
  CHECK(contains(v.block_reason, "2 login failures"));
  // Another safe-listed address is not affected.
  CHECK(p.check(ip("10.0.0.6"), t0 + 2s).reason == Reason::kSafeList);
}

TEST_CASE("an auto-deny entry beats the safe list until it expires") {
  AccessPolicy p;
  REQUIRE(p.set_rules(AccessList::kSafe, "10.0.0.5").ok());
  p.guard().deny_temporarily(ip("10.0.0.5"), t0, 60s, BlockCause::kAutoDeny, "command line too long");
  CHECK(p.check(ip("10.0.0.5"), t0 + 59s).reason == Reason::kBlocked);
  CHECK(p.check(ip("10.0.0.5"), t0 + 60s).reason == Reason::kSafeList);
}

// ---------------------------------------------------------------- policy bookkeeping

TEST_CASE("the deciding rule counts hits and its last-hit time") {
  AccessPolicy p;
  REQUIRE(p.set_rules(AccessList::kDeny, "10.0.0.0/8, 10.1.0.0/16").ok());
  p.check(ip("10.1.0.1"), t0);
  p.check(ip("10.1.0.2"), t0 + 5s);
  p.check(ip("10.2.0.1"), t0 + 7s);
  p.check(ip("11.0.0.1"), t0 + 8s);
  const auto& rules = p.rules(AccessList::kDeny);
  REQUIRE(rules.size() == 2);
  CHECK(rules[0].rule.canonical == "10.0.0.0/8");
  CHECK(rules[0].hits == 1);
  CHECK(rules[0].last_hit == t0 + 7s);
  CHECK(rules[1].hits == 2);  // the narrower rule decides inside 10.1/16
  CHECK(rules[1].last_hit == t0 + 5s);
  // evaluate() and explain() do not count.
  (void)p.evaluate(ip("10.1.0.1"), t0 + 9s);
  (void)p.explain(ip("10.1.0.1"), t0 + 9s);
  CHECK(p.rules(AccessList::kDeny)[1].hits == 2);
  const AccessCounters& c = p.counters();
  CHECK(c.checks == 4);
  CHECK(c.denied == 3);
  CHECK(c.allowed == 1);
  CHECK(c.by_reason[static_cast<std::size_t>(Reason::kDenyList)] == 3);
  CHECK(c.by_reason[static_cast<std::size_t>(Reason::kDefault)] == 1);
}

TEST_CASE("a block counts the connections it refuses") {
  AccessPolicy p;
  p.guard().deny_temporarily(ip("10.0.0.5"), t0, std::nullopt, BlockCause::kManual, "by admin");
  p.check(ip("10.0.0.5"), t0 + 1s);
  p.check(ip("10.0.0.5"), t0 + 2s);
  auto blocks = p.guard().blocks(t0 + 3s);
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].hits == 2);
  CHECK(blocks[0].last_hit == t0 + 2s);
  CHECK(p.counters().by_reason[static_cast<std::size_t>(Reason::kBlocked)] == 2);
}

TEST_CASE("replacing a list keeps ids and counters of rules that stay") {
  AccessPolicy p;
  REQUIRE(p.set_rules(AccessList::kDeny, "10.0.0.0/8, 172.16.0.0/12").ok());
  p.check(ip("10.0.0.1"), t0);
  uint64_t id = p.rules(AccessList::kDeny)[0].id;
  REQUIRE(p.set_rules(AccessList::kDeny, "192.168.0.0/16; 10.*").ok());  // 10.* is 10.0.0.0/8
  const auto& rules = p.rules(AccessList::kDeny);
  REQUIRE(rules.size() == 2);
  CHECK(rules[1].rule.canonical == "10.0.0.0/8");
  CHECK(rules[1].rule.source == "10.*");
  CHECK(rules[1].id == id);
  CHECK(rules[1].hits == 1);
  CHECK(rules[0].hits == 0);
  CHECK(p.check(ip("172.16.0.1"), t0).reason == Reason::kDefault);
}

TEST_CASE("a bad rule list leaves the old list in place") {
  AccessPolicy p;
  REQUIRE(p.set_rules(AccessList::kDeny, "10.0.0.0/8").ok());
  auto s = p.set_rules(AccessList::kDeny, "11.0.0.0/8, 12.0.0.0/40");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message == "prefix /40 is longer than 32 for IPv4");
  CHECK(p.check(ip("10.0.0.1"), t0).reason == Reason::kDenyList);
  CHECK(p.check(ip("11.0.0.1"), t0).reason == Reason::kDefault);
}

TEST_CASE("rules are added and removed one at a time with duplicates refused") {
  AccessPolicy p;
  auto id = p.add_rule(AccessList::kDeny, "192.168.0.*");
  REQUIRE(id.ok());
  auto dup = p.add_rule(AccessList::kDeny, "192.168.0.0 255.255.255.0");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == ErrorCode::kAlreadyExists);
  CHECK(contains(dup.error().message, "192.168.0.0/24"));
  auto same_in_safe = p.add_rule(AccessList::kSafe, "192.168.0.7");
  REQUIRE(same_in_safe.ok());
  CHECK(*same_in_safe != *id);
  CHECK_FALSE(p.add_rule(AccessList::kDeny, "192.168.0.256").ok());
  CHECK(p.check(ip("192.168.0.1"), t0).reason == Reason::kDenyList);
  CHECK(p.check(ip("192.168.0.7"), t0).reason == Reason::kSafeList);
  REQUIRE(p.find_rule(*id) != nullptr);
  CHECK(p.find_rule(*id)->list == AccessList::kDeny);
  CHECK(p.remove_rule(*id));
  CHECK_FALSE(p.remove_rule(*id));
  CHECK(p.find_rule(*id) == nullptr);
  CHECK(p.check(ip("192.168.0.1"), t0).reason == Reason::kDefault);
}

TEST_CASE("explain names the deciding rule and what it overrules") {
  AccessPolicy p;
  REQUIRE(p.set_rules(AccessList::kDeny, "10.0.0.0/8").ok());
  REQUIRE(p.set_rules(AccessList::kSafe, "10.0.0.5").ok());
  p.check(ip("10.0.0.5"), t0);
  std::string safe = p.explain(ip("10.0.0.5"), t0 + 10s);
  CHECK(contains(safe, "10.0.0.5: allow (safe_list)"));
  CHECK(contains(safe, "decided by: safe rule #"));
  CHECK(contains(safe, "1 hits, last 10 s ago"));
  CHECK(contains(safe, "overrules: deny rule #"));
  CHECK(contains(safe, "'10.0.0.0/8'"));

  std::string denied = p.explain(ip("10.1.1.1"), t0);
  CHECK(contains(denied, "10.1.1.1: deny (deny_list)"));

  p.guard().deny_temporarily(ip("10.0.0.5"), t0, 120s, BlockCause::kAutoDeny, "command line too long");
  std::string blocked = p.explain(ip("10.0.0.5"), t0 + 20s);
  CHECK(contains(blocked, "deny (blocked)"));
  CHECK(contains(blocked, "block 10.0.0.5 (auto_deny: command line too long), expires in 100 s"));
  CHECK(contains(blocked, "does not overrule blocks"));

  std::string v6 = p.explain(ip("2001:db8::1"), t0);
  CHECK(contains(v6, "allow (default)"));
  CHECK(contains(v6, "counted as 2001:db8::/64"));
}

// ---------------------------------------------------------------- anti-hammering

TEST_CASE("max_login_failures within the window blocks for block_duration") {
  HammerSettings hs;
  hs.max_login_failures = 3;
  hs.failure_window = 60s;
  hs.block_duration = 600s;
  HammerGuard g(hs);
  IpAddress c = ip("203.0.113.9");
  CHECK_FALSE(g.record_failure(c, t0).blocked);
  CHECK_FALSE(g.record_failure(c, t0 + 10s).blocked);
  CHECK(g.failures(c, t0 + 10s) == 2);
  CHECK_FALSE(g.is_blocked(c, t0 + 10s));
  FailureOutcome third = g.record_failure(c, t0 + 20s);
  CHECK(third.blocked);
  CHECK(third.failures == 3);
  CHECK(g.is_blocked(c, t0 + 20s));
  CHECK(g.is_blocked(c, t0 + 619s));
  CHECK_FALSE(g.is_blocked(c, t0 + 620s));  // block expiry
  CHECK_FALSE(g.is_blocked(ip("203.0.113.10"), t0 + 30s));
  CHECK(g.failures(c, t0 + 20s) == 0);  // the record became the block
  auto blocks = g.blocks(t0 + 21s);
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].key_text() == "203.0.113.9");
  CHECK(blocks[0].cause == BlockCause::kLoginFailures);
  CHECK(blocks[0].since == t0 + 20s);
  CHECK(blocks[0].expires == t0 + 620s);
  CHECK(g.blocks(t0 + 620s).empty());
}

TEST_CASE("failures while the address is blocked neither re-block it nor start a new count") {
  // Checks still running when a block begins (parallel connections) used to start a fresh
  // failure record and re-block the address every max_login_failures late failures.
  HammerSettings hs;
  hs.max_login_failures = 3;
  hs.failure_window = 60s;
  hs.block_duration = 600s;
  HammerGuard g(hs);
  IpAddress c = ip("203.0.113.9");
  g.record_failure(c, t0);
  g.record_failure(c, t0 + 1s);
  REQUIRE(g.record_failure(c, t0 + 2s).blocked);
  for (int i = 0; i < 10; ++i) {
    FailureOutcome late = g.record_failure(c, t0 + 3s + std::chrono::seconds(i));
    CHECK_FALSE(late.blocked);
    CHECK(late.while_blocked);
    CHECK(late.delay > 0ms);
  }
  CHECK(g.failures(c, t0 + 20s) == 0);
  auto blocks = g.blocks(t0 + 20s);
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].since == t0 + 2s);           // not restarted
  CHECK(blocks[0].expires == t0 + 602s);       // not extended
  CHECK_FALSE(g.is_blocked(c, t0 + 602s));
  // After the block the address starts from zero again.
  CHECK_FALSE(g.record_failure(c, t0 + 700s).while_blocked);
  CHECK(g.failures(c, t0 + 700s) == 1);
}

TEST_CASE("failures older than the window do not count") {
  HammerSettings hs;
  hs.max_login_failures = 3;
  hs.failure_window = 60s;
  HammerGuard g(hs);
  IpAddress c = ip("203.0.113.9");
  g.record_failure(c, t0);
  g.record_failure(c, t0 + 30s);
  CHECK(g.failures(c, t0 + 59s) == 2);
  CHECK(g.failures(c, t0 + 60s) == 1);  // the first one left the window
  FailureOutcome o = g.record_failure(c, t0 + 61s);
  CHECK_FALSE(o.blocked);
  CHECK(o.failures == 2);
  CHECK(g.record_failure(c, t0 + 62s).blocked);
}

TEST_CASE("each failure delays the next reply a little longer, up to a cap") {
  HammerSettings hs;
  hs.max_login_failures = 0;  // never block: only the delay
  hs.failure_delay = 500ms;
  hs.max_failure_delay = 3000ms;
  HammerGuard g(hs);
  IpAddress c = ip("198.51.100.1");
  std::vector<long> delays;
  for (int i = 0; i < 7; ++i) delays.push_back(static_cast<long>(g.record_failure(c, t0 + i * 1s).delay.count()));
  CHECK(delays == std::vector<long>{0, 500, 1000, 2000, 3000, 3000, 3000});
  CHECK_FALSE(g.is_blocked(c, t0 + 10s));
  g.record_success(c);
  CHECK(g.record_failure(c, t0 + 11s).delay.count() == 0);
}

TEST_CASE("IPv6 clients in the same /64 are counted together") {
  HammerSettings hs;
  hs.max_login_failures = 2;
  HammerGuard g(hs);
  IpAddress a = ip("2001:db8:1:2::a");
  IpAddress b = ip("2001:db8:1:2:ffff::b");
  IpAddress other = ip("2001:db8:1:3::a");
  CHECK(g.key_for(a) == g.key_for(b));
  CHECK_FALSE(g.record_failure(a, t0).blocked);
  CHECK(g.failures(b, t0) == 1);
  CHECK(g.failures(other, t0) == 0);
  CHECK(g.record_failure(b, t0 + 1s).blocked);
  CHECK(g.is_blocked(a, t0 + 2s));
  CHECK(g.is_blocked(ip("2001:db8:1:2:1234:5678:9abc:def0"), t0 + 2s));
  CHECK_FALSE(g.is_blocked(other, t0 + 2s));
  REQUIRE(g.blocks(t0 + 2s).size() == 1);
  CHECK(g.blocks(t0 + 2s)[0].key_text() == "2001:db8:1:2::/64");
}

TEST_CASE("the IPv6 grouping prefix is configurable and IPv4 is per address") {
  HammerSettings hs;
  hs.max_login_failures = 2;
  hs.ipv6_failure_prefix = 128;
  HammerGuard g(hs);
  g.record_failure(ip("2001:db8::1"), t0);
  CHECK(g.failures(ip("2001:db8::2"), t0) == 0);
  g.record_failure(ip("10.0.0.1"), t0);
  CHECK(g.failures(ip("10.0.0.2"), t0) == 0);
  CHECK(g.failures(ip("10.0.0.1"), t0) == 1);

  hs.ipv6_failure_prefix = 48;
  g.configure(hs);
  CHECK(g.failures(ip("10.0.0.1"), t0) == 0);  // records reset when the grouping changes
  g.record_failure(ip("2001:db8:0:1::1"), t0);
  CHECK(g.record_failure(ip("2001:db8:0:ffff::1"), t0).blocked);
  CHECK(g.blocks(t0)[0].key_text() == "2001:db8::/48");
}

TEST_CASE("blocks made under an old IPv6 prefix keep matching after a change") {
  HammerSettings hs;
  hs.max_login_failures = 1;
  HammerGuard g(hs);
  CHECK(g.record_failure(ip("2001:db8:1:2::1"), t0).blocked);
  hs.ipv6_failure_prefix = 128;
  g.configure(hs);
  CHECK(g.is_blocked(ip("2001:db8:1:2::99"), t0));
  CHECK(g.lift(ip("2001:db8:1:2::99")) == 1);
  CHECK_FALSE(g.is_blocked(ip("2001:db8:1:2::1"), t0));
}

TEST_CASE("blocks can be lifted one by one or all at once") {
  HammerSettings hs;
  hs.max_login_failures = 1;
  HammerGuard g(hs);
  g.record_failure(ip("10.0.0.1"), t0);
  g.record_failure(ip("10.0.0.2"), t0);
  g.record_failure(ip("2001:db8::1"), t0);
  CHECK(g.blocks(t0).size() == 3);
  CHECK(g.lift(ip("10.0.0.1")) == 1);
  CHECK_FALSE(g.is_blocked(ip("10.0.0.1"), t0));
  CHECK(g.is_blocked(ip("10.0.0.2"), t0));
  CHECK(g.lift(ip("10.0.0.1")) == 0);
  CHECK(g.lift(ip("2001:db8::ffff")) == 1);  // any address in the /64 names the block
  g.clear();
  CHECK(g.blocks(t0).empty());
  CHECK_FALSE(g.is_blocked(ip("10.0.0.2"), t0));
}

TEST_CASE("a lifted client starts again from zero failures") {
  HammerSettings hs;
  hs.max_login_failures = 3;
  HammerGuard g(hs);
  IpAddress c = ip("10.0.0.1");
  g.record_failure(c, t0);
  g.record_failure(c, t0);
  g.lift(c);
  CHECK(g.failures(c, t0) == 0);
  CHECK_FALSE(g.record_failure(c, t0).blocked);
}

TEST_CASE("auto-deny entries expire, or last until lifted, and are only ever extended") {
  HammerGuard g;
  IpAddress c = ip("192.0.2.7");
  g.deny_temporarily(c, t0, 60s, BlockCause::kAutoDeny, "command line of 9000 bytes");
  g.deny_temporarily(c, t0 + 10s, 10s, BlockCause::kAutoDeny, "again");  // shorter: no change
  auto b = g.blocks(t0 + 10s);
  REQUIRE(b.size() == 1);
  CHECK(b[0].expires == t0 + 60s);
  CHECK(b[0].reason == "command line of 9000 bytes");
  g.deny_temporarily(c, t0 + 20s, 100s, BlockCause::kAutoDeny, "longer");
  CHECK(g.blocks(t0 + 20s)[0].expires == t0 + 120s);
  CHECK(g.is_blocked(c, t0 + 119s));
  CHECK_FALSE(g.is_blocked(c, t0 + 120s));

  IpAddress forever = ip("192.0.2.8");
  g.deny_temporarily(forever, t0, std::nullopt, BlockCause::kAutoDeny, "until restart");
  g.deny_temporarily(forever, t0, 5s, BlockCause::kAutoDeny, "short");  // does not shorten
  CHECK(g.is_blocked(forever, t0 + 1000000h));
  CHECK_FALSE(g.find_block(forever, t0)->expires.has_value());
  CHECK(g.lift(forever) == 1);
  CHECK_FALSE(g.is_blocked(forever, t0));
}

TEST_CASE("block_duration 0 blocks until lifted") {
  HammerSettings hs;
  hs.max_login_failures = 1;
  hs.block_duration = 0s;
  HammerGuard g(hs);
  g.record_failure(ip("10.0.0.1"), t0);
  CHECK(g.is_blocked(ip("10.0.0.1"), t0 + 100000h));
}

TEST_CASE("tracked addresses and blocks are capped, oldest evicted first") {
  HammerSettings hs;
  hs.max_login_failures = 3;
  hs.max_tracked = 3;
  HammerGuard g(hs);
  g.record_failure(ip("10.0.0.1"), t0);
  g.record_failure(ip("10.0.0.2"), t0 + 1s);
  g.record_failure(ip("10.0.0.3"), t0 + 2s);
  g.record_failure(ip("10.0.0.1"), t0 + 3s);  // 10.0.0.1 is now the most recent
  g.record_failure(ip("10.0.0.4"), t0 + 4s);  // evicts 10.0.0.2
  CHECK(g.tracked_addresses() == 3);
  CHECK(g.failures(ip("10.0.0.2"), t0 + 4s) == 0);
  CHECK(g.failures(ip("10.0.0.1"), t0 + 4s) == 2);
  CHECK(g.failures(ip("10.0.0.3"), t0 + 4s) == 1);

  for (int i = 1; i <= 5; ++i) {
    g.deny_temporarily(IpAddress::from_v4(0x0a000100u + static_cast<uint32_t>(i)), t0 + i * 1s, 3600s,
                       BlockCause::kAutoDeny, "x");
  }
  CHECK(g.block_count() == 3);
  CHECK_FALSE(g.is_blocked(ip("10.0.1.1"), t0 + 10s));
  CHECK_FALSE(g.is_blocked(ip("10.0.1.2"), t0 + 10s));
  CHECK(g.is_blocked(ip("10.0.1.5"), t0 + 10s));
}

TEST_CASE("expire() drops expired blocks and stale failure records") {
  HammerSettings hs;
  hs.max_login_failures = 5;
  hs.failure_window = 60s;
  HammerGuard g(hs);
  g.record_failure(ip("10.0.0.1"), t0);
  g.record_failure(ip("10.0.0.2"), t0 + 50s);
  g.deny_temporarily(ip("10.0.0.3"), t0, 30s, BlockCause::kAutoDeny, "x");
  g.deny_temporarily(ip("10.0.0.4"), t0, std::nullopt, BlockCause::kAutoDeny, "x");
  g.expire(t0 + 70s);
  CHECK(g.tracked_addresses() == 1);
  CHECK(g.block_count() == 1);
  CHECK(g.is_blocked(ip("10.0.0.4"), t0 + 70s));
}

TEST_CASE("load_rules takes stored counters and keeps the larger in-memory ones") {
  AccessPolicy policy;
  TimePoint t0{};
  std::vector<PolicyRule> stored(2);
  stored[0].rule = rule("10.0.0.0/8");
  stored[0].hits = 7;
  stored[1].rule = rule("192.168.1.1");
  stored[1].hits = 0;
  policy.load_rules(AccessList::kDeny, stored);
  REQUIRE(policy.rules(AccessList::kDeny).size() == 2);
  CHECK(policy.rules(AccessList::kDeny)[0].hits == 7);
  for (int i = 0; i < 3; ++i) CHECK_FALSE(policy.check(ip("192.168.1.1"), t0 + 1s).allowed());
  // A reload with older stored values keeps what was counted since.
  stored[1].hits = 1;
  policy.load_rules(AccessList::kDeny, stored);
  CHECK(policy.rules(AccessList::kDeny)[1].hits == 3);
  CHECK(policy.rules(AccessList::kDeny)[1].last_hit == t0 + 1s);
  // A rule dropped from storage is gone from the verdict.
  stored.pop_back();
  policy.load_rules(AccessList::kDeny, stored);
  CHECK(policy.check(ip("192.168.1.1"), t0 + 2s).allowed());
}

TEST_CASE("replace_blocks installs stored blocks and keeps the unsaved ones asked for") {
  HammerGuard guard;
  TimePoint t0{};
  guard.deny_temporarily(ip("10.0.0.1"), t0, std::nullopt, BlockCause::kAutoDeny, "long line");
  guard.deny_temporarily(ip("10.0.0.2"), t0, std::nullopt, BlockCause::kAutoDeny, "long line");
  guard.hit(ip("10.0.0.1"), t0 + 1s);
  guard.hit(ip("10.0.0.1"), t0 + 2s);
  Block stored;
  stored.network = ip("10.0.0.1");
  stored.cause = BlockCause::kAutoDeny;
  stored.hits = 1;
  Block manual;
  manual.network = ip("10.0.0.9");
  manual.cause = BlockCause::kManual;
  guard.replace_blocks({stored, manual}, [](const Block& b) { return b.network == ip("10.0.0.2"); });
  CHECK(guard.block_count() == 3);
  CHECK(guard.find_block(ip("10.0.0.1"), t0 + 3s)->hits == 2);
  CHECK(guard.is_blocked(ip("10.0.0.2"), t0 + 3s));
  CHECK(guard.is_blocked(ip("10.0.0.9"), t0 + 3s));
  // Without `keep`, what is not stored goes (mailctl block remove).
  guard.replace_blocks({manual}, {});
  CHECK_FALSE(guard.is_blocked(ip("10.0.0.1"), t0 + 3s));
  CHECK_FALSE(guard.is_blocked(ip("10.0.0.2"), t0 + 3s));
  CHECK(guard.is_blocked(ip("10.0.0.9"), t0 + 3s));
}

TEST_CASE("parse_prefix_text reads back every block key") {
  for (const auto& [text, bits] : std::vector<std::pair<const char*, int>>{
           {"10.0.0.1", 128}, {"10.0.0.0/8", 104}, {"2001:db8:1:2::/64", 64}, {"2001:db8::1", 128}, {"::/0", 0}}) {
    CAPTURE(text);
    auto p = parse_prefix_text(text);
    REQUIRE(p.ok());
    CHECK(p->bits == bits);
    CHECK(prefix_text(p->network, p->bits) == text);
  }
  CHECK_FALSE(parse_prefix_text("10.0.0.1-10.0.0.5").ok());
  CHECK_FALSE(parse_prefix_text("nonsense").ok());
}

// ---------------------------------------------------------------- address families
// IPv4 is stored inside ::ffff:0:0/96, so the range of an IPv6 rule or block such as ::/0 or
// ::/64 spans every IPv4 address. A rule or block must still apply to its own family only.

TEST_CASE("an IPv6 rule does not cover IPv4 addresses even where its range spans ::ffff:0:0/96") {
  for (const char* text : {"::/0", "::/1", "::/64", "::/80", "::fffe:0:0/95", "::-1::", "::1-::1:0:0:0"}) {
    CAPTURE(text);
    AddressRule r = rule(text);
    for (const char* v4 : {"127.0.0.1", "0.0.0.0", "10.1.2.3", "255.255.255.255"}) {
      CAPTURE(v4);
      CHECK_FALSE(r.range.contains(ip(v4)));
    }
  }
  CHECK(rule("::/0").range.contains(ip("::1")));
  CHECK(rule("::/64").range.contains(ip("::1")));
  CHECK(rule("::fffe:0:0/95").range.contains(ip("::fffe:1:2")));
  // And the other way round: IPv4 rules never cover IPv6 addresses.
  CHECK_FALSE(rule("0.0.0.0/0").range.contains(ip("::1")));
}

TEST_CASE("deny ::/0 refuses every IPv6 client and no IPv4 client") {
  AccessPolicy p;
  REQUIRE(p.set_rules(AccessList::kDeny, "::/0").ok());
  CHECK(p.check(ip("::1"), t0).reason == Reason::kDenyList);
  CHECK(p.check(ip("2001:db8::1"), t0).reason == Reason::kDenyList);
  CHECK(p.check(ip("::fffe:ffff:ffff"), t0).reason == Reason::kDenyList);  // both neighbours of the IPv4 block
  CHECK(p.check(ip("0:0:0:1::"), t0).reason == Reason::kDenyList);
  for (const char* v4 : {"127.0.0.1", "0.0.0.0", "10.1.2.3", "255.255.255.255"}) {
    CAPTURE(v4);
    Verdict v = p.check(ip(v4), t0);
    CHECK(v.allowed());
    CHECK(v.reason == Reason::kDefault);
  }
  CHECK(p.rules(AccessList::kDeny)[0].hits == 4);  // the IPv4 checks did not count on it
}

TEST_CASE("allow_only with allow ::/0 admits IPv6 only, allow 0.0.0.0/0 IPv4 only") {
  AccessPolicy p(AccessMode::kAllowOnly);
  REQUIRE(p.set_rules(AccessList::kAllow, "::/0").ok());
  CHECK(p.check(ip("::1"), t0).reason == Reason::kAllowList);
  Verdict v = p.check(ip("127.0.0.1"), t0);
  CHECK_FALSE(v.allowed());
  CHECK(v.reason == Reason::kNotInAllowList);
  REQUIRE(p.set_rules(AccessList::kAllow, "0.0.0.0/0").ok());
  CHECK(p.check(ip("127.0.0.1"), t0).reason == Reason::kAllowList);
  CHECK(p.check(ip("::1"), t0).reason == Reason::kNotInAllowList);
}

TEST_CASE("safe ::/0 does not overrule an IPv4 deny rule") {
  AccessPolicy p;
  REQUIRE(p.set_rules(AccessList::kDeny, "127.0.0.0/8").ok());
  REQUIRE(p.set_rules(AccessList::kSafe, "::/0").ok());
  CHECK(p.check(ip("127.0.0.1"), t0).reason == Reason::kDenyList);
  CHECK(p.check(ip("::1"), t0).reason == Reason::kSafeList);
}

TEST_CASE("five bad logins over ::1 block ::/64 and no IPv4 client") {
  AccessPolicy p;  // the defaults: 5 failures block, IPv6 counted per /64
  FailureOutcome last;
  for (int i = 0; i < 5; ++i) last = p.guard().record_failure(ip("::1"), t0 + i * 1s);
  REQUIRE(last.blocked);
  auto blocks = p.guard().blocks(t0 + 5s);
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].key_text() == "::/64");
  CHECK(p.check(ip("::1"), t0 + 5s).reason == Reason::kBlocked);
  CHECK(p.check(ip("::2"), t0 + 5s).reason == Reason::kBlocked);
  for (const char* v4 : {"127.0.0.1", "0.0.0.0", "192.0.2.1", "255.255.255.255"}) {
    CAPTURE(v4);
    CHECK_FALSE(p.guard().is_blocked(ip(v4), t0 + 5s));
    CHECK(p.guard().hit(ip(v4), t0 + 5s) == nullptr);
    CHECK(p.check(ip(v4), t0 + 5s).reason == Reason::kDefault);
  }
  CHECK(p.guard().blocks(t0 + 5s)[0].hits == 2);  // only the IPv6 clients were refused by it
  // Lifting an IPv4 address leaves the IPv6 network blocked.
  CHECK(p.guard().lift(ip("127.0.0.1")) == 0);
  CHECK(p.guard().is_blocked(ip("::1"), t0 + 5s));
}

TEST_CASE("a block of ::1 (manual, auto-deny, or stored as ::/64) does not cover IPv4") {
  HammerGuard g;
  g.deny_temporarily(ip("::1"), t0, std::nullopt, BlockCause::kManual, "by admin");
  REQUIRE(g.blocks(t0).size() == 1);
  CHECK(g.blocks(t0)[0].key_text() == "::/64");
  CHECK(g.is_blocked(ip("::1"), t0));
  CHECK_FALSE(g.is_blocked(ip("127.0.0.1"), t0));
  CHECK_FALSE(g.blocks(t0)[0].contains(ip("127.0.0.1")));
  CHECK(g.blocks(t0)[0].contains(ip("::1")));

  HammerGuard auto_deny;
  auto_deny.deny_temporarily(ip("::1"), t0, 60s, BlockCause::kAutoDeny, "command line too long");
  CHECK(auto_deny.is_blocked(ip("::5"), t0));
  CHECK_FALSE(auto_deny.is_blocked(ip("10.0.0.1"), t0));

  // The keys `mailctl block add` stores, read back the way the daemon and mailctl read them.
  for (const char* key : {"::/64", "::/0", "::/1", "::/80", "::fffe:0:0/95"}) {
    CAPTURE(key);
    auto prefix = parse_prefix_text(key);
    REQUIRE(prefix.ok());
    Block stored;
    stored.network = prefix->network;
    stored.prefix = prefix->bits;
    stored.cause = BlockCause::kManual;
    HammerGuard loaded;
    loaded.replace_blocks({stored}, {});
    CHECK(loaded.is_blocked(ip(key == std::string("::fffe:0:0/95") ? "::fffe:0:1" : "::1"), t0));
    CHECK_FALSE(loaded.is_blocked(ip("127.0.0.1"), t0));
    CHECK_FALSE(loaded.is_blocked(ip("0.0.0.0"), t0));
    CHECK_FALSE(stored.contains(ip("127.0.0.1")));
    CHECK(loaded.lift(ip("127.0.0.1")) == 0);
    CHECK(loaded.block_count() == 1);
  }
}

TEST_CASE("an IPv6 client's failure key never covers IPv4, whatever ipv6_failure_prefix") {
  for (int bits : {1, 8, 32, 64, 80, 95, 96, 120, 128}) {
    for (const char* v6 : {"::1", "::fffe:1:2", "0:0:0:1::1", "2001:db8::1"}) {
      CAPTURE(bits);
      CAPTURE(v6);
      HammerSettings hs;
      hs.max_login_failures = 3;
      hs.ipv6_failure_prefix = bits;
      HammerGuard g(hs);
      CHECK_FALSE(g.key_for(ip(v6)).is_v4());
      g.record_failure(ip(v6), t0);
      g.record_failure(ip(v6), t0);
      CHECK(g.failures(ip("127.0.0.1"), t0) == 0);
      CHECK(g.failures(ip("0.0.0.0"), t0) == 0);
      CHECK(g.record_failure(ip(v6), t0).blocked);
      CHECK(g.is_blocked(ip(v6), t0));
      CHECK_FALSE(g.is_blocked(ip("127.0.0.1"), t0));
      CHECK_FALSE(g.is_blocked(ip("0.0.0.0"), t0));
      CHECK_FALSE(g.is_blocked(ip("255.255.255.255"), t0));
      // An IPv4 client is still counted and blocked on its own.
      g.record_failure(ip("127.0.0.1"), t0);
      CHECK(g.failures(ip("127.0.0.1"), t0) == 1);
    }
  }
}

TEST_CASE("IPv6 notation inside ::ffff:0:0/96 means the mapped IPv4 addresses") {
  AddressRule all = rule("::ffff:0:0/96");
  CHECK(all.canonical == "0.0.0.0/0");
  CHECK(all.range == rule("0.0.0.0/0").range);
  CHECK(all.range.contains(ip("127.0.0.1")));
  CHECK_FALSE(all.range.contains(ip("::1")));
  CHECK(rule("::ffff:10.0.0.0/104").canonical == "10.0.0.0/8");
  CHECK(rule("::ffff:a00:0/104").canonical == "10.0.0.0/8");
  CHECK(rule("::FFFF:10.1.2.3/128").canonical == "10.1.2.3");
  CHECK(rule("::ffff:10.1.2.3").canonical == "10.1.2.3");
  CHECK(rule("::ffff:10.0.0.1-::ffff:10.0.0.9").canonical == "10.0.0.1-10.0.0.9");
  CHECK(rule_error("::ffff:10.0.0.0/129") == "prefix /129 is longer than 128 for IPv6");
  CHECK(rule("::ffff:10.0.0.0/8").canonical == "::/8");  // the length counts 128 bits: an IPv6 network
  // Wider than ::ffff:0:0/96: an IPv6 network, for IPv6 clients only.
  AddressRule wider = rule("::ffff:0:0/95");
  CHECK(wider.canonical == "::fffe:0:0/95");
  CHECK_FALSE(wider.range.contains(ip("10.0.0.1")));
  CHECK(wider.range.contains(ip("::fffe:0:1")));

  AccessPolicy p;
  REQUIRE(p.set_rules(AccessList::kDeny, "::ffff:0:0/96").ok());
  CHECK(p.rules(AccessList::kDeny)[0].rule.canonical == "0.0.0.0/0");
  CHECK(p.check(ip("127.0.0.1"), t0).reason == Reason::kDenyList);
  CHECK(p.check(ip("::ffff:127.0.0.1"), t0).reason == Reason::kDenyList);
  CHECK(p.check(ip("::1"), t0).reason == Reason::kDefault);
  // The same rule in both notations is one rule.
  auto again = p.add_rule(AccessList::kDeny, "0.0.0.0/0");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::kAlreadyExists);

  // A block key in this notation is an IPv4 block.
  auto key = parse_prefix_text("::ffff:0:0/96");
  REQUIRE(key.ok());
  CHECK(prefix_text(key->network, key->bits) == "0.0.0.0/0");
  auto host = parse_prefix_text("::ffff:10.1.2.3");
  REQUIRE(host.ok());
  CHECK(prefix_text(host->network, host->bits) == "10.1.2.3");
}

TEST_CASE("'*' still matches every address of both families") {
  AddressRule any = rule("*");
  for (const char* a : {"127.0.0.1", "0.0.0.0", "255.255.255.255", "::", "::1", "2001:db8::1",
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    CAPTURE(a);
    CHECK(any.range.contains(ip(a)));
  }
  AccessPolicy deny_all;
  REQUIRE(deny_all.set_rules(AccessList::kDeny, "*").ok());
  CHECK(deny_all.check(ip("127.0.0.1"), t0).rule_text == "*");
  CHECK(deny_all.check(ip("::1"), t0).rule_text == "*");
  AccessPolicy allow_all(AccessMode::kAllowOnly);
  REQUIRE(allow_all.set_rules(AccessList::kAllow, "*").ok());
  CHECK(allow_all.check(ip("127.0.0.1"), t0).reason == Reason::kAllowList);
  CHECK(allow_all.check(ip("::1"), t0).reason == Reason::kAllowList);

  // Next to ::/0, which is just as wide, '*' is what decides for IPv4.
  AccessPolicy both;
  REQUIRE(both.set_rules(AccessList::kDeny, "::/0, *").ok());
  CHECK(both.check(ip("127.0.0.1"), t0).rule_text == "*");
  CHECK(both.check(ip("::1"), t0).rule_text == "::/0");  // equally wide: the first rule
  RangeSet set({{rule("::/0").range, 0}, {rule("*").range, 1}, {rule("::/64").range, 2}});
  CHECK(set.find(ip("127.0.0.1")) == 1u);
  CHECK(set.find(ip("::1")) == 2u);
  CHECK(set.find(ip("2001:db8::1")) == 0u);
  CHECK(set.find(IpAddress::max()) == 0u);
  // Next to rules of one family the narrowest rule still decides.
  RangeSet narrow({{rule("*").range, 0}, {rule("0.0.0.0/0").range, 1}, {rule("::/64").range, 2}});
  CHECK(narrow.find(ip("127.0.0.1")) == 1u);
  CHECK(narrow.find(ip("::1")) == 2u);
  CHECK(narrow.find(ip("2001:db8::1")) == 0u);
  RangeSet star_only({{rule("*").range, 4}});
  CHECK(star_only.find(ip("10.0.0.1")) == 4u);
  CHECK(star_only.find(ip("::")) == 4u);
  CHECK(star_only.find(IpAddress::max()) == 4u);
}

TEST_CASE("the range set keeps IPv6 entries away from IPv4 addresses") {
  RangeSet set({{rule("::/0").range, 0}, {rule("10.0.0.0/8").range, 1}, {rule("::/64").range, 2}});
  CHECK_FALSE(set.find(ip("127.0.0.1")).has_value());
  CHECK_FALSE(set.find(ip("0.0.0.0")).has_value());
  CHECK_FALSE(set.find(ip("255.255.255.255")).has_value());
  CHECK(set.find(ip("10.1.2.3")) == 1u);
  CHECK(set.find(ip("::1")) == 2u);
  CHECK(set.find(ip("::fffe:ffff:ffff")) == 2u);
  CHECK(set.find(ip("0:0:0:1::")) == 0u);
  CHECK(set.find(IpAddress::max()) == 0u);

  RangeSet across({{rule("::fffe:0:0-0:0:0:1::5").range, 7}});  // a range running through IPv4
  CHECK(across.find(ip("::fffe:0:0")) == 7u);
  CHECK(across.find(ip("::fffe:ffff:ffff")) == 7u);
  CHECK_FALSE(across.find(ip("0.0.0.0")).has_value());
  CHECK_FALSE(across.find(ip("255.255.255.255")).has_value());
  CHECK(across.find(ip("0:0:0:1::")) == 7u);
  CHECK(across.find(ip("0:0:0:1::5")) == 7u);
  CHECK_FALSE(across.find(ip("0:0:0:1::6")).has_value());
}

TEST_CASE("the range set agrees with a family-aware linear scan around the IPv4 block") {
  // Rules of both families and '*', crowded around both ends of ::ffff:0:0/96, overlapping a lot.
  const IpAddress v4_first = IpAddress::from_v4(0);
  const IpAddress v4_last = IpAddress::from_v4(0xffffffffu);
  auto offset = [](IpAddress a, int64_t by) {
    for (; by > 0; --by) a = a.next();
    for (; by < 0; ++by) a = a.prev();
    return a;
  };
  uint32_t seed = 777;
  auto rnd = [&] {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
  };
  struct Case {
    IpRange range;
    bool any;
  };
  std::vector<Case> cases;
  std::vector<RangeSet::Entry> entries;
  for (uint32_t i = 0; i < 200; ++i) {
    const IpAddress& edge = rnd() % 2 ? v4_first : v4_last;
    IpAddress first = offset(edge, static_cast<int64_t>(rnd() % 400) - 200);
    IpAddress last = offset(first, rnd() % 150);
    IpRange range{first, last};
    bool any = false;
    switch (rnd() % 10) {
      case 0: range = rule("*").range; any = true; break;
      case 1: range = rule("::/0").range; break;
      case 2: range = rule("0.0.0.0/0").range; break;
      default:
        // Keep IPv4 rules inside the block as parse_address_rule would (no mixed ranges).
        if (first.is_v4() != last.is_v4() && first.is_v4()) range.last = v4_last;
        break;
    }
    cases.push_back({range, any});
    entries.push_back({range, i});
  }
  RangeSet set(entries);
  auto width = [](const IpRange& r) {
    return std::make_pair(r.last.hi() - r.first.hi() - (r.last.lo() < r.first.lo() ? 1 : 0), r.last.lo() - r.first.lo());
  };
  for (const IpAddress& edge : {v4_first, v4_last}) {
    for (int64_t d = -260; d <= 260; ++d) {
      IpAddress probe = offset(edge, d);
      std::optional<uint32_t> expect;
      std::pair<uint64_t, uint64_t> best{};
      for (uint32_t i = 0; i < cases.size(); ++i) {
        const IpRange& r = cases[i].range;
        bool v4_rule = r.first.is_v4() && r.last.is_v4();
        if (!(r.first <= probe && probe <= r.last) || (!cases[i].any && probe.is_v4() != v4_rule)) continue;
        if (!expect || width(r) < best) {
          expect = i;
          best = width(r);
        }
      }
      auto got = set.find(probe);
      if (got != expect) {
        CAPTURE(probe.str());
        REQUIRE(got == expect);
      }
    }
  }
}

TEST_CASE("explain and the daemon's check agree next to IPv6 rules and blocks") {
  AccessPolicy p;
  REQUIRE(p.set_rules(AccessList::kDeny, "::/0").ok());
  // The block as `mailctl block add ::1` stores it, loaded as the daemon and mailctl load it.
  auto key = parse_prefix_text("::/64");
  REQUIRE(key.ok());
  Block stored;
  stored.network = key->network;
  stored.prefix = key->bits;
  stored.cause = BlockCause::kManual;
  stored.reason = "by admin";
  p.guard().replace_blocks({stored}, {});
  const std::vector<std::pair<const char*, const char*>> expected{
      {"127.0.0.1", "127.0.0.1: allow (default)\n"},
      {"::ffff:127.0.0.1", "127.0.0.1: allow (default)\n"},
      {"::1", "::1: deny (blocked)\n"},
      {"2001:db8::1", "2001:db8::1: deny (deny_list)\n"}};
  for (const auto& [address, first_line] : expected) {
    CAPTURE(address);
    std::string text = p.explain(ip(address), t0);
    CHECK(text.rfind(first_line, 0) == 0);
    Verdict evaluated = p.evaluate(ip(address), t0);
    Verdict checked = p.check(ip(address), t0);
    CHECK(evaluated.decision == checked.decision);
    CHECK(evaluated.reason == checked.reason);
    CHECK(evaluated.rule_text == checked.rule_text);
  }
  std::string v4 = p.explain(ip("127.0.0.1"), t0);
  CHECK_FALSE(contains(v4, "::/"));
  CHECK(contains(v4, "counted as 127.0.0.1,"));
}

TEST_CASE("parse_block_cause reads back every cause name") {
  for (BlockCause c : {BlockCause::kLoginFailures, BlockCause::kAutoDeny, BlockCause::kManual}) {
    CHECK(parse_block_cause(block_cause_name(c)) == c);
  }
  CHECK(parse_block_cause("edited-by-hand") == BlockCause::kManual);
}
