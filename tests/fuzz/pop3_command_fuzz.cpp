// Fuzzes the POP3 command parser (modules/pop3/command.h) with one arbitrary line.
// Invariants: an accepted command has a 3-4 character upper-case verb (a letter, then letters or
// digits: UTF8), at most 8 arguments, none
// empty or holding a space (USER/PASS: one raw argument), no control byte anywhere; the line
// rebuilt from verb and raw_arg parses to the same command; an error's text is one printable line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "modules/pop3/command.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mailroom::pop3::parse_command;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_command(line);
  if (!parsed) {
    FUZZ_CHECK_DATA(!parsed.error().message.empty() && mailroom::fuzz::no_control_bytes(parsed.error().message), line);
    return 0;
  }
  const auto& cmd = *parsed;
  FUZZ_CHECK_DATA(cmd.verb.size() == 3 || cmd.verb.size() == 4, line);
  FUZZ_CHECK_DATA(cmd.verb[0] >= 'A' && cmd.verb[0] <= 'Z', line);
  for (char c : cmd.verb) FUZZ_CHECK_DATA((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'), line);
  FUZZ_CHECK_DATA(cmd.args.size() <= 8, line);
  FUZZ_CHECK_DATA(mailroom::fuzz::no_control_bytes(cmd.raw_arg), line);
  const bool raw = cmd.verb == "USER" || cmd.verb == "PASS";
  for (const auto& arg : cmd.args) {
    FUZZ_CHECK_DATA(!arg.empty() && mailroom::fuzz::no_control_bytes(arg), line);
    if (!raw) FUZZ_CHECK_DATA(arg.find(' ') == std::string::npos, line);
  }
  if (raw) FUZZ_CHECK_DATA(cmd.args.size() == (cmd.raw_arg.empty() ? 0u : 1u), line);
  // raw_arg is the line after the first space, unmodified.
  const std::size_t space = line.find(' ');
  FUZZ_CHECK_DATA(cmd.raw_arg == (space == std::string_view::npos ? "" : line.substr(space + 1)), line);

  // Re-parse: the canonical line (upper-case verb) gives the same command.
  std::string again = cmd.verb;
  if (space != std::string_view::npos) again += " " + cmd.raw_arg;
  auto reparsed = parse_command(again);
  FUZZ_CHECK_DATA(reparsed.ok(), again);
  FUZZ_CHECK_DATA(reparsed->verb == cmd.verb && reparsed->args == cmd.args && reparsed->raw_arg == cmd.raw_arg, again);
  return 0;
}
