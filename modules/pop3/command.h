// POP3 command parsing (pure): one line (without CRLF) -> typed command.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace mailroom::pop3 {

struct Command {
  std::string verb;               // upper-cased keyword, e.g. "RETR"
  std::vector<std::string> args;  // space-separated arguments (USER/PASS: see raw_arg)
  std::string raw_arg;            // everything after the first space, unmodified (PASS may hold spaces)
};

// Errors (kInvalidArgument, message suitable after "-ERR "): empty line, keyword not 3-4
// ASCII letters, NUL or other control bytes, too many arguments (more than 8).
Result<Command> parse_command(std::string_view line);

// Verbs whose arguments are secrets: transcripts and logs must redact them.
bool is_secret_command(std::string_view verb);

}  // namespace mailroom::pop3
