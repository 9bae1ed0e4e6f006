// SMTP/LMTP command parsing: the keyword table, the MAIL FROM / RCPT TO framing and ESMTP
// parameters (the path grammar itself is smtp_path.cpp), and the EHLO/HELO/LHLO argument check.
#include "modules/smtp-stub/smtp_command.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "modules/smtp-stub/smtp_path.h"

namespace mailroom::smtp {

namespace {

constexpr std::size_t kMaxSizeDigits = 20;  // RFC 1870: SIZE is at most 20 digits

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
  }
  return true;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_upper(c);
  return out;
}

bool has_control(std::string_view text) {
  for (char c : text) {
    if (is_control(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

ParseError control_characters_error() { return {501, "5.5.4", "control characters are not allowed"}; }

constexpr std::array<std::pair<std::string_view, Verb>, 15> kVerbs{{
    {"EHLO", Verb::kEhlo}, {"HELO", Verb::kHelo}, {"LHLO", Verb::kLhlo}, {"MAIL", Verb::kMail},
    {"RCPT", Verb::kRcpt}, {"DATA", Verb::kData}, {"BDAT", Verb::kBdat}, {"RSET", Verb::kRset},
    {"NOOP", Verb::kNoop}, {"QUIT", Verb::kQuit}, {"HELP", Verb::kHelp}, {"VRFY", Verb::kVrfy},
    {"EXPN", Verb::kExpn}, {"STARTTLS", Verb::kStarttls}, {"AUTH", Verb::kAuth},
}};

// What differs between the two path commands: the prefix, the usage line, the RFC 3463 code
// of an address fault (X.1.7 sender, X.1.3 recipient) and its wording.
struct PathCommand {
  std::string_view prefix;       // "FROM:" / "TO:"
  std::string_view usage;        // the 501 5.5.4 text when the framing is wrong
  std::string_view address_code;
  std::string_view bad_syntax;   // the text of a PathFault::kSyntax
};
constexpr PathCommand kMailFrom{"FROM:", "Syntax: MAIL FROM:<address>", "5.1.7",
                                "bad sender address syntax"};
constexpr PathCommand kRcptTo{"TO:", "Syntax: RCPT TO:<address>", "5.1.3",
                              "bad recipient address syntax"};

ParseError address_error(const PathCommand& command, std::string_view text) {
  return {501, std::string(command.address_code), std::string(text)};
}

ParseError path_fault_error(const PathCommand& command, PathFault fault) {
  switch (fault) {
    case PathFault::kTooLong: return address_error(command, "address too long");
    case PathFault::kLocalTooLong: return address_error(command, "local part too long");
    case PathFault::kDomainTooLong: return address_error(command, "domain name too long");
    case PathFault::kLabelTooLong: return address_error(command, "domain label too long");
    case PathFault::kBadUtf8: return address_error(command, "address is not valid UTF-8");
    case PathFault::kSyntax: break;
  }
  return address_error(command, command.bad_syntax);
}

ParseError utf8_required_error() { return {553, "5.6.7", "non-ASCII address requires SMTPUTF8"}; }
ParseError unknown_parameter_error() { return {555, "5.5.4", "parameter not recognised"}; }
ParseError parameter_error(std::string_view text) { return {501, "5.5.4", std::string(text)}; }

// A MAIL/RCPT argument split into its path and the parameter text after it.
struct FramedPath {
  ParsedPath path;
  std::string_view params;  // after the path and its separating spaces; may be empty
};

// "FROM:" / "TO:" (any case), optional spaces, then the path in angle brackets, then nothing or
// spaces and parameters. A bare address without <> is refused as Postfix does with
// strict_rfc821_envelopes: RFC 5321 4.1.2 requires the brackets, and accepting a bare address
// means guessing where it ends and the parameters begin.
std::variant<FramedPath, ParseError> frame_path(std::string_view arg, const PathCommand& command) {
  if (has_control(arg)) return control_characters_error();
  if (arg.size() < command.prefix.size() ||
      !equals_ignoring_case(arg.substr(0, command.prefix.size()), command.prefix)) {
    return parameter_error(command.usage);
  }
  std::string_view rest = arg.substr(command.prefix.size());
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  if (rest.empty() || rest.front() != '<') return parameter_error(command.usage);

  auto parsed = parse_path(rest);
  if (auto* fault = std::get_if<PathFault>(&parsed)) return path_fault_error(command, *fault);
  FramedPath framed{std::move(std::get<ParsedPath>(parsed)), {}};
  rest.remove_prefix(framed.path.length);
  if (!rest.empty() && rest.front() != ' ') return parameter_error(command.usage);
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  framed.params = rest;
  return framed;
}

struct Parameter {
  std::string keyword;                   // upper-cased
  std::optional<std::string_view> value;  // nullopt for a bare KEYWORD
};

// esmtp-param = esmtp-keyword ["=" esmtp-value]; esmtp-keyword = (ALPHA / DIGIT)
// *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126) (RFC 5321 4.1.2). No value of a
// parameter offered here is UTF-8, so non-ASCII is a syntax error.
std::variant<Parameter, ParseError> parse_parameter(std::string_view token) {
  const std::size_t equals = token.find('=');
  const std::string_view keyword = token.substr(0, equals);
  if (keyword.empty() || keyword.front() == '-') return parameter_error("bad parameter syntax");
  for (char c : keyword) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-') return parameter_error("bad parameter syntax");
  }
  Parameter parameter{upper(keyword), std::nullopt};
  if (equals == std::string_view::npos) return parameter;
  const std::string_view value = token.substr(equals + 1);
  if (value.empty()) return parameter_error("bad parameter syntax");
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 33 || byte > 126 || c == '=') return parameter_error("bad parameter syntax");
  }
  parameter.value = value;
  return parameter;
}

// Calls `apply(const Parameter&)` (which returns std::optional<ParseError>) for each parameter
// of the space-separated `text`; the first error stops. A keyword given twice is 501 5.5.4.
template <typename Apply>
std::optional<ParseError> for_each_parameter(std::string_view text, Apply&& apply) {
  std::vector<std::string> seen;
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    const std::string_view token = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    if (token.empty()) continue;  // doubled spaces
    auto parsed = parse_parameter(token);
    if (auto* error = std::get_if<ParseError>(&parsed)) return std::move(*error);
    const Parameter& parameter = std::get<Parameter>(parsed);
    for (const std::string& keyword : seen) {
      if (keyword == parameter.keyword) return parameter_error("duplicate parameter");
    }
    if (auto error = apply(parameter)) return error;
    seen.push_back(parameter.keyword);
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_size(std::string_view digits) {
  if (digits.empty() || digits.size() > kMaxSizeDigits) return std::nullopt;
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

std::optional<ParseError> apply_mail_parameter(const Parameter& parameter, bool smtputf8_offered,
                                               MailFrom& mail) {
  if (parameter.keyword == "SIZE") {
    const auto size = parameter.value ? parse_size(*parameter.value) : std::nullopt;
    if (!size) return parameter_error("bad SIZE value");
    mail.size = size;
  } else if (parameter.keyword == "BODY") {
    // RFC 6152 8BITMIME; BINARYMIME (RFC 3030) is not offered.
    if (parameter.value && equals_ignoring_case(*parameter.value, "7BIT")) {
      mail.body = BodyType::k7Bit;
    } else if (parameter.value && equals_ignoring_case(*parameter.value, "8BITMIME")) {
      mail.body = BodyType::k8BitMime;
    } else {
      return parameter_error("bad BODY value");
    }
  } else if (parameter.keyword == "SMTPUTF8" && smtputf8_offered) {
    // Not offered, it is an unknown parameter (RFC 6531 3.4): so a transaction can only get
    // smtputf8 (and UTF-8 recipients) when the EHLO reply advertised it.
    if (parameter.value) return parameter_error("SMTPUTF8 takes no value");
    mail.smtputf8 = true;
  } else {
    return unknown_parameter_error();
  }
  return std::nullopt;
}

}  // namespace

Command parse_command(std::string_view line) {
  const std::size_t last = line.find_last_not_of(" \t");  // trailing blanks go first
  line = line.substr(0, last == std::string_view::npos ? 0 : last + 1);
  Command command;
  const std::size_t space = line.find(' ');
  command.keyword = upper(line.substr(0, space));
  for (const auto& [keyword, verb] : kVerbs) {
    if (command.keyword == keyword) command.verb = verb;
  }
  if (space == std::string_view::npos) return command;
  std::string_view arg = line.substr(space);
  arg.remove_prefix(std::min(arg.find_first_not_of(' '), arg.size()));
  command.arg = std::string(arg);
  return command;
}

std::variant<MailFrom, ParseError> parse_mail_from(std::string_view arg, bool smtputf8_offered) {
  auto framed = frame_path(arg, kMailFrom);
  if (auto* error = std::get_if<ParseError>(&framed)) return std::move(*error);
  const FramedPath& from = std::get<FramedPath>(framed);
  // A reverse-path needs a domain: only RCPT TO:<Postmaster> may go without one.
  if (!from.path.null && from.path.domain.empty()) return address_error(kMailFrom, kMailFrom.bad_syntax);

  MailFrom mail;
  mail.address = std::string(from.path.mailbox);
  auto apply = [&](const Parameter& parameter) {
    return apply_mail_parameter(parameter, smtputf8_offered, mail);
  };
  if (auto error = for_each_parameter(from.params, apply)) return std::move(*error);
  if (from.path.non_ascii && !(mail.smtputf8 && smtputf8_offered)) return utf8_required_error();
  return mail;
}

std::variant<RcptTo, ParseError> parse_rcpt_to(std::string_view arg, bool utf8_allowed) {
  auto framed = frame_path(arg, kRcptTo);
  if (auto* error = std::get_if<ParseError>(&framed)) return std::move(*error);
  FramedPath& to = std::get<FramedPath>(framed);
  if (to.path.null) return address_error(kRcptTo, "a recipient cannot be empty");

  // No RCPT parameter is offered (DSN's NOTIFY and ORCPT are not): each is unknown.
  auto refuse = [](const Parameter&) { return std::optional<ParseError>(unknown_parameter_error()); };
  if (auto error = for_each_parameter(to.params, refuse)) return std::move(*error);
  if (to.path.non_ascii && !utf8_allowed) return utf8_required_error();

  RcptTo rcpt;
  if (to.path.domain.empty()) {
    // RFC 5321 4.5.1: <Postmaster> without a domain must be accepted; nothing else may lack one.
    if (to.path.source_route || !equals_ignoring_case(to.path.local, "postmaster")) {
      return address_error(kRcptTo, kRcptTo.bad_syntax);
    }
    rcpt.address = "postmaster";
    rcpt.local = "postmaster";
    rcpt.postmaster = true;
    return rcpt;
  }
  rcpt.address = std::string(to.path.mailbox);
  rcpt.local = std::move(to.path.local_unquoted);
  rcpt.domain = std::string(to.path.domain);
  if (!to.path.domain_is_literal) {
    for (char& c : rcpt.domain) c = ascii_lower(c);
  }
  return rcpt;
}

std::optional<ParseError> check_helo_argument(std::string_view arg) {
  if (arg.empty() || arg.find(' ') != std::string_view::npos) {
    return ParseError{501, "5.5.4", "Syntax: EHLO hostname"};
  }
  if (has_control(arg)) return control_characters_error();
  if (arg.size() > kMaxDomainLength) return ParseError{501, "5.5.4", "hostname too long"};
  // The name goes into the Received: header: anything else printable is accepted, as real
  // servers do (underscores, bare IPs, unbracketed IPv6), but non-ASCII must be UTF-8.
  if (!is_well_formed_utf8(arg)) return ParseError{501, "5.5.4", "hostname is not valid UTF-8"};
  return std::nullopt;
}

}  // namespace mailroom::smtp
