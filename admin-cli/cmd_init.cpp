// mailctl init: creates the data directory, the database, DATA/mail and the default services.
// Idempotent: a second run repairs what is missing and says "already initialised". Every run
// also takes group and other access away from the data directory, tls/, mail/ and the files
// holding secrets, and says which modes it changed.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "admin-cli/commands.h"
#include "daemon/builtin_modules.h"
#include "storage/maildir/unique_fd.h"
#include "storage/backup.h"
#include "storage/secrets/secret_box.h"
#include "storage/store_factory.h"

namespace mailroom::cli {

namespace fs = std::filesystem;

namespace {

// Everything in the data directory is its owner's: the database (password hashes), the keys,
// the mail. Directories become 0700 and secret files 0600 (owner bits are kept as they are).
constexpr mode_t kDirKeep = 0700;
constexpr mode_t kFileKeep = 0600;

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

struct ModeChange {
  std::string path;
  mode_t from = 0;
  mode_t to = 0;
};

struct Tightening {
  std::vector<ModeChange> changed;
  std::vector<ModeChange> left_alone;  // owned by someone else than the data directory's owner
};

// Narrows `path` to `keep` if it is a directory (`directory`) or a regular file that has more.
// Opened first and changed through the descriptor, so what is checked is what is changed; a
// symlink is not followed unless `follow` (a key linked from /etc/letsencrypt is not ours to
// change). Something missing or of another kind is left alone; so is an entry of another owner
// (say root:mailroom 0640 on purpose: narrowing it could lock the daemon out of its own key).
Status tighten(const std::string& path, bool directory, bool follow, uid_t owner, Tightening& out) {
  const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (directory ? O_DIRECTORY : 0) |
                    (follow ? 0 : O_NOFOLLOW);
  storage::UniqueFd fd(::open(path.c_str(), flags));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) return {};
    return make_error(ErrorCode::kIo, "cannot check the mode of " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return make_error(ErrorCode::kIo, "cannot check the mode of " + path + ": " + std::strerror(errno));
  }
  if (directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) return {};
  const mode_t from = st.st_mode & 07777;
  const mode_t to = from & (directory ? kDirKeep : kFileKeep);
  if (to == from) return {};
  if (st.st_uid != owner) {
    out.left_alone.push_back({path, from, to});
    return {};
  }
  if (::fchmod(fd.get(), to) != 0) {
    return make_error(ErrorCode::kIo, "cannot change the mode of " + path + " from " + mode_text(from) + " to " +
                                          mode_text(to) + ": " + std::strerror(errno));
  }
  out.changed.push_back({path, from, to});
  return {};
}

// The data directory, tls/, mail/ and every file in the data directory that holds a secret: the
// database and its WAL files, secrets.key, tls/key.pem and any other key file a service names
// inside the data directory.
Result<Tightening> tighten_data_dir(const std::string& dir, storage::AccountStore& store) {
  Tightening out;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return make_error(ErrorCode::kIo, "cannot check " + dir + ": " + std::strerror(errno));
  }
  const uid_t owner = st.st_uid;
  // The data directory itself as given (it may be a symlink to where it really is).
  if (Status s = tighten(dir, /*directory=*/true, /*follow=*/true, owner, out); !s) return s.error();
  for (const char* sub : {"tls", "mail"}) {
    if (Status s = tighten(dir + "/" + sub, true, false, owner, out); !s) return s.error();
  }
  std::set<std::string> files = {dir + "/mailroom.db", dir + "/mailroom.db-wal", dir + "/mailroom.db-shm",
                                 dir + "/" + storage::kDatabaseUrlFileName, storage::secret_key_path(dir),
                                 dir + "/tls/key.pem"};
  auto services = store.list_services();
  if (!services) return services.error();
  for (const auto& service : *services) {
    auto key = service.settings.find("key");
    if (key == service.settings.end() || key->second.empty() || key->second.front() == '/') continue;
    const fs::path relative = fs::path(key->second).lexically_normal();
    if (relative.empty() || *relative.begin() == "..") continue;  // outside the data directory
    files.insert((fs::path(dir) / relative).string());
  }
  for (const auto& file : files) {
    if (Status s = tighten(file, false, false, owner, out); !s) return s.error();
  }
  return out;
}

nlohmann::ordered_json changes_json(const std::vector<ModeChange>& changes) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& c : changes) out.push_back({{"path", c.path}, {"from", mode_text(c.from)}, {"to", mode_text(c.to)}});
  return out;
}

// "DATA/tls/key.pem 0644 -> 0600, ..." (or only the present modes).
std::string changes_text(const std::vector<ModeChange>& changes, bool with_new_mode) {
  std::string out;
  for (const auto& c : changes) {
    out += (out.empty() ? "" : ", ") + c.path + " " + mode_text(c.from) + (with_new_mode ? " -> " + mode_text(c.to) : "");
  }
  return out;
}

// mkdir with the final mode in the call itself; an existing directory is fine.
Status make_private_dir(const std::string& path, const std::string& what) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return {};
  return make_error(ErrorCode::kIo, "cannot create " + what + " " + path + ": " + std::strerror(errno));
}

// With --database: the data directory must not hold another database already (nothing moves
// data from one to the other). Returns whether it was initialised with this URL before.
Result<bool> check_database_switch(const std::string& dir, const std::string& url) {
  std::error_code ec;
  if (fs::exists(fs::path(dir) / storage::kDatabaseFileName, ec)) {
    return make_error(ErrorCode::kInvalidArgument,
                      dir + " already keeps its accounts in SQLite (" + storage::kDatabaseFileName +
                          "); nothing moves them to PostgreSQL: initialise a new data directory with --database");
  }
  auto recorded = storage::resolve_database_url(dir, "");
  if (!recorded) return recorded.error();
  if (recorded->empty()) return false;
  if (*recorded != url) {
    return make_error(ErrorCode::kInvalidArgument,
                      dir + " is already initialised with the database " + storage::printable_database_url(*recorded) +
                          " (remove " + dir + "/" + storage::kDatabaseUrlFileName + " to use another one)");
  }
  return true;
}

Status run_init(const Context& ctx) {
  const std::string dir = ctx.data_dir();
  const std::string& url = ctx.database_option;
  std::error_code ec;
  bool already = false;
  if (!url.empty()) {
    if (Status s = storage::check_database_url(url); !s) return s;
  }

  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    return make_error(ErrorCode::kInvalidArgument, dir + " exists and is not a directory");
  }
  if (!fs::exists(dir, ec)) {
    // The parents as usual; the data directory itself private to its owner from its mkdir: the
    // database holds password hashes.
    const fs::path parent = fs::path(dir).parent_path();
    if (!parent.empty() && !fs::create_directories(parent, ec) && ec) {
      return make_error(ErrorCode::kIo, "cannot create data directory " + dir + ": " + ec.message());
    }
    if (Status s = make_private_dir(dir, "data directory"); !s) return s;
  } else if (!url.empty()) {
    auto same = check_database_switch(dir, url);
    if (!same) return same.error();
    already = *same;
  } else {
    auto existing = storage::open_account_store(dir, /*create=*/false);
    if (existing.ok()) {
      already = true;
    } else if (existing.error().code != ErrorCode::kNotFound) {
      return existing.error();
    }
  }

  // On PostgreSQL this also records (or checks) the fingerprint of DATA/secrets.key.
  auto store = storage::open_account_store(dir, /*create=*/true, url);
  if (!store) return store.error();
  if (!url.empty() && !already) {
    if (Status s = storage::record_database_url(dir, url); !s) return s;
  }

  if (Status s = make_private_dir(ctx.mail_root(), "mail directory"); !s) return s;

  nlohmann::ordered_json created_services = nlohmann::ordered_json::array();
  std::string created_names;
  for (const auto& [name, module] : builtin::default_services()) {
    if ((*store)->get_service(name).ok()) continue;
    const bool enabled = builtin::find_module(module)->default_services_enabled;
    if (Status s = (*store)->ensure_service(name, module, enabled); !s) return s;
    created_services.push_back(name);
    created_names += (created_names.empty() ? "" : ", ") + name;
  }

  // TLS works out of the box: a self-signed certificate until the admin imports a real one.
  // Its names: this host's, localhost, 127.0.0.1 and ::1. A certificate without its key is of no
  // use: it is replaced too, kept as a backup when mailctl did not make it.
  bool generated_cert = false;
  std::string cert_backup;
  if (!fs::exists(dir + "/tls/cert.pem", ec) || !fs::exists(dir + "/tls/key.pem", ec)) {
    CertificateRequest request;
    request.force = true;
    auto backup = generate_default_certificate(ctx, request);
    if (!backup) return backup.error();
    cert_backup = backup_note(*backup);
    generated_cert = true;
  }

  auto tightened = tighten_data_dir(dir, **store);
  if (!tightened) return tightened.error();

  auto recorded_url = storage::resolve_database_url(dir, url);
  if (!recorded_url) return recorded_url.error();
  const std::string database =
      recorded_url->empty() ? dir + "/" + storage::kDatabaseFileName : storage::printable_database_url(*recorded_url);
  std::string message = already ? "already initialised " + dir : "initialised " + dir;
  if (!recorded_url->empty()) message += " (database " + database + ")";
  if (generated_cert) message += " (self-signed TLS certificate in " + dir + "/tls)";
  if (!cert_backup.empty()) message += "; " + cert_backup;
  if (already && !created_services.empty()) {
    message += " (added services: " + created_names + ")";
  }
  if (!tightened->changed.empty()) {
    message += "; tightened " + changes_text(tightened->changed, true);
  }
  if (!tightened->left_alone.empty()) {
    message += "; left alone, owned by another user than the data directory: " +
               changes_text(tightened->left_alone, false);
  }
  ctx.done(message, {{"data_dir", dir},
                     {"database", database},
                     {"already_initialised", already},
                     {"created_services", created_services},
                     {"generated_certificate", generated_cert},
                     {"tightened", changes_json(tightened->changed)},
                     {"left_alone", changes_json(tightened->left_alone)}});
  return {};
}

}  // namespace

void add_init_command(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand(
      "init", "Create the data directory, database, mail folder and default services; make them private");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return run_init(ctx); }; });
}

}  // namespace mailroom::cli
