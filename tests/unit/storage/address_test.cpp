// Address parsing: mailbox@postoffice, alternate @ characters, and the names each part allows.
#include <doctest/doctest.h>

#include <string>

#include "storage/address.h"

using mailroom::ErrorCode;
using mailroom::storage::Address;
using mailroom::storage::normalize_mailbox_name;
using mailroom::storage::normalize_postoffice_name;
using mailroom::storage::parse_address;

TEST_CASE("an address is split at '@' and lower-cased") {
  auto a = parse_address("Alice.Smith@Example.TEST");
  REQUIRE(a.ok());
  CHECK(a->mailbox == "alice.smith");
  CHECK(a->postoffice == "example.test");
  CHECK(a->str() == "alice.smith@example.test");
}

TEST_CASE("each alternate @ character splits an address") {
  for (const char* login : {"alice#example.test", "alice$example.test", "alice%example.test", "ALICE%Example.Test"}) {
    CAPTURE(login);
    auto a = parse_address(login, "#$%");
    REQUIRE(a.ok());
    CHECK(*a == Address{"alice", "example.test"});
  }
  // '@' still works when alternates are configured.
  auto at = parse_address("alice@example.test", "#$%");
  REQUIRE(at.ok());
  CHECK(*at == Address{"alice", "example.test"});
}

TEST_CASE("alternate @ characters are not accepted unless configured") {
  auto a = parse_address("alice#example.test");
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().code == ErrorCode::kInvalidArgument);
  CHECK(a.error().message.find("no '@'") != std::string::npos);
  CHECK_FALSE(parse_address("alice%example.test", "#").ok());
}

TEST_CASE("'@' wins over an alternate that is also a legal mailbox character") {
  auto a = parse_address("alice+tag@example.test", "+");
  REQUIRE(a.ok());
  CHECK(*a == Address{"alice+tag", "example.test"});
  auto b = parse_address("alice+example.test", "+");
  REQUIRE(b.ok());
  CHECK(*b == Address{"alice", "example.test"});
}

TEST_CASE("bad addresses are rejected with a message naming the problem") {
  struct Case {
    const char* login;
    const char* alt;
    const char* expect;
  };
  const Case cases[] = {
      {"", "", "empty"},
      {"alice", "", "no '@'"},
      {"@example.test", "", "empty mailbox part"},
      {"alice@", "", "empty postoffice part"},
      {"alice@bob@example.test", "", "more than one '@'"},
      {"alice#bob#example.test", "#", "more than one '#'"},
      {"alice#bob$example.test", "#$", "postoffice name"},
      {"al ice@example.test", "", "mailbox name"},
      {".alice@example.test", "", "start or end with '.'"},
      {"al..ice@example.test", "", "'..'"},
      {"alice@example..test", "", "empty label"},
      {"alice@-example.test", "", "starting or ending with '-'"},
      {"alice@exa_mple.test", "", "only letters, digits"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.login);
    auto a = parse_address(c.login, c.alt);
    REQUIRE_FALSE(a.ok());
    CHECK(a.error().code == ErrorCode::kInvalidArgument);
    CHECK(a.error().message.find(c.expect) != std::string::npos);
  }
}

TEST_CASE("postoffice names follow DNS label rules") {
  CHECK(normalize_postoffice_name("Mail-1.Example.TEST").value() == "mail-1.example.test");
  CHECK(normalize_postoffice_name("localhost").value() == "localhost");
  CHECK(normalize_postoffice_name(std::string(63, 'a') + ".test").ok());
  CHECK_FALSE(normalize_postoffice_name(std::string(64, 'a') + ".test").ok());
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += std::string(63, 'a') + ".";
  long_name.pop_back();  // 255 chars
  CHECK_FALSE(normalize_postoffice_name(long_name).ok());
  CHECK_FALSE(normalize_postoffice_name("example.test.").ok());
  CHECK_FALSE(normalize_postoffice_name(".example.test").ok());
  CHECK_FALSE(normalize_postoffice_name("example-.test").ok());
  CHECK_FALSE(normalize_postoffice_name("").ok());
}

TEST_CASE("mailbox names allow letters, digits and . _ + - up to 64 characters") {
  CHECK(normalize_mailbox_name("A.b_c+d-E9").value() == "a.b_c+d-e9");
  CHECK(normalize_mailbox_name(std::string(64, 'x')).ok());
  CHECK_FALSE(normalize_mailbox_name(std::string(65, 'x')).ok());
  CHECK_FALSE(normalize_mailbox_name("alice.").ok());
  CHECK_FALSE(normalize_mailbox_name("ali\"ce").ok());
  CHECK_FALSE(normalize_mailbox_name("").ok());
}

TEST_CASE("a mailbox name may be UTF-8 (RFC 6531/6856): only ASCII is lower-cased, invalid UTF-8 is refused") {
  CHECK(normalize_mailbox_name("J\xc3\xb6rg").value() == "j\xc3\xb6rg");           // Jörg: the ö kept as is
  CHECK(normalize_mailbox_name("\xc3\x96LE").value() == "\xc3\x96le");             // ÖLE: Ö not folded
  CHECK(normalize_mailbox_name("\xe7\x94\xb0\xe4\xb8\xad").value() == "\xe7\x94\xb0\xe4\xb8\xad");  // 田中
  CHECK(normalize_mailbox_name("\xf0\x9f\x93\xac").ok());                           // U+1F4EC, 4 octets
  const char* bad[] = {
      "j\xf6rg",          // Latin-1, not UTF-8
      "\xc3",             // truncated
      "\xc0\xaf",         // overlong '/'
      "\xed\xa0\x80",     // a surrogate
      "\xf4\x90\x80\x80", // past U+10FFFF
      "a\xc2\x85" "b",    // U+0085, a C1 control
  };
  for (const char* name : bad) {
    CAPTURE(name);
    auto r = normalize_mailbox_name(name);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("UTF-8") != std::string::npos);
  }
  // 64 octets, not characters: 32 two-octet letters fit, 33 do not.
  std::string two;
  for (int i = 0; i < 32; ++i) two += "\xc3\xa9";
  CHECK(normalize_mailbox_name(two).ok());
  CHECK_FALSE(normalize_mailbox_name(two + "\xc3\xa9").ok());
  auto a = parse_address("J\xc3\xb6rg@Example.TEST");
  REQUIRE(a.ok());
  CHECK(a->mailbox == "j\xc3\xb6rg");
  CHECK(a->postoffice == "example.test");
}

TEST_CASE("a postoffice name stays ASCII: an internationalised domain is given as its A-label") {
  CHECK(normalize_postoffice_name("xn--bcher-kva.example").value() == "xn--bcher-kva.example");
  auto r = normalize_postoffice_name("b\xc3\xbc" "cher.example");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("A-label") != std::string::npos);
}
