// Bind list parsing: the accepted spellings of addresses and ports, list separators, duplicate
// collapsing, the default port, and the errors a mistyped bind gets.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "core/net/bind_spec.h"

using mailroom::ErrorCode;
using mailroom::net::BindSpec;
using mailroom::net::parse_bind_list;
using mailroom::net::resolve_binds;

namespace {

std::vector<BindSpec> parse_ok(const std::string& text, int default_port) {
  auto r = parse_bind_list(text, default_port);
  REQUIRE_MESSAGE(r.ok(), "'", text, "': ", (r.ok() ? "" : r.error().message));
  return *r;
}

std::string parse_error(const std::string& text, int default_port = 110) {
  auto r = parse_bind_list(text, default_port);
  REQUIRE_MESSAGE(!r.ok(), "'", text, "' parsed into ", (r.ok() ? std::to_string(r->size()) : ""), " entries");
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
  return r.error().message;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("a lone '*' or an empty list means every address on the default port") {
  for (const char* text : {"*", "", "   ", "\t"}) {
    CAPTURE(text);
    auto binds = parse_ok(text, 110);
    REQUIRE(binds.size() == 1);
    CHECK(binds[0].address == "*");
    CHECK(binds[0].port == 110);
    CHECK(binds[0].str() == "*:110");
  }
}

TEST_CASE("'*' may carry its own port") {
  auto binds = parse_ok("*:1110", 110);
  REQUIRE(binds.size() == 1);
  CHECK(binds[0] == BindSpec{"*", 1110});
}

TEST_CASE("an IPv4 address without a port takes the default port") {
  auto binds = parse_ok("127.0.0.1", 995);
  REQUIRE(binds.size() == 1);
  CHECK(binds[0] == BindSpec{"127.0.0.1", 995});
  CHECK(binds[0].str() == "127.0.0.1:995");
}

TEST_CASE("an IPv4 port may follow a space, a tab or a colon") {
  for (const char* text : {"127.0.0.1 1110", "127.0.0.1:1110", "127.0.0.1\t1110", "127.0.0.1   1110",
                           "  127.0.0.1 1110  "}) {
    CAPTURE(text);
    auto binds = parse_ok(text, 110);
    REQUIRE(binds.size() == 1);
    CHECK(binds[0] == BindSpec{"127.0.0.1", 1110});
  }
}

TEST_CASE("an IPv6 address is written bare, or bracketed with a port after ':' or a space") {
  SUBCASE("bracketed with colon") {
    auto binds = parse_ok("[::1]:1110", 110);
    REQUIRE(binds.size() == 1);
    CHECK(binds[0] == BindSpec{"::1", 1110});
    CHECK(binds[0].str() == "[::1]:1110");
  }
  SUBCASE("bracketed with space") {
    auto binds = parse_ok("[::1] 1110", 110);
    REQUIRE(binds.size() == 1);
    CHECK(binds[0] == BindSpec{"::1", 1110});
  }
  SUBCASE("bracketed without a port") {
    auto binds = parse_ok("[::1]", 110);
    REQUIRE(binds.size() == 1);
    CHECK(binds[0] == BindSpec{"::1", 110});
  }
  SUBCASE("bare: every colon belongs to the address") {
    auto binds = parse_ok("::1", 110);
    REQUIRE(binds.size() == 1);
    CHECK(binds[0] == BindSpec{"::1", 110});
    auto full = parse_ok("2001:db8::25", 143);
    REQUIRE(full.size() == 1);
    CHECK(full[0] == BindSpec{"2001:db8::25", 143});
  }
  SUBCASE("bare with a space and a port") {
    auto binds = parse_ok("::1 1110", 110);
    REQUIRE(binds.size() == 1);
    CHECK(binds[0] == BindSpec{"::1", 1110});
  }
}

TEST_CASE("a list may be separated by ',' and ';' with spaces around entries, in order") {
  auto binds = parse_ok("127.0.0.1, 127.0.0.2 1110; [::1]:1111 ;*", 110);
  REQUIRE(binds.size() == 4);
  CHECK(binds[0] == BindSpec{"127.0.0.1", 110});
  CHECK(binds[1] == BindSpec{"127.0.0.2", 1110});
  CHECK(binds[2] == BindSpec{"::1", 1111});
  CHECK(binds[3] == BindSpec{"*", 110});
}

TEST_CASE("duplicate entries collapse to the first, also when one spells the default port") {
  auto binds = parse_ok("127.0.0.1, 127.0.0.1 110; 127.0.0.1:110, [::1], ::1 110, *, *:110", 110);
  REQUIRE(binds.size() == 3);
  CHECK(binds[0] == BindSpec{"127.0.0.1", 110});
  CHECK(binds[1] == BindSpec{"::1", 110});
  CHECK(binds[2] == BindSpec{"*", 110});
  // Same address, different ports: both kept.
  auto two = parse_ok("127.0.0.1 110, 127.0.0.1 1110", 110);
  CHECK(two.size() == 2);
}

// BUG (reported): IPv6 duplicates are compared as text, so two spellings of one address
// ("::1" and "0:0::1") are both kept; the Listener then fails the second bind with EADDRINUSE
// and the service reports a bind error for a configuration that is actually fine.
TEST_CASE("two spellings of the same IPv6 address collapse") {
  auto binds = parse_ok("[::1]:1110, [0:0:0:0:0:0:0:1]:1110", 110);
  CHECK(binds.size() == 1);
}

TEST_CASE("a port of 0, above 65535, or not a number is refused with the entry named") {
  for (const char* text : {"127.0.0.1 0", "127.0.0.1:0", "127.0.0.1 65536", "127.0.0.1:65536", "127.0.0.1 abc",
                           "[::1]:0", "[::1] 70000", "[::1]:abc", "* 0", "127.0.0.1 -1", "127.0.0.1 +110",
                           "127.0.0.1 110x", "127.0.0.1 1 2", "[::1]:1110:5"}) {
    CAPTURE(text);
    std::string why = parse_error(text);
    CHECK(contains(why, "bad port"));
    CHECK(contains(why, "1-65535"));
  }
  CHECK(contains(parse_error("127.0.0.1 65536"), "'65536'"));
  // The edges are fine.
  CHECK(parse_ok("127.0.0.1 1", 110)[0].port == 1);
  CHECK(parse_ok("127.0.0.1 65535", 110)[0].port == 65535);
}

TEST_CASE("malformed addresses are refused") {
  for (const char* text : {"999.1.1.1", "256.0.0.1", "1.2.3", "127.0.0.1.5", ":::1:::", "1110", "-bad.example",
                           "bad-.example", "a..b", "under_score.test", "mail.example.test.:110"}) {
    CAPTURE(text);
    std::string why = parse_error(text);
    CHECK(contains(why, "not an IP address"));
  }
  CHECK(contains(parse_error("999.1.1.1"), "'999.1.1.1'"));
}

TEST_CASE("host names parse, keep their port and are resolved separately") {
  auto specs = parse_ok("localhost 1110, mail.example.test:995, abc", 110);
  REQUIRE(specs.size() == 3);
  CHECK(specs[0] == BindSpec{"localhost", 1110});
  CHECK(specs[1] == BindSpec{"mail.example.test", 995});
  CHECK(specs[2] == BindSpec{"abc", 110});
  CHECK_FALSE(specs[0].is_numeric());
  CHECK(BindSpec{"127.0.0.1", 1}.is_numeric());
  CHECK(BindSpec{"*", 1}.is_numeric());

  auto resolved = resolve_binds({BindSpec{"127.0.0.2", 7}, BindSpec{"localhost", 1110},
                                 BindSpec{"no-such-host.invalid", 1}});
  REQUIRE(resolved.errors.size() == 1);
  CHECK(resolved.errors[0].first.address == "no-such-host.invalid");
  CHECK(contains(resolved.errors[0].second, "cannot resolve"));
  CHECK(resolved.binds[0] == BindSpec{"127.0.0.2", 7});
  bool loopback = false;
  for (const auto& b : resolved.binds) loopback = loopback || (b == BindSpec{"127.0.0.1", 1110});
  CHECK(loopback);
}

TEST_CASE("brackets must hold an IPv6 address and be closed") {
  CHECK(contains(parse_error("[::1"), "missing ']'"));
  CHECK(contains(parse_error("[127.0.0.1]:110"), "not an IPv6 address"));
  CHECK(contains(parse_error("[localhost]:110"), "not an IPv6 address"));
}

TEST_CASE("an empty entry in a list is an error, not a silent '*'") {
  for (const char* text : {"127.0.0.1,,127.0.0.2", "127.0.0.1, ;127.0.0.2", ",127.0.0.1", "127.0.0.1,", ";"}) {
    CAPTURE(text);
    CHECK(contains(parse_error(text), "empty entry"));
  }
}

TEST_CASE("one bad entry fails the whole list") {
  auto r = parse_bind_list("127.0.0.1, 999.1.1.1, ::1", 110);
  REQUIRE(!r.ok());
  CHECK(contains(r.error().message, "999.1.1.1"));
}

TEST_CASE("a default port of 0 leaves port-less entries at port 0") {
  auto binds = parse_ok("127.0.0.1, [::1]:1110", 0);
  REQUIRE(binds.size() == 2);
  CHECK(binds[0].port == 0);
  CHECK(binds[1].port == 1110);
}

TEST_CASE("BindSpec orders by address, then port") {
  CHECK(BindSpec{"127.0.0.1", 110} < BindSpec{"127.0.0.1", 995});
  CHECK(BindSpec{"127.0.0.1", 995} < BindSpec{"127.0.0.2", 110});
  CHECK_FALSE(BindSpec{"127.0.0.1", 110} < BindSpec{"127.0.0.1", 110});
}

TEST_CASE("a ':' without a port is refused, but a bare '::' is the IPv6 any-address") {
  CHECK_FALSE(parse_bind_list("127.0.0.1:", 110).ok());
  CHECK_FALSE(parse_bind_list("[::1]:", 110).ok());
  CHECK_FALSE(parse_bind_list("*:", 110).ok());
  auto any6 = parse_bind_list("::", 110);
  REQUIRE(any6.ok());
  CHECK(any6->at(0).address == "::");
  CHECK(any6->at(0).port == 110);
}

TEST_CASE("'none' alone is an empty list: no listener of that kind") {
  for (const char* text : {"none", "NONE", " None\t"}) {
    CAPTURE(text);
    CHECK(parse_ok(text, 110).empty());
  }
  CHECK(mailroom::net::check_bind_list("none") == std::nullopt);
}

TEST_CASE("a NUL byte is no part of an address (fuzz regression)") {
  // Found by fuzz_bind_spec: inet_pton stopped at the NUL, so "127.0.0.3\0junk" was accepted
  // as 127.0.0.3 and kept its tail.
  CHECK(contains(parse_error(std::string("127.0.0.3\0*", 11)), "is not an IP address"));
  CHECK(contains(parse_error(std::string("[::1\0x]:25", 11)), "is not an IPv6 address"));
  CHECK(mailroom::net::check_bind_list(std::string("::1\0", 4)).has_value());
}

TEST_CASE("'none' is never a host name and cannot be combined with addresses") {
  CHECK(contains(parse_error("none, 127.0.0.1"), "must stand alone"));
  CHECK(contains(parse_error("127.0.0.1; none 110"), "must stand alone"));
  CHECK(contains(parse_error("none:110"), "must stand alone"));
  CHECK(contains(parse_error("* ,NONE"), "must stand alone"));
  // Names that merely contain the word are host names as before.
  CHECK(parse_ok("nonexistent.example", 110).at(0).address == "nonexistent.example");
  CHECK(parse_ok("none.example 1110", 110).at(0) == BindSpec{"none.example", 1110});
}

TEST_CASE("a unix socket spec names its path, needs no resolution and orders apart from TCP binds") {
  BindSpec unix_spec = BindSpec::unix_socket("/var/lib/mailroom/lmtp.sock");
  CHECK(unix_spec.is_unix());
  CHECK_FALSE(BindSpec("127.0.0.1", 24).is_unix());
  CHECK(unix_spec.str() == "unix:/var/lib/mailroom/lmtp.sock");
  CHECK(unix_spec.is_numeric());
  CHECK(unix_spec != BindSpec::unix_socket("/other.sock"));
  CHECK(unix_spec == BindSpec::unix_socket("/var/lib/mailroom/lmtp.sock"));
  CHECK(BindSpec("*", 24) < unix_spec);  // TCP binds first
  auto resolved = resolve_binds({unix_spec});
  REQUIRE(resolved.binds.size() == 1);
  CHECK(resolved.binds[0] == unix_spec);
  CHECK(resolved.errors.empty());
}
