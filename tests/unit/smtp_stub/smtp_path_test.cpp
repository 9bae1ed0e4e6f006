// Tests for the RFC 5321 path grammar helpers: what parse_path reports besides the address
// (lengths, source route, literal domains) and the RFC 3629 UTF-8 check at its boundaries.
#include <doctest/doctest.h>

#include <string>
#include <variant>

#include "modules/smtp-stub/smtp_path.h"

using namespace std::string_literals;
using mailroom::smtp::is_well_formed_utf8;
using mailroom::smtp::parse_path;
using mailroom::smtp::ParsedPath;
using mailroom::smtp::PathFault;

TEST_CASE("parse_path: the parts of a path and where it ends") {
  const std::string text = "<@relay.example:\"J. D\"@[IPv6:::1]> SIZE=1";
  const auto result = parse_path(text);
  REQUIRE(std::holds_alternative<ParsedPath>(result));
  const ParsedPath& path = std::get<ParsedPath>(result);
  CHECK_FALSE(path.null);
  CHECK(path.source_route);
  CHECK(path.mailbox == "\"J. D\"@[IPv6:::1]");
  CHECK(path.local == "\"J. D\"");
  CHECK(path.local_unquoted == "J. D");
  CHECK(path.domain == "[IPv6:::1]");
  CHECK(path.domain_is_literal);
  CHECK_FALSE(path.non_ascii);
  CHECK(text.substr(path.length) == " SIZE=1");

  const auto null_path = parse_path("<> BODY=7BIT");
  REQUIRE(std::holds_alternative<ParsedPath>(null_path));
  CHECK(std::get<ParsedPath>(null_path).null);
  CHECK(std::get<ParsedPath>(null_path).length == 2);

  const auto local_only = parse_path("<Postmaster>");
  REQUIRE(std::holds_alternative<ParsedPath>(local_only));
  CHECK(std::get<ParsedPath>(local_only).domain.empty());
  CHECK(std::get<ParsedPath>(local_only).local == "Postmaster");
}

TEST_CASE("parse_path: faults") {
  struct Case {
    std::string text;
    PathFault fault;
  };
  const Case cases[] = {
      {"", PathFault::kSyntax},
      {"a@b>", PathFault::kSyntax},
      {"<", PathFault::kSyntax},
      {"<a@b", PathFault::kSyntax},
      {"<\"a", PathFault::kSyntax},
      {"<\"a\\", PathFault::kSyntax},
      {"<\"a\\\x01\"@b>", PathFault::kSyntax},  // quoted-pair is %d32-126 only
      {"<\"a\0\"@b>"s, PathFault::kSyntax},
      {"<" + std::string(255, 'a') + ">", PathFault::kTooLong},
      {"<" + std::string(65, 'a') + "@b>", PathFault::kLocalTooLong},
      {"<a@" + std::string(64, 'b') + ">", PathFault::kLabelTooLong},
      {"<\xe2\x82@b>", PathFault::kBadUtf8},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const auto result = parse_path(c.text);
    REQUIRE(std::holds_alternative<PathFault>(result));
    CHECK(std::get<PathFault>(result) == c.fault);
  }
}

TEST_CASE("is_well_formed_utf8: RFC 3629 boundaries") {
  const std::string good[] = {
      "", "ascii", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
      "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "caf\xc3\xa9", "\0"s,
  };
  for (const std::string& text : good) {
    CAPTURE(text);
    CHECK(is_well_formed_utf8(text));
  }
  const std::string bad[] = {
      "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc2", "\xc2\x41", "\xe0\x9f\xbf", "\xed\xa0\x80",
      "\xed\xbf\xbf", "\xe1\x80", "\xe1\x80\x41", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
      "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe", "\xff", "a\xc3", "\xf0\x90\x80",
  };
  for (const std::string& text : bad) {
    CAPTURE(text);
    CHECK_FALSE(is_well_formed_utf8(text));
  }
}
