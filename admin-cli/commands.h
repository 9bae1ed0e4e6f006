// Registration of mailctl's command groups: each adds its subcommands to the app and, when
// chosen, stores the action to run in the Context (run by main() once parsing succeeded).
#pragma once

#include <CLI/CLI.hpp>

#include "admin-cli/output.h"

namespace mailroom::cli {

void add_init_command(CLI::App& app, Context& ctx);
void add_postoffice_commands(CLI::App& app, Context& ctx);
void add_mailbox_commands(CLI::App& app, Context& ctx);
void add_deliver_command(CLI::App& app, Context& ctx);
void add_service_commands(CLI::App& app, Context& ctx);
void add_cert_commands(CLI::App& app, Context& ctx);
void add_access_commands(CLI::App& app, Context& ctx);  // the access and block groups
// `help [TOPIC|COMMAND...]` and `completion bash`: both read the whole tree under `app`, so they
// are added last.
void add_help_command(CLI::App& app, Context& ctx);
void add_completion_command(CLI::App& app, Context& ctx);

// --if-not-exists on an add command / --if-exists on a remove command: what is already there (or
// already gone) is not an error; the command says nothing was done and exits 0.
inline void add_if_not_exists_flag(CLI::App* command, bool& flag) {
  command->add_flag("--if-not-exists", flag, "Succeed without doing anything if it already exists (exit 0, not 5)");
}
inline void add_if_exists_flag(CLI::App* command, bool& flag) {
  command->add_flag("--if-exists", flag, "Succeed without doing anything if it does not exist (exit 0, not 4)");
}

// Writes a self-signed certificate to DATA/tls/{cert,key}.pem (used by init and cert generate).
Status generate_default_certificate(const Context& ctx, const std::string& hostname, int days);

}  // namespace mailroom::cli
