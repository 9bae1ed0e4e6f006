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
void add_provision_commands(CLI::App& app, Context& ctx);  // export and apply
void add_backup_commands(CLI::App& app, Context& ctx);     // backup and restore

// Writes a self-signed certificate to DATA/tls/{cert,key}.pem (used by init and cert generate).
Status generate_default_certificate(const Context& ctx, const std::string& hostname, int days);

}  // namespace mailroom::cli
