// UIDL templates in the style of Dovecot's pop3_uidl_format ("%08Xu%08Xv", "%v.%u", "%f", ...):
// how new messages get their UIDL when a pop3 service's `uidl_format` is not `native`, and how
// the UIDLs another server showed are rebuilt from its dovecot-uidlist. Pure string functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace mailroom::storage::uidl {

// What a template can name: %u the message's uid, %v the mailbox's uidvalidity, %f the message
// file's base name (before ':2,' and ',S='). Dovecot's %m (an MD5 of the header) and %g (its
// GUID) are refused: Mailroom has neither stored.
struct UidlVars {
  uint64_t uid = 0;
  uint64_t uidvalidity = 0;
  std::string_view file_base;
};

class UidlTemplate {
 public:
  // "%08Xu%08Xv": a '%', an optional width (a leading 0 pads with zeros; without it the value is
  // cut to that many characters, as Dovecot does), modifiers X (a number in lower-case hex, as
  // Dovecot's %X), L and U (lower/upper case), then the variable letter; "%%" is a '%'. Other
  // characters are copied and must be printable ASCII without spaces. Refused: an unknown
  // variable or modifier, a template naming neither %u nor %f (its UIDLs would not be unique).
  static Result<UidlTemplate> parse(std::string_view text);

  // The UIDL for these values. A result that is not a valid UIDL (too long, a space from a file
  // name) is replaced by the hex SHA-1 of it, as a native UIDL would be.
  std::string render(const UidlVars& vars) const;

  const std::string& text() const { return text_; }
  bool uses_uid() const { return uses_uid_; }

 private:
  struct Part {
    char var = 0;  // 0: literal text
    std::string literal;
    std::size_t width = 0;
    bool zero_pad = false;
    bool hex = false;
    bool lower = false;
    bool upper = false;
  };
  std::string text_;
  std::vector<Part> parts_;
  bool uses_uid_ = false;
};

// The value of the `uidl_format` setting that keeps Mailroom's own UIDLs (the file's base name).
inline constexpr std::string_view kNativeFormat = "native";
// Dovecot's default pop3_uidl_format (Dovecot 1.x, and what most Debian configurations keep).
inline constexpr std::string_view kDovecotDefaultFormat = "%08Xu%08Xv";

// Checks a `uidl_format` value: "native" or a template UidlTemplate::parse() accepts. nullopt if
// fine, else the reason (for the setting's validation).
std::optional<std::string> check_uidl_format(std::string_view value);

}  // namespace mailroom::storage::uidl
