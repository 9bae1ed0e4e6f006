// RFC 5321 4.1.2 paths: a small recursive-descent parser over untrusted bytes. Every read is
// bounds-checked (peek() answers -1 past the end), so a cut-off path is a kSyntax fault.
#include "modules/smtp-stub/smtp_path.h"

#include <utility>

#include "core/ipfilter/ip_address.h"

namespace mailroom::smtp {

namespace {

bool is_ascii_alnum(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_non_ascii(int c) { return c >= 0x80; }

// RFC 5322 atext, plus RFC 6531 UTF8-non-ascii (validated as a whole afterwards).
bool is_atext(int c) {
  if (is_ascii_alnum(c) || is_non_ascii(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

// RFC 5321 qtextSMTP (%d32-33 / %d35-91 / %d93-126) plus RFC 6531 UTF8-non-ascii.
bool is_qtext(int c) {
  return (c >= 32 && c <= 126 && c != '"' && c != '\\') || is_non_ascii(c);
}

// RFC 5321 dcontent: %d33-90 / %d94-126 (printable ASCII but "[", "\", "]").
bool is_dcontent(int c) { return c >= 33 && c <= 126 && c != '[' && c != '\\' && c != ']'; }

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char a = text[i] >= 'a' && text[i] <= 'z' ? static_cast<char>(text[i] - 32) : text[i];
    if (a != prefix[i]) return false;  // `prefix` is upper-case
  }
  return true;
}

// Ldh-str ending in a letter or digit (the Standardized-tag of a General-address-literal).
bool is_ldh_tag(std::string_view tag) {
  if (tag.empty() || !is_ascii_alnum(static_cast<unsigned char>(tag.back()))) return false;
  for (char c : tag) {
    if (!is_ascii_alnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

// The text between "[" and "]": IPv4-address-literal, "IPv6:" IPv6-addr, or
// Standardized-tag ":" 1*dcontent (RFC 5321 4.1.3).
bool is_address_literal_content(std::string_view content) {
  for (char c : content) {
    if (!is_dcontent(static_cast<unsigned char>(c))) return false;
  }
  if (starts_with_ignoring_case(content, "IPV6:")) {
    return ipfilter::IpAddress::parse_v6(content.substr(5)).has_value();
  }
  const std::size_t colon = content.find(':');
  if (colon != std::string_view::npos) {
    return is_ldh_tag(content.substr(0, colon)) && colon + 1 < content.size();
  }
  return ipfilter::IpAddress::parse_v4(content).has_value();
}

class PathParser {
 public:
  explicit PathParser(std::string_view text) : text_(text) {}

  std::variant<ParsedPath, PathFault> parse() {
    ParsedPath path;
    if (!accept('<')) return PathFault::kSyntax;
    if (accept('>')) {
      path.null = true;
      path.length = pos_;
      return path;
    }
    if (peek() == '@') {
      path.source_route = true;
      if (!skip_source_route()) return PathFault::kSyntax;
    }
    const std::size_t mailbox_start = pos_;
    const bool local_ok = peek() == '"' ? quoted_string(path.local_unquoted)
                                        : dot_string(path.local_unquoted);
    if (!local_ok) return PathFault::kSyntax;
    path.local = text_.substr(mailbox_start, pos_ - mailbox_start);
    if (accept('@')) {
      const std::size_t domain_start = pos_;
      path.domain_is_literal = peek() == '[';
      if (!(path.domain_is_literal ? address_literal() : domain_name())) return PathFault::kSyntax;
      path.domain = text_.substr(domain_start, pos_ - domain_start);
    }
    path.mailbox = text_.substr(mailbox_start, pos_ - mailbox_start);
    if (!accept('>')) return PathFault::kSyntax;
    path.length = pos_;
    return check_limits(std::move(path));
  }

 private:
  int peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : -1; }

  bool accept(char c) {
    if (peek() != static_cast<unsigned char>(c)) return false;
    ++pos_;
    return true;
  }

  // A-d-l ":" where A-d-l = At-domain *( "," At-domain ), At-domain = "@" Domain.
  bool skip_source_route() {
    do {
      if (!accept('@')) return false;
      const bool ok = peek() == '[' ? address_literal() : domain_name();
      if (!ok) return false;
    } while (accept(','));
    return accept(':');
  }

  // Dot-string = Atom *("." Atom); Atom = 1*atext.
  bool dot_string(std::string& out) {
    for (;;) {
      const std::size_t start = pos_;
      while (is_atext(peek())) ++pos_;
      if (pos_ == start) return false;
      out.append(text_.substr(start, pos_ - start));
      if (!accept('.')) return true;
      out.push_back('.');
    }
  }

  // Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE; quoted-pairSMTP = "\" %d32-126.
  bool quoted_string(std::string& out) {
    if (!accept('"')) return false;
    for (;;) {
      const int c = peek();
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        ++pos_;
        const int escaped = peek();
        if (escaped < 32 || escaped > 126) return false;
        out.push_back(static_cast<char>(escaped));
      } else if (is_qtext(c)) {
        out.push_back(static_cast<char>(c));
      } else {
        return false;  // the end of the text, or a control character
      }
      ++pos_;
    }
  }

  // sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str] (no "-" first or last), or an
  // RFC 6531 U-label (non-ASCII bytes, validated as UTF-8 afterwards).
  bool domain_name() {
    do {
      const std::size_t start = pos_;
      while (is_ascii_alnum(peek()) || is_non_ascii(peek()) || peek() == '-') ++pos_;
      if (pos_ == start || text_[start] == '-' || text_[pos_ - 1] == '-') return false;
    } while (accept('.'));
    return true;
  }

  bool address_literal() {
    if (!accept('[')) return false;
    const std::size_t start = pos_;
    while (is_dcontent(peek())) ++pos_;
    const std::string_view content = text_.substr(start, pos_ - start);
    return accept(']') && is_address_literal_content(content);
  }

  std::variant<ParsedPath, PathFault> check_limits(ParsedPath path) const {
    if (path.length > kMaxPathLength) return PathFault::kTooLong;
    if (path.local.size() > kMaxLocalPartLength) return PathFault::kLocalTooLong;
    if (path.domain.size() > kMaxDomainLength) return PathFault::kDomainTooLong;
    if (!path.domain_is_literal) {
      std::string_view rest = path.domain;
      while (!rest.empty()) {
        const std::size_t dot = rest.find('.');
        if (rest.substr(0, dot).size() > kMaxDomainLabelLength) return PathFault::kLabelTooLong;
        rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
      }
    }
    const std::string_view whole = text_.substr(0, path.length);
    for (char c : whole) {
      if (is_non_ascii(static_cast<unsigned char>(c))) {
        path.non_ascii = true;
        break;
      }
    }
    if (path.non_ascii && !is_well_formed_utf8(whole)) return PathFault::kBadUtf8;
    return path;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::variant<ParsedPath, PathFault> parse_path(std::string_view text) {
  return PathParser(text).parse();
}

bool is_well_formed_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    // RFC 3629 section 4: the lead byte fixes the length and the range of the second byte.
    std::size_t length = 0;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) second_min = 0xA0;  // no overlong form
      if (lead == 0xED) second_max = 0x9F;  // no surrogate
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) second_min = 0x90;  // no overlong form
      if (lead == 0xF4) second_max = 0x8F;  // nothing above U+10FFFF
    } else {
      return false;  // a continuation byte, C0/C1 (overlong), or F5-FF
    }
    if (text.size() - i < length) return false;
    const auto second = static_cast<unsigned char>(text[i + 1]);
    if (second < second_min || second > second_max) return false;
    for (std::size_t k = 2; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace mailroom::smtp
