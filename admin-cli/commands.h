// Registration of mailctl's command groups: each adds its subcommands to the app and, when
// chosen, stores the action to run in the Context (run by main() once parsing succeeded).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "admin-cli/output.h"

namespace mailroom::cli {

void add_init_command(CLI::App& app, Context& ctx);
void add_postoffice_commands(CLI::App& app, Context& ctx);
void add_mailbox_commands(CLI::App& app, Context& ctx);
void add_deliver_command(CLI::App& app, Context& ctx);
void add_service_commands(CLI::App& app, Context& ctx);
void add_cert_commands(CLI::App& app, Context& ctx);
void add_access_commands(CLI::App& app, Context& ctx);  // the access and block groups
void add_daemon_commands(CLI::App& app, Context& ctx);  // daemon-wide settings
// status, sessions, reload, and service start|stop|restart|status (after add_service_commands).
void add_control_commands(CLI::App& app, Context& ctx);
void add_provision_commands(CLI::App& app, Context& ctx);  // export and apply
void add_backup_commands(CLI::App& app, Context& ctx);     // backup and restore
void add_queue_commands(CLI::App& app, Context& ctx);      // the outbound queue (issue 17)
// migrate-database: SQLite <-> PostgreSQL, verified (issue 19)
void add_migrate_database_command(CLI::App& app, Context& ctx);
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

// What `cert generate` (and init, with the defaults) asks for.
struct CertificateRequest {
  std::string hostname;            // CN and first DNS name; "" = this host's name
  std::vector<std::string> names;  // more DNS names
  std::vector<std::string> ips;    // IP addresses; with no names either: localhost, 127.0.0.1, ::1
  int days = 825;
  bool force = false;  // replace a certificate mailctl did not generate (a backup is kept)
};
// Where a replaced imported certificate and its key were kept ("" when nothing was).
struct CertificateBackup {
  std::string cert;
  std::string key;
};
// "the replaced certificate is kept in X and its key in Y", or "".
std::string backup_note(const CertificateBackup& backup);

// Writes a self-signed certificate to DATA/tls/{cert,key}.pem and records it as mailctl's (used
// by init and cert generate). A cert.pem mailctl did not make is refused (kAlreadyExists) unless
// request.force, which first copies it and its key to "<file>.bak-<UTC time>".
Result<CertificateBackup> generate_default_certificate(const Context& ctx, const CertificateRequest& request);

}  // namespace mailroom::cli
