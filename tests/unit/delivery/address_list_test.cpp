// The RFC 5322 address-list parser, with the examples of RFC 5322 appendix A.
#include <doctest/doctest.h>

#include "delivery/address_list.h"
#include "delivery/header_scanner.h"

using namespace mailroom::delivery;

namespace {
std::vector<std::string> specs(std::string_view body) {
  auto r = parse_address_list(body);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  std::vector<std::string> out;
  for (const auto& s : *r) out.push_back(s.str());
  return out;
}
std::string error_of(std::string_view body) {
  auto r = parse_address_list(body);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("A.1.1 addressing: display names and angle addresses") {
  CHECK(specs(" John Doe <jdoe@machine.example>") == V{"jdoe@machine.example"});
  CHECK(specs(" Mary Smith <mary@example.net>") == V{"mary@example.net"});
}

TEST_CASE("A.1.2 quoted display names with specials, several addresses") {
  CHECK(specs(" \"Joe Q. Public\" <john.q.public@example.com>") == V{"john.q.public@example.com"});
  CHECK(specs(" Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>") ==
        V{"mary@x.test", "jdoe@example.org", "one@y.test"});
  CHECK(specs(" <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>") ==
        V{"boss@nil.test", "sysservices@example.net"});
}

TEST_CASE("A.1.3 groups, and the empty group") {
  CHECK(specs(" A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;") ==
        V{"c@a.test", "joe@where.test", "jdoe@one.test"});
  CHECK(specs(" Undisclosed recipients:;").empty());
  CHECK(specs(" undisclosed-recipients:;").empty());
}

TEST_CASE("A.3 resent fields parse the same") {
  CHECK(specs(" Mary Smith <mary@example.net>") == V{"mary@example.net"});
  CHECK(specs(" Jane Brown <j-brown@other.example>") == V{"j-brown@other.example"});
}

TEST_CASE("A.5 white space, comments, and other oddities; folding") {
  CHECK(specs(" Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>") == V{"pete@silly.test"});
  CHECK(specs("A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
              "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)") ==
        V{"c@public.example", "joe@example.org", "jdoe@one.test"});
  CHECK(specs("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;").empty());
}

TEST_CASE("A.6 obsolete forms: route, obs-phrase, obs-domain, empty elements") {
  CHECK(specs(" Mary Smith\r\n  <@node.test:mary@example.net>, , jdoe@test   . example") ==
        V{"mary@example.net", "jdoe@test.example"});
  CHECK(specs(" Joe Q. Public <john.q.public@example.com>") == V{"john.q.public@example.com"});
  CHECK(specs(" John Doe <jdoe@machine(comment).  example>") == V{"jdoe@machine.example"});
}

TEST_CASE("quoted local parts and domain literals stay as an envelope needs them") {
  CHECK(specs(" \"john doe\"@example.org") == V{"\"john doe\"@example.org"});
  CHECK(specs(" \"plain\"@example.org") == V{"plain@example.org"});
  CHECK(specs(" postmaster@[192.0.2.1]") == V{"postmaster@[192.0.2.1]"});
}

TEST_CASE("errors name the problem") {
  CHECK(error_of(" John") == "missing '@' in address 'John'");
  CHECK(error_of(" John Doe").find("<>") != std::string::npos);
  CHECK(error_of(" John Doe jdoe@x.test").find("<>") != std::string::npos);
  CHECK(error_of(" <jdoe@x.test") == "missing '>' after jdoe@x.test");
  CHECK(error_of(" Joe <>") == "empty angle address <>");
  CHECK(error_of(" \"unterminated@x.test") == "unterminated quoted string");
  CHECK(error_of(" a@b.test (comment") == "unterminated comment");
  CHECK(error_of(" G: a@b.test") == "missing ';' at the end of a group");
  CHECK(error_of(" G: H: a@b.test;;") == "a group inside a group");
  CHECK(error_of(" a@") == "invalid domain after a@");
  CHECK(error_of(" a@b.test c@d.test") == "expected ',' between addresses");
  CHECK_FALSE(parse_address_list(std::string(" a\0b@c.test", 11)).ok());
}

TEST_CASE("addresses compare case-insensitively in the domain only") {
  AddrSpec a{"Alice", "Example.TEST"}, b{"Alice", "example.test"}, c{"alice", "example.test"};
  CHECK(a.same_as(b));
  CHECK_FALSE(a.same_as(c));
}

TEST_CASE("header scanner: Bcc and Resent-Bcc left out with their continuation lines") {
  HeaderScanner h(1024);
  CHECK(h.feed("From: Alice <alice@example.test>"));
  CHECK(h.feed("To: bob@example.test,"));
  CHECK(h.feed("  carol@example.test"));
  CHECK_FALSE(h.feed("Bcc: dave@example.test,"));
  CHECK_FALSE(h.feed("\terin@example.test"));
  CHECK_FALSE(h.feed("Resent-Bcc: x@example.test"));
  CHECK(h.feed("Subject: hi"));
  CHECK(h.feed(" continued"));
  CHECK(h.feed("bcc : later@example.test") == false);
  CHECK(h.feed(""));
  CHECK_FALSE(h.in_header());
  CHECK(h.feed("Bcc: in the body is text"));
  REQUIRE(h.fields().size() == 4);
  CHECK(h.fields()[1].name == "to");
  CHECK(specs(h.fields()[1].body) == V{"bob@example.test", "carol@example.test"});
  CHECK(h.fields()[2].name == "bcc");
  CHECK(specs(h.fields()[2].body) == V{"dave@example.test", "erin@example.test"});
  CHECK(h.fields()[3].body == " later@example.test");
  CHECK_FALSE(h.overflow());
}

TEST_CASE("header scanner: the kept bytes are bounded; a non-field line starts the body") {
  HeaderScanner h(16);
  CHECK(h.feed("To: a-rather-long-name@example.test"));
  CHECK(h.overflow());
  HeaderScanner g(1024);
  CHECK(g.feed("To: a@example.test"));
  CHECK(g.feed("this is no field"));
  CHECK_FALSE(g.in_header());
  CHECK(g.feed("Bcc: x@example.test"));  // body text: kept, not a recipient
  CHECK(g.fields().size() == 1);
}
