// Mailbox address parsing and name validation (postoffice = domain, mailbox = local part).
#include "storage/address.h"

#include <cctype>

#include "core/base/utf8.h"

namespace mailroom::storage {
namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

Result<std::string> normalize_postoffice_name(std::string_view name) {
  if (name.empty()) return make_error(ErrorCode::kInvalidArgument, "postoffice name is empty");
  if (name.size() > 253) {
    return make_error(ErrorCode::kInvalidArgument,
                      "postoffice name is longer than 253 characters");
  }
  std::string out;
  out.reserve(name.size());
  for (char c : name) out.push_back(lower(c));

  size_t start = 0;
  while (true) {
    size_t dot = out.find('.', start);
    std::string_view label =
        std::string_view(out).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "postoffice name " + in_quotes(name) + " has an empty label (leading, trailing or double '.')");
    }
    if (label.size() > 63) {
      return make_error(ErrorCode::kInvalidArgument,
                        "postoffice name " + in_quotes(name) + " has a label longer than 63 characters");
    }
    for (char c : label) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        // One spelling per domain: an internationalised name is kept in its A-label form.
        return make_error(ErrorCode::kInvalidArgument,
                          "postoffice name " + in_quotes(name) +
                              " is not ASCII: write an internationalised domain in its A-label form "
                              "('xn--...', as `idn2` prints it)");
      }
      if (!is_alnum(c) && c != '-') {
        return make_error(ErrorCode::kInvalidArgument,
                          "postoffice name " + in_quotes(name) +
                              " may contain only letters, digits, '-' and '.'");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return make_error(ErrorCode::kInvalidArgument,
                        "postoffice name " + in_quotes(name) + " has a label starting or ending with '-'");
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}

Result<std::string> normalize_mailbox_name(std::string_view name) {
  if (name.empty()) return make_error(ErrorCode::kInvalidArgument, "mailbox name is empty");
  if (name.size() > 64) {
    return make_error(ErrorCode::kInvalidArgument, "mailbox name is longer than 64 octets");
  }
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size();) {
    if (static_cast<unsigned char>(name[i]) >= 0x80) {
      // RFC 6531/6856: a UTF-8 local part. Kept as given (no case folding, no normalisation),
      // but it must be valid UTF-8 and carry no C1 control characters.
      const size_t n = utf8_sequence(name, i);
      if (n == 0 || utf8_code_point(name, i, n) < 0xa0) {
        return make_error(ErrorCode::kInvalidArgument,
                          "mailbox name " + in_quotes(name) + " is not valid UTF-8 (or has a control character)");
      }
      out.append(name.substr(i, n));
      i += n;
      continue;
    }
    char l = lower(name[i++]);
    if (!is_alnum(l) && l != '.' && l != '_' && l != '+' && l != '-') {
      return make_error(ErrorCode::kInvalidArgument,
                        "mailbox name " + in_quotes(name) +
                            " may contain only letters (any non-ASCII letter in UTF-8), digits and '.', '_', '+', '-'");
    }
    out.push_back(l);
  }
  if (out.front() == '.' || out.back() == '.') {
    return make_error(ErrorCode::kInvalidArgument,
                      "mailbox name " + in_quotes(name) + " must not start or end with '.'");
  }
  if (out.find("..") != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "mailbox name " + in_quotes(name) + " contains '..'");
  }
  return out;
}

Result<Address> parse_address(std::string_view login, std::string_view alt_at_chars) {
  if (login.empty()) return make_error(ErrorCode::kInvalidArgument, "address is empty");
  std::string separators = "@";
  separators.append(alt_at_chars);

  // The first separator character (in the order '@', then the alternates) that occurs splits.
  size_t pos = std::string_view::npos;
  for (char sep : separators) {
    pos = login.find(sep);
    if (pos != std::string_view::npos) break;
  }
  if (pos == std::string_view::npos) {
    std::string msg = "address " + in_quotes(login) + " has no '@'";
    if (!alt_at_chars.empty()) msg += " (or one of " + in_quotes(alt_at_chars) + ")";
    return make_error(ErrorCode::kInvalidArgument, msg);
  }
  std::string_view local = login.substr(0, pos);
  std::string_view domain = login.substr(pos + 1);
  // Only the chosen separator must be unique: other alternates may be legal name characters
  // ('+', '-'), and the name checks below reject the rest.
  if (domain.find(login[pos]) != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, "address " + in_quotes(login) + " has more than one '" +
                                                       std::string(1, login[pos]) + "' separator");
  }
  if (local.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "address " + in_quotes(login) + " has an empty mailbox part");
  }
  if (domain.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "address " + in_quotes(login) + " has an empty postoffice part");
  }
  auto mailbox = normalize_mailbox_name(local);
  if (!mailbox) return mailbox.error();
  auto postoffice = normalize_postoffice_name(domain);
  if (!postoffice) return postoffice.error();
  return Address{std::move(*mailbox), std::move(*postoffice)};
}

}  // namespace mailroom::storage
