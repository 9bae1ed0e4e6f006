// mailctl help [TOPIC | COMMAND...]: short pages on what every command shares (exit codes, JSON,
// settings, completion), and any command's --help by name. Needs no data directory.
#include <iostream>
#include <memory>
#include <string_view>

#include "admin-cli/command_tree.h"
#include "admin-cli/commands.h"
#include "admin-cli/suggest.h"

namespace mailroom::cli {

namespace {

struct Topic {
  std::string_view name;
  std::string_view summary;
  std::string_view text;
};

constexpr Topic kTopics[] = {
    {"exit-codes", "what mailctl's exit status means",
     R"(mailctl exit codes (the same for every command; scripts may rely on them):

  0  success; also --help, --version, and nothing to do under --if-exists or --if-not-exists
  1  the command failed: an invalid or conflicting value, a disk or database error
  2  usage: an unknown command or option, a missing or extra argument
  3  the daemon is not running (commands that talk to it)
  4  not found: no such postoffice, mailbox, service, setting, module, access rule or block
  5  already exists: the postoffice, mailbox or access rule is there already
  6  over quota: deliver refused the message (the mailbox is full or it would not fit)

A failure prints exactly one line on stderr, starting with "mailctl: ", and nothing on stdout,
with or without --json. A failed command changes nothing.

  $ mailctl mailbox show nobody@example.test; echo $?
  mailctl: mailbox 'nobody@example.test' does not exist
  4
  $ mailctl postoffice add example.test --if-not-exists; echo $?
  nothing to do: postoffice 'example.test' already exists
  0
)"},
    {"json", "the --json output: one style for every command",
     R"(--json prints JSON on stdout: listings as an array of objects, show as one object, actions
as {"ok": true, ...}. Errors are never JSON (one stderr line and the exit code).

  - keys are snake_case, and the same thing has the same key everywhere: "postoffice" (a
    postoffice's name), "address" (a mailbox's full address), "mailbox" (only its local part,
    next to "postoffice"), "service", "module", "key", "value", "enabled", "ip", "id"
  - times are RFC 3339 UTC strings ("2026-12-05T17:56:00Z") under keys ending in _at, null
    when unset; durations are numbers under keys ending in _seconds; sizes under _bytes
  - setting values are typed from the setting: numbers, true/false, or strings
  - an action that had nothing to do (--if-exists, --if-not-exists) says "changed": false

The schema of every command: docs/json.md (installed in /usr/share/doc/mailroom/docs/).
)"},
    {"settings", "service settings: show, set, unset, and the checks before storing",
     R"(Each service (mailctl service list) is a protocol module with settings. Only values that
differ from the default are stored; a running daemon applies a change within a second.

  mailctl service show NAME            every setting: value, default, type, description
  mailctl service set NAME KEY VALUE   validate and store (canonical form: on/off, decimal)
  mailctl service unset NAME KEY       back to the default
  mailctl service settings-doc MODULE  the module's settings as a markdown table

  mailctl service set --local NAME KEY VALUE   only on this node (DATA/node.json, over the
                                               cluster's value): port, alt_port, binds,
                                               tls_port, tls_binds
  mailctl service unset --local NAME KEY       the cluster's value again on this node

Before a listener setting is stored it is checked against the others:
  - a port used twice by one service (port, alt_port, tls_port) or by two enabled services on
    overlapping addresses is refused (exit 1), naming both;
  - an implicit TLS listener (implicit_tls, tls_port, tls_binds, cert, key) without a usable
    certificate and key is refused: create one with 'mailctl cert generate';
  - a bind address this machine does not have is stored with a warning on stderr.
The checks use this node's local values over the stored ones.

Every setting is documented in docs/settings.md; node-local ones in docs/cluster-nodes.md.
)"},
    {"completion", "shell completion for bash",
     R"(mailctl completes its commands, options, service names, module names and setting keys in
bash. The package installs the script as /usr/share/bash-completion/completions/mailctl; from
a build, load it into the running shell (or add the line to ~/.bashrc):

  source <(mailctl completion bash)

Service names are read with 'mailctl --json service list' from the --data directory on the
command line, else $MAILROOM_DATA.
)"},
};

std::vector<std::string> topic_names() {
  std::vector<std::string> out;
  for (const auto& t : kTopics) out.emplace_back(t.name);
  return out;
}

Status run_help(const CLI::App& root, const std::vector<std::string>& words) {
  if (words.empty()) {
    std::cout << "Help topics (mailctl help TOPIC):\n";
    for (const auto& t : kTopics) std::cout << "  " << t.name << std::string(12 - t.name.size(), ' ') << t.summary << "\n";
    std::cout << "\nCommands (mailctl help COMMAND, or mailctl COMMAND --help):\n";
    for (const CLI::App* sub : subcommands_of(root)) {
      const std::string& name = sub->get_name();
      std::cout << "  " << name << std::string(name.size() < 12 ? 12 - name.size() : 1, ' ') << sub->get_description()
                << "\n";
    }
    return {};
  }
  if (words.size() == 1) {
    for (const auto& t : kTopics) {
      if (t.name == words.front()) {
        std::cout << t.text;
        return {};
      }
    }
  }
  const CLI::App* current = &root;
  for (const auto& word : words) {
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : subcommands_of(*current)) {
      if (sub->get_name() == word) next = sub;
    }
    if (next == nullptr) {
      std::vector<std::string> known = subcommand_names(*current);
      if (current == &root) {
        const auto topics = topic_names();
        known.insert(known.begin(), topics.begin(), topics.end());
      }
      std::string message = "no help topic or command '" + word + "'" +
                            (current == &root ? std::string() : " in '" + command_path(*current) + "'");
      if (auto near = nearest_name(word, known)) message += " (did you mean '" + *near + "'?)";
      throw UsageError(message + "; 'mailctl help' lists them");
    }
    current = next;
  }
  std::cout << current->help();
  return {};
}

}  // namespace

void add_help_command(CLI::App& app, Context& ctx) {
  auto words = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("help", "Help topics (exit-codes, json, settings, completion) and commands");
  cmd->add_option("TOPIC", *words, "A topic, or a command such as 'mailbox add'");
  const CLI::App* root = &app;
  cmd->callback([&ctx, root, words] {
    ctx.owner_switch_deferred = true;  // reads no data directory: never switches user
    ctx.action = [root, words] { return run_help(*root, *words); };
  });
}

}  // namespace mailroom::cli
