// UIDL templates (Dovecot's pop3_uidl_format syntax): parsing and rendering.
#include "storage/uidl/uidl_template.h"

#include <cctype>
#include <cstdio>

#include "storage/maildir/maildir_name.h"

namespace mailroom::storage::uidl {

namespace {

constexpr std::size_t kMaxTemplateLength = 200;
constexpr std::size_t kMaxWidth = 70;  // a longer field could never fit a UIDL

Error template_error(std::string_view text, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, "uidl_format '" + std::string(text) + "': " + why);
}

std::string hex_of(uint64_t value) {
  char buf[20];
  int n = std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(value));
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

Result<UidlTemplate> UidlTemplate::parse(std::string_view text) {
  if (text.empty()) return template_error(text, "empty (use 'native' for Mailroom's own UIDLs)");
  if (text.size() > kMaxTemplateLength) return template_error(text, "longer than 200 characters");
  UidlTemplate t;
  t.text_ = std::string(text);
  bool uses_file = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    auto u = static_cast<unsigned char>(c);
    if (c != '%') {
      if (u < 0x21 || u > 0x7E) return template_error(text, "only printable ASCII without spaces may be copied into a UIDL");
      if (t.parts_.empty() || t.parts_.back().var != 0) t.parts_.emplace_back();
      t.parts_.back().literal += c;
      continue;
    }
    if (++i >= text.size()) return template_error(text, "ends in '%'");
    if (text[i] == '%') {
      if (t.parts_.empty() || t.parts_.back().var != 0) t.parts_.emplace_back();
      t.parts_.back().literal += '%';
      continue;
    }
    Part p;
    if (text[i] == '0') p.zero_pad = true;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
      p.width = p.width * 10 + static_cast<std::size_t>(text[i] - '0');
      if (p.width > kMaxWidth) return template_error(text, "a width over 70");
      ++i;
    }
    for (; i < text.size(); ++i) {
      if (text[i] == 'X') {
        p.hex = true;
      } else if (text[i] == 'L') {
        p.lower = true;
      } else if (text[i] == 'U') {
        p.upper = true;
      } else {
        break;
      }
    }
    if (i >= text.size()) return template_error(text, "a '%' without a variable letter");
    switch (text[i]) {
      case 'u':
        t.uses_uid_ = true;
        break;
      case 'v':
        break;
      case 'f':
        if (p.hex) return template_error(text, "X applies to numbers (%u, %v), not to %f");
        uses_file = true;
        break;
      case 'm':
        return template_error(text, "%m (Dovecot's MD5 of the header) is not supported: Mailroom does not read "
                                    "headers to list a mailbox; import the old UIDLs with 'mailctl mailbox "
                                    "import-uidls' instead");
      case 'g':
        return template_error(text, "%g (Dovecot's message GUID) is not supported");
      default:
        return template_error(text, std::string("unknown variable %") + text[i] + " (known: %u, %v, %f)");
    }
    p.var = text[i];
    t.parts_.push_back(std::move(p));
  }
  if (!t.uses_uid_ && !uses_file) return template_error(text, "names neither %u nor %f, so its UIDLs would not be unique");
  return t;
}

std::string UidlTemplate::render(const UidlVars& vars) const {
  std::string out;
  for (const Part& p : parts_) {
    if (p.var == 0) {
      out += p.literal;
      continue;
    }
    std::string value;
    if (p.var == 'f') {
      value = std::string(vars.file_base);
    } else {
      uint64_t n = p.var == 'u' ? vars.uid : vars.uidvalidity;
      value = p.hex ? hex_of(n) : std::to_string(n);
    }
    for (char& c : value) {
      if (p.lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (p.upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (p.zero_pad) {
      if (value.size() < p.width) value.insert(0, p.width - value.size(), '0');
    } else if (p.width > 0 && value.size() > p.width) {
      value.resize(p.width);
    }
    out += value;
  }
  if (!maildir::valid_uidl(out)) return maildir::sha1_hex(out);
  return out;
}

std::optional<std::string> check_uidl_format(std::string_view value) {
  if (value == kNativeFormat) return std::nullopt;
  auto t = UidlTemplate::parse(value);
  if (!t) return t.error().message;
  return std::nullopt;
}

}  // namespace mailroom::storage::uidl
