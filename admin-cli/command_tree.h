// mailctl's CLI11 command tree read back: the subcommands and options at each level, what a
// command line that did not parse got wrong (an unknown command or option, with the nearest
// known one, or a group given no command), for main() and the completion script.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace mailroom::cli {

// "mailctl mailbox add": the names from the root to `app`.
std::string command_path(const CLI::App& app);

// The subcommands defined under `app` (parsed or not), in definition order.
std::vector<const CLI::App*> subcommands_of(const CLI::App& app);
std::vector<std::string> subcommand_names(const CLI::App& app);

// Every option usable at `app`: its own and, because mailctl falls through, its parents'
// ("--json" after "mailbox list"). Names with their dashes ("--data", "-h"); positionals excluded.
std::vector<const CLI::Option*> options_at(const CLI::App& app);
std::vector<std::string> option_names(const CLI::App& app);

// The option takes a value ("--data DIR"), rather than being a flag ("--json").
bool takes_value(const CLI::Option& option);

// Why `args` (argv without the program name) does not parse against the tree under `root`,
// naming the word and the level where parsing stopped:
//   unknown command 'lst' for 'mailctl mailbox' (did you mean 'list'?)
//   unknown option '--pasword' for 'mailctl mailbox add' (did you mean '--password'?)
//   'mailctl mailbox' needs a command: add, remove, show, ...
// nullopt when every command and option is known (a missing or extra argument: CLI11's own
// message says it better).
std::optional<std::string> explain_parse_failure(const CLI::App& root, const std::vector<std::string>& args);

}  // namespace mailroom::cli
