// Tests for the SMTP/LMTP command parser: tables of command lines and MAIL/RCPT arguments ->
// the parsed value or the reply (code, enhanced code, text), hostile inputs included.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "modules/smtp-stub/smtp_command.h"

using namespace std::string_literals;
using mailroom::smtp::BodyType;
using mailroom::smtp::check_helo_argument;
using mailroom::smtp::MailFrom;
using mailroom::smtp::parse_command;
using mailroom::smtp::parse_mail_from;
using mailroom::smtp::parse_rcpt_to;
using mailroom::smtp::ParseError;
using mailroom::smtp::RcptTo;
using mailroom::smtp::Verb;

namespace {

struct ExpectedError {
  std::string input;
  int code;
  std::string enhanced;
  std::string text;
};

// The error a parse gave (the test fails when it gave a value).
template <typename Result>
ParseError error_of(const Result& result) {
  REQUIRE(std::holds_alternative<ParseError>(result));
  return std::get<ParseError>(result);
}

void check_error(const ParseError& got, const ExpectedError& want) {
  CHECK(got.code == want.code);
  CHECK(got.enhanced == want.enhanced);
  CHECK(got.text == want.text);
}

const std::string kLong64 = std::string(64, 'a');

}  // namespace

TEST_CASE("parse_command: keyword, verb and argument") {
  struct Case {
    std::string line;
    Verb verb;
    std::string keyword;
    std::string arg;
  };
  const Case cases[] = {
      {"EHLO client.example", Verb::kEhlo, "EHLO", "client.example"},
      {"ehlo client.example", Verb::kEhlo, "EHLO", "client.example"},
      {"HeLo x", Verb::kHelo, "HELO", "x"},
      {"LHLO x", Verb::kLhlo, "LHLO", "x"},
      {"MAIL FROM:<a@b>", Verb::kMail, "MAIL", "FROM:<a@b>"},
      {"mail from:<a@b> SIZE=10  ", Verb::kMail, "MAIL", "from:<a@b> SIZE=10"},
      {"RCPT   TO:<a@b>\t \t", Verb::kRcpt, "RCPT", "TO:<a@b>"},
      {"DATA", Verb::kData, "DATA", ""},
      {"BDAT 100 LAST", Verb::kBdat, "BDAT", "100 LAST"},
      {"RSET", Verb::kRset, "RSET", ""},
      {"noop", Verb::kNoop, "NOOP", ""},
      {"NOOP   ", Verb::kNoop, "NOOP", ""},
      {"QUIT", Verb::kQuit, "QUIT", ""},
      {"HELP mail", Verb::kHelp, "HELP", "mail"},
      {"VRFY user", Verb::kVrfy, "VRFY", "user"},
      {"EXPN list", Verb::kExpn, "EXPN", "list"},
      {"StartTLS", Verb::kStarttls, "STARTTLS", ""},
      {"AUTH PLAIN AGZvbwBiYXI=", Verb::kAuth, "AUTH", "PLAIN AGZvbwBiYXI="},
      {"", Verb::kUnknown, "", ""},
      {"   ", Verb::kUnknown, "", ""},
      {" NOOP", Verb::kUnknown, "", "NOOP"},
      {"XYZZY plugh", Verb::kUnknown, "XYZZY", "plugh"},
      {"MAILFROM:<a@b>", Verb::kUnknown, "MAILFROM:<A@B>", ""},
      {"NOOP\t", Verb::kNoop, "NOOP", ""},  // trailing blanks of the line go first
      {"NOOP\tx", Verb::kUnknown, "NOOP\tX", ""},  // the keyword ends at a space only
      {"STARTTLSX", Verb::kUnknown, "STARTTLSX", ""},
      {"QUI", Verb::kUnknown, "QUI", ""},
      {"\0NOOP"s, Verb::kUnknown, "\0NOOP"s, ""},
      {"da\xc3\xa9ta x", Verb::kUnknown, "DA\xc3\xa9TA", "x"},  // ASCII-only upper-casing
  };
  for (const Case& c : cases) {
    CAPTURE(c.line);
    const auto command = parse_command(c.line);
    CHECK(command.verb == c.verb);
    CHECK(command.keyword == c.keyword);
    CHECK(command.arg == c.arg);
  }
}

TEST_CASE("parse_command: a very long line is split, not refused") {
  const std::string line = "MAIL " + std::string(100000, 'x');
  const auto command = parse_command(line);
  CHECK(command.verb == Verb::kMail);
  CHECK(command.arg.size() == 100000);
}

TEST_CASE("parse_mail_from: accepted paths and parameters") {
  struct Case {
    std::string arg;
    std::string address;
    std::optional<uint64_t> size;
    BodyType body;
    bool smtputf8;
  };
  const Case cases[] = {
      {"FROM:<a@b>", "a@b", std::nullopt, BodyType::kUnspecified, false},
      {"from:<a@b>", "a@b", std::nullopt, BodyType::kUnspecified, false},
      {"FROM: <a@b>", "a@b", std::nullopt, BodyType::kUnspecified, false},
      {"FROM:   <a@b>   ", "a@b", std::nullopt, BodyType::kUnspecified, false},
      {"FROM:<>", "", std::nullopt, BodyType::kUnspecified, false},
      {"FROM:<> SIZE=10 BODY=8bitmime smtputf8", "", 10, BodyType::k8BitMime, true},
      {"FROM:<John.Doe@Example.ORG>", "John.Doe@Example.ORG", std::nullopt, BodyType::kUnspecified,
       false},
      {"FROM:<\"John Doe\"@example.org>", "\"John Doe\"@example.org", std::nullopt,
       BodyType::kUnspecified, false},
      {"FROM:<\"a\\\"b\"@c>", "\"a\\\"b\"@c", std::nullopt, BodyType::kUnspecified, false},
      {"FROM:<\"\"@c>", "\"\"@c", std::nullopt, BodyType::kUnspecified, false},
      {"FROM:<@a,@b:u@d>", "u@d", std::nullopt, BodyType::kUnspecified, false},
      {"FROM:<@[10.0.0.1]:u@d>", "u@d", std::nullopt, BodyType::kUnspecified, false},
      {"FROM:<u@[192.0.2.1]>", "u@[192.0.2.1]", std::nullopt, BodyType::kUnspecified, false},
      {"FROM:<u@[IPv6:2001:db8::1]>", "u@[IPv6:2001:db8::1]", std::nullopt,
       BodyType::kUnspecified, false},
      {"FROM:<u@[x-tag:anything]>", "u@[x-tag:anything]", std::nullopt, BodyType::kUnspecified,
       false},
      {"FROM:<bounce+x=y/z!%{|}~'*#$&^`?@mail-1.example>", "bounce+x=y/z!%{|}~'*#$&^`?@mail-1.example",
       std::nullopt, BodyType::kUnspecified, false},
      {"FROM:<a@localhost>", "a@localhost", std::nullopt, BodyType::kUnspecified, false},
      {"FROM:<a@b> SIZE=0", "a@b", 0, BodyType::kUnspecified, false},
      {"FROM:<a@b> size=18446744073709551615", "a@b", UINT64_MAX, BodyType::kUnspecified, false},
      {"FROM:<a@b> SIZE=00000000000000000012", "a@b", 12, BodyType::kUnspecified, false},
      {"FROM:<a@b> BODY=7BIT", "a@b", std::nullopt, BodyType::k7Bit, false},
      {"FROM:<a@b> body=7bit", "a@b", std::nullopt, BodyType::k7Bit, false},
      {"FROM:<a@b>  BODY=8BITMIME   SIZE=5", "a@b", 5, BodyType::k8BitMime, false},
      {"FROM:<a@b> SMTPUTF8", "a@b", std::nullopt, BodyType::kUnspecified, true},
      {"FROM:<\xc3\xa9@b> SMTPUTF8", "\xc3\xa9@b", std::nullopt, BodyType::kUnspecified, true},
      {"FROM:<u@\xe4\xbe\x8b\xe3\x81\x88.jp> SMTPUTF8", "u@\xe4\xbe\x8b\xe3\x81\x88.jp", std::nullopt,
       BodyType::kUnspecified, true},
      {"FROM:<\"\xf0\x9f\x93\xa7 box\"@b> SMTPUTF8", "\"\xf0\x9f\x93\xa7 box\"@b", std::nullopt,
       BodyType::kUnspecified, true},
      {"FROM:<" + kLong64 + "@b>", kLong64 + "@b", std::nullopt, BodyType::kUnspecified, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.arg);
    const auto result = parse_mail_from(c.arg, true);
    REQUIRE(std::holds_alternative<MailFrom>(result));
    const MailFrom& mail = std::get<MailFrom>(result);
    CHECK(mail.address == c.address);
    CHECK(mail.size == c.size);
    CHECK(mail.body == c.body);
    CHECK(mail.smtputf8 == c.smtputf8);
  }
}

TEST_CASE("parse_mail_from: refused arguments and their replies") {
  const std::string label63 = std::string(63, 'd');
  const std::string domain_255 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'd');
  const ExpectedError cases[] = {
      // Framing: 501 5.5.4 with the usage line.
      {"", 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
      {"FROM:", 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
      {"FROM", 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
      {"TO:<a@b>", 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
      {"FROM :<a@b>", 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
      {"FROM:a@b", 501, "5.5.4", "Syntax: MAIL FROM:<address>"},  // strict: brackets required
      {"FROM:a@b SIZE=1", 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
      {"FROM:>", 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
      {"FROM:<a@b>x", 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
      {"FROM:<a@b>>", 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
      {"FROM:<><>", 501, "5.5.4", "Syntax: MAIL FROM:<address>"},
      // Control characters anywhere: 501 5.5.4.
      {"FROM:<a\0b@c>"s, 501, "5.5.4", "control characters are not allowed"},
      {"FROM:<a@b>\0"s, 501, "5.5.4", "control characters are not allowed"},
      {"FROM:<a@b>\tSIZE=1", 501, "5.5.4", "control characters are not allowed"},
      {"FROM:<\"a\x7f\"@b>", 501, "5.5.4", "control characters are not allowed"},
      {"FROM:<a@b>\r\nRCPT TO:<c@d>", 501, "5.5.4", "control characters are not allowed"},
      // Address syntax: 501 5.1.7.
      {"FROM:<", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<<a@b>>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@b", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@b SIZE=1", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<postmaster>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<@b>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@@b>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@b@c>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a b@c>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:< a@b>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@b >", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<.a@b>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a.@b>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a..b@c>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a(b)@c>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@b.>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@.b>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@b..c>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@-b.c>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@b-.c>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@b_c.d>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<\"a\"b\"@c>", 501, "5.1.7", "bad sender address syntax"},  // nested quotes
      {"FROM:<\"a\"\"b\"@c>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<\"a\".b@c>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<\"ab@c>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<\"ab\\", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<\"a>\"", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a\\b@c>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<@a,@b>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<@a:>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<@a,b:u@d>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<@:u@d>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@[]>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@[>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@]>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@[1.2.3.256]>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@[1.2.3]>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@[IPv6:1.2.3.4]>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@[IPv6:::1::2]>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@[tag-:x]>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@[tag:]>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@[1.2.3.4]x>", 501, "5.1.7", "bad sender address syntax"},
      {"FROM:<a@[[1.2.3.4]]>", 501, "5.1.7", "bad sender address syntax"},
      // RFC 5321 4.5.3.1 limits: 501 5.1.7.
      {"FROM:<" + std::string(65, 'a') + "@b>", 501, "5.1.7", "local part too long"},
      {"FROM:<\"" + std::string(63, 'a') + "\"@b>", 501, "5.1.7", "local part too long"},
      {"FROM:<a@" + std::string(64, 'd') + ".example>", 501, "5.1.7", "domain label too long"},
      {"FROM:<a@" + label63 + "." + std::string(64, 'd') + ">", 501, "5.1.7",
       "domain label too long"},
      {"FROM:<" + std::string(300, 'a') + "@b>", 501, "5.1.7", "address too long"},
      {"FROM:<a@" + domain_255 + ">", 501, "5.1.7", "address too long"},  // 256 < path
      {"FROM:<@" + domain_255 + ":a@b>", 501, "5.1.7", "address too long"},
      {"FROM:<" + std::string(100000, '<'), 501, "5.1.7", "bad sender address syntax"},
      // Parameters.
      {"FROM:<a@b> SIZE=99999999999999999999999", 501, "5.5.4", "bad SIZE value"},
      {"FROM:<a@b> SIZE=99999999999999999999", 501, "5.5.4", "bad SIZE value"},  // > 2^64-1
      {"FROM:<a@b> SIZE=18446744073709551616", 501, "5.5.4", "bad SIZE value"},
      {"FROM:<a@b> SIZE=", 501, "5.5.4", "bad parameter syntax"},
      {"FROM:<a@b> SIZE", 501, "5.5.4", "bad SIZE value"},
      {"FROM:<a@b> SIZE=-1", 501, "5.5.4", "bad SIZE value"},
      {"FROM:<a@b> SIZE=+1", 501, "5.5.4", "bad SIZE value"},
      {"FROM:<a@b> SIZE=1k", 501, "5.5.4", "bad SIZE value"},
      {"FROM:<a@b> SIZE=0x10", 501, "5.5.4", "bad SIZE value"},
      {"FROM:<a@b> SIZE=1=2", 501, "5.5.4", "bad parameter syntax"},
      {"FROM:<a@b> SIZE=1 size=2", 501, "5.5.4", "duplicate parameter"},
      {"FROM:<a@b> BODY=7BIT BODY=7BIT", 501, "5.5.4", "duplicate parameter"},
      {"FROM:<a@b> SMTPUTF8 SMTPUTF8", 501, "5.5.4", "duplicate parameter"},
      {"FROM:<a@b> BODY=BINARYMIME", 501, "5.5.4", "bad BODY value"},
      {"FROM:<a@b> BODY=8BIT", 501, "5.5.4", "bad BODY value"},
      {"FROM:<a@b> BODY", 501, "5.5.4", "bad BODY value"},
      {"FROM:<a@b> SMTPUTF8=yes", 501, "5.5.4", "SMTPUTF8 takes no value"},
      {"FROM:<a@b> =1", 501, "5.5.4", "bad parameter syntax"},
      {"FROM:<a@b> -X=1", 501, "5.5.4", "bad parameter syntax"},
      {"FROM:<a@b> X_Y=1", 501, "5.5.4", "bad parameter syntax"},
      {"FROM:<a@b> X=\xc3\xa9", 501, "5.5.4", "bad parameter syntax"},
      {"FROM:<a@b> RET=HDRS", 555, "5.5.4", "parameter not recognised"},  // DSN: not offered
      {"FROM:<a@b> ENVID=x", 555, "5.5.4", "parameter not recognised"},
      {"FROM:<a@b> AUTH=<>", 555, "5.5.4", "parameter not recognised"},
      {"FROM:<a@b> SIZE=1 XFOO", 555, "5.5.4", "parameter not recognised"},
      // UTF-8.
      {"FROM:<\xc3\xa9@b>", 553, "5.6.7", "non-ASCII address requires SMTPUTF8"},
      {"FROM:<a@\xc3\xa9.example> SIZE=1", 553, "5.6.7", "non-ASCII address requires SMTPUTF8"},
      {"FROM:<\"\xc3\xa9\"@b>", 553, "5.6.7", "non-ASCII address requires SMTPUTF8"},
      {"FROM:<\xc3@b> SMTPUTF8", 501, "5.1.7", "address is not valid UTF-8"},
      {"FROM:<\xc0\xaf@b> SMTPUTF8", 501, "5.1.7", "address is not valid UTF-8"},     // overlong
      {"FROM:<\xed\xa0\x80@b> SMTPUTF8", 501, "5.1.7", "address is not valid UTF-8"}, // surrogate
      {"FROM:<\xf4\x90\x80\x80@b> SMTPUTF8", 501, "5.1.7", "address is not valid UTF-8"},
      {"FROM:<\xff@b>", 501, "5.1.7", "address is not valid UTF-8"},
      {"FROM:<a@[\xc3\xa9]> SMTPUTF8", 501, "5.1.7", "bad sender address syntax"},
  };
  for (const ExpectedError& c : cases) {
    CAPTURE(c.input);
    check_error(error_of(parse_mail_from(c.input, true)), c);
  }
}

TEST_CASE("parse_mail_from: SMTPUTF8 only when offered") {
  check_error(error_of(parse_mail_from("FROM:<a@b> SMTPUTF8", false)),
              {"", 555, "5.5.4", "parameter not recognised"});

  check_error(error_of(parse_mail_from("FROM:<\xc3\xa9@b>", false)),
              {"", 553, "5.6.7", "non-ASCII address requires SMTPUTF8"});

  const auto plain = parse_mail_from("FROM:<a@b> SIZE=1 BODY=8BITMIME", false);
  REQUIRE(std::holds_alternative<MailFrom>(plain));
  CHECK_FALSE(std::get<MailFrom>(plain).smtputf8);
}

TEST_CASE("parse_mail_from: the longest path that fits is accepted") {
  // "<" + 64 + "@" + 189 + ">" = 256 octets.
  const std::string domain = std::string(63, 'd') + "." + std::string(63, 'd') + "." +
                             std::string(61, 'd');
  const std::string address = kLong64 + "@" + domain;
  REQUIRE(address.size() + 2 == 256);
  const auto result = parse_mail_from("FROM:<" + address + ">", false);
  REQUIRE(std::holds_alternative<MailFrom>(result));
  CHECK(std::get<MailFrom>(result).address == address);

  check_error(error_of(parse_mail_from("FROM:<" + address + "d>", false)),
              {"", 501, "5.1.7", "address too long"});
}

TEST_CASE("parse_rcpt_to: accepted recipients") {
  struct Case {
    std::string arg;
    std::string address;
    std::string local;
    std::string domain;
    bool postmaster;
  };
  const Case cases[] = {
      {"TO:<a@b>", "a@b", "a", "b", false},
      {"to:<a@b>", "a@b", "a", "b", false},
      {"To: <a@b>", "a@b", "a", "b", false},
      {"TO:<John.Doe@Example.ORG>", "John.Doe@Example.ORG", "John.Doe", "example.org", false},
      {"TO:<@x,@y:u@d>", "u@d", "u", "d", false},
      {"TO:<@x.example:U@D.Example>", "U@D.Example", "U", "d.example", false},
      {"TO:<Postmaster>", "postmaster", "postmaster", "", true},
      {"TO:<postmaster>", "postmaster", "postmaster", "", true},
      {"TO:<POSTMASTER>", "postmaster", "postmaster", "", true},
      {"TO:<postmaster@Example.org>", "postmaster@Example.org", "postmaster", "example.org", false},
      {"TO:<\"John Doe\"@example.org>", "\"John Doe\"@example.org", "John Doe", "example.org", false},
      {"TO:<\"a\\\"b\"@c>", "\"a\\\"b\"@c", "a\"b", "c", false},
      {"TO:<\"a\\\\b\"@c>", "\"a\\\\b\"@c", "a\\b", "c", false},
      {"TO:<\"\\a\\b\"@c>", "\"\\a\\b\"@c", "ab", "c", false},
      {"TO:<\"a@b\"@c>", "\"a@b\"@c", "a@b", "c", false},
      {"TO:<\"a>b\"@c>", "\"a>b\"@c", "a>b", "c", false},
      {"TO:<u@[192.0.2.1]>", "u@[192.0.2.1]", "u", "[192.0.2.1]", false},
      {"TO:<u@[IPv6:2001:DB8::1]>", "u@[IPv6:2001:DB8::1]", "u", "[IPv6:2001:DB8::1]", false},
      {"TO:<u@\xc3\x89X.example>", "u@\xc3\x89X.example", "u", "\xc3\x89x.example", false},
      {"TO:<\xc3\xa9@b>", "\xc3\xa9@b", "\xc3\xa9", "b", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.arg);
    const auto result = parse_rcpt_to(c.arg, true);
    REQUIRE(std::holds_alternative<RcptTo>(result));
    const RcptTo& rcpt = std::get<RcptTo>(result);
    CHECK(rcpt.address == c.address);
    CHECK(rcpt.local == c.local);
    CHECK(rcpt.domain == c.domain);
    CHECK(rcpt.postmaster == c.postmaster);
  }
}

TEST_CASE("parse_rcpt_to: refused recipients and their replies") {
  const ExpectedError cases[] = {
      {"", 501, "5.5.4", "Syntax: RCPT TO:<address>"},
      {"TO:", 501, "5.5.4", "Syntax: RCPT TO:<address>"},
      {"FROM:<a@b>", 501, "5.5.4", "Syntax: RCPT TO:<address>"},
      {"TO:a@b", 501, "5.5.4", "Syntax: RCPT TO:<address>"},  // strict: brackets required
      {"TO:<a@b>junk", 501, "5.5.4", "Syntax: RCPT TO:<address>"},
      {"TO:<a@b>\0"s, 501, "5.5.4", "control characters are not allowed"},
      {"TO:<a\x01@b>", 501, "5.5.4", "control characters are not allowed"},
      {"TO:<>", 501, "5.1.3", "a recipient cannot be empty"},
      {"TO:<> NOTIFY=NEVER", 501, "5.1.3", "a recipient cannot be empty"},
      {"TO:<", 501, "5.1.3", "bad recipient address syntax"},
      {"TO:<a@b", 501, "5.1.3", "bad recipient address syntax"},
      {"TO:<user>", 501, "5.1.3", "bad recipient address syntax"},
      {"TO:<postmaster2>", 501, "5.1.3", "bad recipient address syntax"},
      {"TO:<\"postmaster\">", 501, "5.1.3", "bad recipient address syntax"},
      {"TO:<@x:postmaster>", 501, "5.1.3", "bad recipient address syntax"},
      {"TO:<@x,@y:>", 501, "5.1.3", "bad recipient address syntax"},
      {"TO:<@x,@y>", 501, "5.1.3", "bad recipient address syntax"},
      {"TO:<\"a\"b\"@c>", 501, "5.1.3", "bad recipient address syntax"},
      {"TO:<a@b.>", 501, "5.1.3", "bad recipient address syntax"},
      {"TO:<" + std::string(65, 'a') + "@b>", 501, "5.1.3", "local part too long"},
      {"TO:<a@" + std::string(64, 'b') + ">", 501, "5.1.3", "domain label too long"},
      {"TO:<a@" + std::string(300, 'b') + ">", 501, "5.1.3", "address too long"},
      {"TO:<a@b> NOTIFY=NEVER", 555, "5.5.4", "parameter not recognised"},
      {"TO:<a@b> ORCPT=rfc822;a@b", 555, "5.5.4", "parameter not recognised"},
      {"TO:<a@b> SIZE=1", 555, "5.5.4", "parameter not recognised"},
      {"TO:<a@b> =x", 501, "5.5.4", "bad parameter syntax"},
      {"TO:<\xc3@b>", 501, "5.1.3", "address is not valid UTF-8"},
  };
  for (const ExpectedError& c : cases) {
    CAPTURE(c.input);
    check_error(error_of(parse_rcpt_to(c.input, true)), c);
  }
}

TEST_CASE("parse_rcpt_to: non-ASCII only in an SMTPUTF8 transaction") {
  for (const std::string arg : {"TO:<\xc3\xa9@b>", "TO:<a@\xc3\xa9.b>", "TO:<\"\xc3\xa9 x\"@b>"}) {
    CAPTURE(arg);
    check_error(error_of(parse_rcpt_to(arg, false)),
                {"", 553, "5.6.7", "non-ASCII address requires SMTPUTF8"});
    CHECK(std::holds_alternative<RcptTo>(parse_rcpt_to(arg, true)));
  }
  CHECK(std::holds_alternative<RcptTo>(parse_rcpt_to("TO:<a@b>", false)));
}

TEST_CASE("check_helo_argument: lenient, but not empty, spaced, with control characters or over 255 octets") {
  const std::string accepted[] = {
      "client.example", "CLIENT", "[192.0.2.1]", "[IPv6:2001:db8::1]", "192.0.2.1", "::1",
      "my_host.local", "host-", "x", "m\xc3\xbcller.example", std::string(255, 'h'),
  };
  for (const std::string& arg : accepted) {
    CAPTURE(arg);
    CHECK_FALSE(check_helo_argument(arg).has_value());
  }
  const ExpectedError refused[] = {
      {"", 501, "5.5.4", "Syntax: EHLO hostname"},
      {"client example", 501, "5.5.4", "Syntax: EHLO hostname"},
      {" client", 501, "5.5.4", "Syntax: EHLO hostname"},
      {"client\t", 501, "5.5.4", "control characters are not allowed"},
      {"cli\0ent"s, 501, "5.5.4", "control characters are not allowed"},
      {"client\r\nMAIL", 501, "5.5.4", "control characters are not allowed"},
      {"client\x7f", 501, "5.5.4", "control characters are not allowed"},
      {"cli\xffnt", 501, "5.5.4", "hostname is not valid UTF-8"},
      // Found by fuzz_smtp_session: a longer name made a Received header line over RFC 5322's 998.
      {std::string(256, 'h'), 501, "5.5.4", "hostname too long"},
  };
  for (const ExpectedError& c : refused) {
    CAPTURE(c.input);
    const auto error = check_helo_argument(c.input);
    REQUIRE(error.has_value());
    check_error(*error, c);
  }
}
