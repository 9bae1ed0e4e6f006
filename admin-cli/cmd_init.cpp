// mailctl init: creates the data directory, the database, DATA/mail and the default services.
// Idempotent: a second run repairs what is missing and says "already initialised".
#include <filesystem>

#include "admin-cli/commands.h"
#include "daemon/builtin_modules.h"

namespace mailroom::cli {

namespace fs = std::filesystem;

namespace {

Status run_init(const Context& ctx) {
  const std::string dir = ctx.data_dir();
  std::error_code ec;
  bool already = false;

  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    return make_error(ErrorCode::kInvalidArgument, dir + " exists and is not a directory");
  }
  if (!fs::exists(dir, ec)) {
    if (!fs::create_directories(dir, ec) && ec) {
      return make_error(ErrorCode::kIo, "cannot create data directory " + dir + ": " + ec.message());
    }
    // The database holds password hashes: keep the new directory private to its owner.
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  } else {
    auto existing = storage::open_sqlite_account_store(dir, /*create=*/false);
    if (existing.ok()) {
      already = true;
    } else if (existing.error().code != ErrorCode::kNotFound) {
      return existing.error();
    }
  }

  auto store = storage::open_sqlite_account_store(dir, /*create=*/true);
  if (!store) return store.error();

  const std::string mail = ctx.mail_root();
  if (!fs::create_directories(mail, ec) && ec) {
    return make_error(ErrorCode::kIo, "cannot create mail directory " + mail + ": " + ec.message());
  }

  nlohmann::ordered_json created_services = nlohmann::ordered_json::array();
  std::string created_names;
  for (const auto& [name, module] : builtin::default_services()) {
    if ((*store)->get_service(name).ok()) continue;
    if (Status s = (*store)->ensure_service(name, module, /*enabled=*/true); !s) return s;
    created_services.push_back(name);
    created_names += (created_names.empty() ? "" : ", ") + name;
  }

  // TLS works out of the box: a self-signed certificate until the admin imports a real one.
  bool generated_cert = false;
  if (!fs::exists(dir + "/tls/cert.pem", ec) || !fs::exists(dir + "/tls/key.pem", ec)) {
    if (Status s = generate_default_certificate(ctx, "", 825); !s) return s;
    generated_cert = true;
  }

  std::string message = already ? "already initialised " + dir : "initialised " + dir;
  if (generated_cert) message += " (self-signed TLS certificate in " + dir + "/tls)";
  if (already && !created_services.empty()) {
    message += " (added services: " + created_names + ")";
  }
  ctx.done(message, {{"data_dir", dir},
                     {"already_initialised", already},
                     {"created_services", created_services},
                     {"generated_certificate", generated_cert}});
  return {};
}

}  // namespace

void add_init_command(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand(
      "init", "Create the data directory, database, mail folder and default services");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return run_init(ctx); }; });
}

}  // namespace mailroom::cli
