// mailctl migrate-database --to URL|sqlite: copies a single box's accounts-and-policy database to
// PostgreSQL (or back to DATA/mailroom.db) with storage/sql/database_copy, verifies it table by
// table, and only then switches the data directory over (DATA/database.url written or removed).
#include <sys/stat.h>

#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "admin-cli/commands.h"
#include "storage/backup.h"
#include "storage/maildir/lock_file.h"
#include "storage/sql/database_copy.h"
#include "storage/store_factory.h"

namespace mailroom::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// `--to sqlite` names the data directory's own SQLite database.
constexpr const char* kSqliteTarget = "sqlite";

struct MigrateArgs {
  std::string to;
  bool force = false;
};

std::string database_name(const std::string& data_dir, const std::string& url) {
  return url.empty() ? "SQLite " + (fs::path(data_dir) / storage::kDatabaseFileName).string()
                     : "PostgreSQL " + storage::printable_database_url(url);
}

// The daemon's instance lock, held for the whole command: no mailroomd writes during the copy,
// and none starts on a half-switched directory.
Result<storage::UniqueFd> lock_instance(const std::string& data_dir) {
  const fs::path run = fs::path(data_dir) / "run";
  std::error_code ec;
  if (fs::create_directory(run, ec)) ::chmod(run.c_str(), 0700);
  auto lock = storage::lock_file((run / "mailroomd.lock").string(), /*wait=*/false);
  if (!lock && lock.error().code == ErrorCode::kInUse) {
    return make_error(ErrorCode::kInUse, "a running mailroomd uses " + data_dir +
                                             "; stop it first (migrate-database never copies under a running daemon)");
  }
  return lock;
}

void print_checks(const Context& ctx, const std::string& from, const std::string& to,
                  const std::vector<storage::sql::TableCheck>& checks, bool verified) {
  if (ctx.json) {
    json tables = json::array();
    for (const auto& c : checks) {
      tables.push_back({{"table", c.table},
                        {"source_rows", c.source_rows},
                        {"target_rows", c.target_rows},
                        {"source_sha256", c.source_sha256},
                        {"target_sha256", c.target_sha256},
                        {"match", c.matches()}});
    }
    print_json({{"ok", verified}, {"from", from}, {"to", to}, {"verified", verified}, {"switched", verified},
                {"tables", tables}});
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : checks) {
    rows.push_back({c.table, std::to_string(c.source_rows), std::to_string(c.target_rows),
                    c.source_sha256.substr(0, 16), c.target_sha256.substr(0, 16), c.matches() ? "yes" : "NO"});
  }
  print_line(format_table({"TABLE", "SOURCE ROWS", "TARGET ROWS", "SOURCE SHA-256", "TARGET SHA-256", "MATCH"}, rows));
}

Status run_migrate(const Context& ctx, const MigrateArgs& a) {
  const std::string data_dir = ctx.data_dir();
  auto from_url = storage::resolve_database_url(data_dir, ctx.database_option);
  if (!from_url) return from_url.error();
  const std::string to_url = a.to == kSqliteTarget ? std::string() : a.to;
  if (!to_url.empty()) {
    if (Status s = storage::check_database_url(to_url); !s) {
      return make_error(ErrorCode::kInvalidArgument, s.error().message + "; --to sqlite names " +
                                                         (fs::path(data_dir) / storage::kDatabaseFileName).string());
    }
  }
  const std::string from = database_name(data_dir, *from_url);
  const std::string to = database_name(data_dir, to_url);
  if (*from_url == to_url) {
    return make_error(ErrorCode::kInvalidArgument, data_dir + " already uses " + from + ": nothing to migrate");
  }
  auto lock = lock_instance(data_dir);
  if (!lock) return lock.error();

  auto source = storage::open_database_as_is(data_dir, *from_url);
  if (!source) return source.error();
  if (Status s = storage::sql::check_copyable(*source, "the source database (" + from + ")"); !s) return s;
  // The fingerprint travels with the copy, so another node's key is refused on the target.
  if (Status s = storage::record_secrets_key(*source, data_dir); !s) return s;

  auto target = storage::open_migrated_database(data_dir, to_url);
  if (!target) return target.error();
  auto held = storage::sql::rows_held(*target);
  if (!held) return held.error();
  if (*held > 0 && !a.force) {
    return make_error(ErrorCode::kAlreadyExists,
                      "the target database (" + to + ") already holds data (" + std::to_string(*held) +
                          " rows): migrate into an empty database, or use --force to empty it first");
  }
  if (Status s = storage::sql::copy_database(*source, *target); !s) return s;
  auto checks = storage::sql::verify_copy(*source, *target);
  if (!checks) return checks.error();
  bool verified = true;
  for (const auto& c : *checks) verified = verified && c.matches();
  print_checks(ctx, from, to, *checks, verified);
  if (!verified) {
    return make_error(ErrorCode::kDatabase, "the copy in " + to + " does not match " + from +
                                                " (see the table above): nothing was switched, " + data_dir +
                                                " still uses " + from);
  }

  const fs::path url_file = fs::path(data_dir) / storage::kDatabaseUrlFileName;
  if (to_url.empty()) {
    std::error_code ec;
    fs::remove(url_file, ec);
    if (ec) return make_error(ErrorCode::kIo, "the copy is verified, but " + url_file.string() +
                                                  " could not be removed: " + ec.message() + "; remove it by hand");
  } else if (Status s = storage::record_database_url(data_dir, to_url); !s) {
    return s;
  }
  if (!ctx.json) {
    print_line("copied and verified; " + data_dir + " now uses " + to + " (" + url_file.string() +
               (to_url.empty() ? " removed" : " written") + ")");
    print_line("restart mailroomd to use it (a reload keeps the database it started with); the old database is "
               "left as it was");
    if (!to_url.empty()) {
      print_line("other nodes: copy " + data_dir + "/secrets.key to each, then 'mailctl --data DIR init --database URL'");
    }
  }
  return {};
}

}  // namespace

void add_migrate_database_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<MigrateArgs>();
  CLI::App* migrate = app.add_subcommand(
      "migrate-database",
      "Copy this data directory's database to PostgreSQL (or back to SQLite with --to sqlite), verify it by "
      "counts and hashes, then switch the data directory to it (mailroomd stopped)");
  migrate->add_option("--to", args->to, "postgresql://USER@HOST/DB (or libpq words), or 'sqlite' for DATA/mailroom.db")
      ->required();
  migrate->add_flag("--force", args->force, "Empty a target database that holds data before copying into it");
  migrate->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_migrate(ctx, *args); }; });
}

}  // namespace mailroom::cli
