// SMTP/LMTP command parsing (pure): one command line (without its ending) -> a typed command,
// and the MAIL FROM / RCPT TO arguments (RFC 5321 4.1.2 paths, ESMTP parameters of RFC 1870
// SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8). Errors carry the reply to send.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace mailroom::smtp {

enum class Verb {
  kEhlo, kHelo, kLhlo, kMail, kRcpt, kData, kBdat, kRset, kNoop, kQuit, kHelp, kVrfy, kExpn,
  kStarttls, kAuth, kUnknown
};

struct Command {
  Verb verb = Verb::kUnknown;
  std::string keyword;  // as sent, upper-cased (for the log and "500 ... <keyword>")
  std::string arg;      // everything after the keyword and the spaces after it, trailing spaces removed
};

// The keyword is the text up to the first space (case-insensitive). Never fails: an empty line
// or an unknown keyword is Verb::kUnknown.
Command parse_command(std::string_view line);

// A reply a parse failure asks for: e.g. {501, "5.5.4", "Syntax: MAIL FROM:<address>"}.
struct ParseError {
  int code = 501;
  std::string enhanced;  // RFC 3463 status code, e.g. "5.5.4"
  std::string text;
};

enum class BodyType { kUnspecified, k7Bit, k8BitMime };

// MAIL FROM:<reverse-path> [SP params]. "FROM:" is case-insensitive; RFC 5321 says no space
// after the colon, but "FROM: <a@b>" is accepted (Postfix does, many clients send it).
// The angle brackets are required; a source route (<@a,@b:user@dom>) is accepted and dropped.
struct MailFrom {
  std::string address;  // "" for the null reverse-path <>; the local part keeps its case and
                        // its quoting as sent ("John Doe"@example.org)
  std::optional<uint64_t> size;  // SIZE=n
  BodyType body = BodyType::kUnspecified;  // BODY=7BIT | BODY=8BITMIME
  bool smtputf8 = false;                   // SMTPUTF8
};
// Params: keywords case-insensitive, each at most once; unknown ones are 555 5.5.4
// ("parameter not recognised"); SIZE not a decimal (at most 20 digits) 501 5.5.4; BODY other
// than 7BIT/8BITMIME 501 5.5.4 (BINARYMIME is not offered). Non-ASCII in the address is accepted
// only with the SMTPUTF8 parameter and when `smtputf8_offered` (else 553 5.6.7, RFC 6531 3.4).
// Control characters anywhere: 501 5.5.4. SMTPUTF8 when not `smtputf8_offered` is an unknown
// parameter (555 5.5.4), so `smtputf8` is only ever true when the EHLO reply advertised it.
// Address faults are 501 5.1.7 (syntax, RFC 5321 4.5.3.1 lengths, malformed UTF-8); a
// reverse-path needs a domain. The path grammar and its limits: smtp_path.h.
std::variant<MailFrom, ParseError> parse_mail_from(std::string_view arg, bool smtputf8_offered);

// RCPT TO:<forward-path> [SP params]. "<Postmaster>" (any case, no domain) is allowed
// (RFC 5321 4.5.1) and returned as address "postmaster". No parameters are supported (NOTIFY,
// ORCPT: DSN is not offered): any is 555 5.5.4. A null path <> is 501 5.1.3.
struct RcptTo {
  std::string address;   // local@domain as sent (local part case kept, quotes kept)
  std::string local;     // the local part, unquoted (quoted-pair escapes resolved)
  std::string domain;    // the domain, lower-cased (an address literal [1.2.3.4] kept as sent)
  bool postmaster = false;  // <Postmaster> without a domain
};
// `utf8_allowed`: the transaction's MAIL FROM had SMTPUTF8 (non-ASCII otherwise 553 5.6.7).
// Address faults are 501 5.1.3; <Postmaster> with a source route is one of them.
std::variant<RcptTo, ParseError> parse_rcpt_to(std::string_view arg, bool utf8_allowed);

// Checks an EHLO/HELO/LHLO argument: a domain name or an address literal ([1.2.3.4],
// [IPv6:...]). Lenient like real servers (an underscore, a bare IP are accepted); empty, with
// spaces/control characters or over RFC 5321's 255 octets (kMaxDomainLength: it goes into the
// Received header, whose lines RFC 5322 caps at 998) is a ParseError (501 5.5.4).
std::optional<ParseError> check_helo_argument(std::string_view arg);

}  // namespace mailroom::smtp
