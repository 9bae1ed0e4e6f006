// Fuzzes the SMTP/LMTP command and path parsers (modules/smtp-stub/smtp_command.h, smtp_path.h):
// byte 0 bit 0 says whether SMTPUTF8 was offered (and allowed for RCPT); the rest is one command
// line, given to every parser.
// Invariants: the keyword is the line's first word upper-cased; an error is a 4xx/5xx reply with
// a matching enhanced code and printable text; an accepted path keeps the RFC 5321 limits and
// its UTF-8 is well formed; an accepted MAIL FROM / RCPT TO written back in canonical form
// parses to the same value; the UTF-8 check agrees with a reference decoder (RFC 3629).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "modules/smtp-stub/smtp_command.h"
#include "modules/smtp-stub/smtp_path.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace mailroom::smtp;

// RFC 3629 section 4 / Unicode table 3-7, written independently of smtp_path.cpp.
bool reference_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      n = 1;
    } else if (b == 0xE0) {
      n = 2, lo = 0xA0;
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      n = 2;
    } else if (b == 0xED) {
      n = 2, hi = 0x9F;
    } else if (b == 0xF0) {
      n = 3, lo = 0x90;
    } else if (b >= 0xF1 && b <= 0xF3) {
      n = 3;
    } else if (b == 0xF4) {
      n = 3, hi = 0x8F;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
      if (c < l || c > h) return false;
    }
    i += n + 1;
  }
  return true;
}

void check_error(const ParseError& e, std::string_view line) {
  FUZZ_CHECK_DATA(e.code >= 400 && e.code < 600, line);
  FUZZ_CHECK_DATA(e.enhanced.size() == 5 && e.enhanced[0] == static_cast<char>('0' + e.code / 100) &&
                      e.enhanced[1] == '.' && e.enhanced[3] == '.',
                  line);
  FUZZ_CHECK_DATA(!e.text.empty(), line);
  FUZZ_CHECK_DATA(mailroom::fuzz::no_control_bytes(e.text), line);
}

void check_path(std::string_view text) {
  FUZZ_CHECK_DATA(is_well_formed_utf8(text) == reference_utf8(text), text);
  if (text.empty() || text.front() != '<') return;
  auto parsed = parse_path(text);
  auto* path = std::get_if<ParsedPath>(&parsed);
  if (!path) return;
  FUZZ_CHECK_DATA(path->length >= 2 && path->length <= kMaxPathLength && path->length <= text.size(), text);
  FUZZ_CHECK_DATA(text[path->length - 1] == '>', text);
  FUZZ_CHECK_DATA(path->null == (path->length == 2), text);
  FUZZ_CHECK_DATA(path->local.size() <= kMaxLocalPartLength && path->domain.size() <= kMaxDomainLength, text);
  FUZZ_CHECK_DATA(path->non_ascii == !std::all_of(path->mailbox.begin(), path->mailbox.end(),
                                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; }) ||
                      path->source_route,
                  text);
  if (path->non_ascii) FUZZ_CHECK_DATA(reference_utf8(path->mailbox), text);
  FUZZ_CHECK_DATA(mailroom::fuzz::no_control_bytes(path->mailbox), text);
  // The mailbox alone, in brackets, is a path with the same parts.
  if (!path->null) {
    const std::string again = "<" + std::string(path->mailbox) + ">";
    auto reparsed = parse_path(again);
    auto* p2 = std::get_if<ParsedPath>(&reparsed);
    FUZZ_CHECK_DATA(p2 && p2->mailbox == path->mailbox && p2->local == path->local && p2->domain == path->domain &&
                        p2->local_unquoted == path->local_unquoted,
                    again);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool utf8 = data[0] & 1;
  const std::string_view line(reinterpret_cast<const char*>(data) + 1, size - 1);

  const Command cmd = parse_command(line);
  FUZZ_CHECK_DATA(cmd.keyword.find(' ') == std::string::npos, line);
  for (char c : cmd.keyword) FUZZ_CHECK_DATA(!(c >= 'a' && c <= 'z'), line);
  FUZZ_CHECK_DATA(!cmd.arg.starts_with(' ') && !cmd.arg.ends_with(' ') && !cmd.arg.ends_with('\t'), line);
  FUZZ_CHECK_DATA((cmd.verb == Verb::kUnknown) != (cmd.keyword == "EHLO" || cmd.keyword == "HELO" ||
                      cmd.keyword == "LHLO" || cmd.keyword == "MAIL" || cmd.keyword == "RCPT" ||
                      cmd.keyword == "DATA" || cmd.keyword == "BDAT" || cmd.keyword == "RSET" ||
                      cmd.keyword == "NOOP" || cmd.keyword == "QUIT" || cmd.keyword == "HELP" ||
                      cmd.keyword == "VRFY" || cmd.keyword == "EXPN" || cmd.keyword == "STARTTLS" ||
                      cmd.keyword == "AUTH"),
                  line);

  auto mail = parse_mail_from(line, utf8);
  if (auto* e = std::get_if<ParseError>(&mail)) {
    check_error(*e, line);
  } else {
    const MailFrom& m = std::get<MailFrom>(mail);
    FUZZ_CHECK_DATA(mailroom::fuzz::no_control_bytes(m.address) && (!m.smtputf8 || utf8), line);
    std::string again = "FROM:<" + m.address + ">";
    if (m.size) again += " SIZE=" + std::to_string(*m.size);
    if (m.body == BodyType::k7Bit) again += " BODY=7BIT";
    if (m.body == BodyType::k8BitMime) again += " BODY=8BITMIME";
    if (m.smtputf8) again += " SMTPUTF8";
    auto reparsed = parse_mail_from(again, utf8);
    auto* m2 = std::get_if<MailFrom>(&reparsed);
    FUZZ_CHECK_DATA(m2 && m2->address == m.address && m2->size == m.size && m2->body == m.body &&
                        m2->smtputf8 == m.smtputf8,
                    again);
  }

  auto rcpt = parse_rcpt_to(line, utf8);
  if (auto* e = std::get_if<ParseError>(&rcpt)) {
    check_error(*e, line);
  } else {
    const RcptTo& r = std::get<RcptTo>(rcpt);
    FUZZ_CHECK_DATA(!r.address.empty() && mailroom::fuzz::no_control_bytes(r.address) && (r.postmaster || !r.domain.empty()), line);
    for (char c : r.domain) FUZZ_CHECK_DATA(!(c >= 'A' && c <= 'Z') || r.domain.front() == '[', line);
    const std::string again = "TO:<" + r.address + ">";
    auto reparsed = parse_rcpt_to(again, utf8);
    auto* r2 = std::get_if<RcptTo>(&reparsed);
    FUZZ_CHECK_DATA(r2 && r2->address == r.address && r2->local == r.local && r2->domain == r.domain &&
                        r2->postmaster == r.postmaster,
                    again);
  }

  if (auto e = check_helo_argument(line)) {
    check_error(*e, line);
  } else {
    FUZZ_CHECK_DATA(!line.empty() && mailroom::fuzz::no_control_bytes(line) && line.find(' ') == std::string_view::npos, line);
  }

  check_path(line);
  if (const std::size_t lt = line.find('<'); lt != std::string_view::npos) check_path(line.substr(lt));
  return 0;
}
