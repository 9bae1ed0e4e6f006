// mailctl backup and restore (placeholder until written).
#include "admin-cli/commands.h"
namespace mailroom::cli {
void add_backup_commands(CLI::App&, Context&) {}
}  // namespace mailroom::cli
