// mailctl: the admin CLI. Parses the command line (CLI11), runs the chosen command, and turns
// every failure into one "mailctl: ..." line on stderr with the documented exit code.
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "admin-cli/command_tree.h"
#include "admin-cli/commands.h"
#include "admin-cli/output.h"
#include "core/base/version.h"

namespace {

// "mailctl mailbox add": the subcommands parsed before the error, so the hint names the right help.
std::string parsed_command_path(const CLI::App& app) {
  std::string path = app.get_name();
  const CLI::App* current = &app;
  while (true) {
    auto subs = current->get_subcommands();
    if (subs.empty()) break;
    current = subs.front();
    path += " " + current->get_name();
  }
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mailroom::cli;
  Context ctx;

  CLI::App app{"mailctl: manage Mailroom postoffices, mailboxes and services", "mailctl"};
  // Global options are accepted after the subcommand too ("mailctl mailbox list --json").
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("--data", ctx.data_option, "Data directory (default: $MAILROOM_DATA)")
      ->envname("MAILROOM_DATA")
      ->type_name("DIR");
  app.add_option("--database", ctx.database_option,
                 "PostgreSQL URL of the accounts and policy (default: $MAILROOM_DATABASE, else the one 'init "
                 "--database' recorded in the data directory, else its SQLite database)")
      ->envname("MAILROOM_DATABASE")
      ->type_name("URL");
  app.add_flag("--json", ctx.json, "Print listings, details and results as JSON");
  app.set_version_flag("--version", mailroom::version_line("mailctl"), "Print the version and exit");

  add_init_command(app, ctx);
  add_postoffice_commands(app, ctx);
  add_mailbox_commands(app, ctx);
  add_deliver_command(app, ctx);
  add_service_commands(app, ctx);
  add_cert_commands(app, ctx);
  add_access_commands(app, ctx);
  add_daemon_commands(app, ctx);
  add_control_commands(app, ctx);
  add_provision_commands(app, ctx);
  add_backup_commands(app, ctx);
  add_queue_commands(app, ctx);
  add_migrate_database_command(app, ctx);
  add_help_command(app, ctx);
  add_completion_command(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
    // An unknown command or option is named with the nearest known one; anything else (a
    // missing or extra argument, a bad number) in CLI11's words.
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (auto why = explain_parse_failure(app, args)) {
      print_error(*why);
    } else {
      print_error(std::string(e.what()) + " (see '" + parsed_command_path(app) + " --help')");
    }
    return kExitUsage;
  }

  try {
    if (!ctx.action) {  // every leaf command sets one; a group alone is a usage error
      print_error("missing command (see 'mailctl --help')");
      return kExitUsage;
    }
    mailroom::Status status = ctx.owner_switch_deferred ? mailroom::Status{} : ctx.act_as_data_owner();
    if (status.ok()) status = ctx.action();
    if (!status.ok()) {
      print_error(status.error().message);
      return exit_code_for(status.error());
    }
    return kExitOk;
  } catch (const UsageError& e) {
    print_error(e.what());
    return kExitUsage;
  } catch (const ExitCodeError& e) {
    print_error(e.what());
    return e.code();
  } catch (const std::exception& e) {
    print_error(std::string("internal error: ") + e.what());
    return kExitFailure;
  }
}
