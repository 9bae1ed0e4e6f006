// POP3 command line parser: keyword + space-separated arguments, with the checks that keep
// untrusted input (control bytes, absurd argument counts) out of the state machine.
#include "modules/pop3/command.h"

#include <cctype>

namespace mailroom::pop3 {

namespace {

constexpr std::size_t kMaxArgs = 8;

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

bool is_ascii_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// USER and PASS take one argument that may contain spaces (passwords do): it is not split.
bool takes_raw_argument(std::string_view verb) { return verb == "USER" || verb == "PASS"; }

}  // namespace

Result<Command> parse_command(std::string_view line) {
  if (line.empty()) return make_error(ErrorCode::kInvalidArgument, "empty command");
  for (char c : line) {
    if (is_control(static_cast<unsigned char>(c))) {
      return make_error(ErrorCode::kInvalidArgument, "control characters are not allowed");
    }
  }

  const std::size_t space = line.find(' ');
  const std::string_view keyword = line.substr(0, space);
  if (keyword.size() < 3 || keyword.size() > 4) {
    return make_error(ErrorCode::kInvalidArgument, "invalid command keyword");
  }
  Command cmd;
  for (char c : keyword) {
    // Letters, and digits after the first (RFC 6856's UTF8).
    const bool digit = c >= '0' && c <= '9' && !cmd.verb.empty();
    if (!is_ascii_letter(c) && !digit) return make_error(ErrorCode::kInvalidArgument, "invalid command keyword");
    cmd.verb.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (space == std::string_view::npos) return cmd;

  const std::string_view rest = line.substr(space + 1);
  cmd.raw_arg = std::string(rest);
  if (takes_raw_argument(cmd.verb)) {
    if (!rest.empty()) cmd.args.push_back(cmd.raw_arg);
    return cmd;
  }

  // Clients sometimes send doubled spaces; empty fields are skipped rather than rejected.
  std::size_t pos = 0;
  while (pos < rest.size()) {
    if (rest[pos] == ' ') {
      ++pos;
      continue;
    }
    std::size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) end = rest.size();
    if (cmd.args.size() == kMaxArgs) return make_error(ErrorCode::kInvalidArgument, "too many arguments");
    cmd.args.emplace_back(rest.substr(pos, end - pos));
    pos = end;
  }
  return cmd;
}

bool is_secret_command(std::string_view verb) {
  if (verb.size() != 4 && verb.size() != 3) return false;
  std::string upper;
  for (char c : verb) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  // APOP carries a digest, AUTH continuation lines carry SASL secrets.
  return upper == "PASS" || upper == "APOP" || upper == "AUTH";
}

}  // namespace mailroom::pop3
