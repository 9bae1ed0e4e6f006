// mailctl backup and restore: a data directory's database (a consistent snapshot through
// SQLite's backup API, taken while the daemon runs), secrets key, certificates and Maildirs, as a
// directory tree or a tar file Mailroom writes itself; and putting them into a new data directory.
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/base/count_text.h"
#include "admin-cli/commands.h"
#include "admin-cli/provision/backup_archive.h"
#include "storage/backup.h"
#include "storage/mail_root.h"
#include "storage/maildir/lock_file.h"
#include "storage/secrets/private_file.h"
#include "storage/secrets/secret_box.h"
#include "storage/store_factory.h"

namespace mailroom::cli {

namespace {

namespace fs = std::filesystem;
namespace pv = provision;
using json = nlohmann::ordered_json;

constexpr const char* kManifestName = "manifest.json";
constexpr int kManifestVersion = 1;
constexpr std::size_t kMaxManifestBytes = 1 << 20;

bool is_tar(const std::string& path) { return path.size() > 4 && path.compare(path.size() - 4, 4, ".tar") == 0; }

struct Counts {
  int64_t files = 0;
  int64_t bytes = 0;
  int64_t messages = 0;  // files in a cur/ or new/ folder
  int64_t directories = 0;
  int64_t vanished = 0;  // deleted while the backup ran
  int64_t skipped = 0;   // symlinks, sockets, deliveries in progress (tmp/)
};

// Copies the tree `dir` (a folder of the data directory) into the sink as `name`/..., without
// following symlinks. Files in a tmp/ folder are deliveries in progress: the folder is kept,
// its files are not.
Status copy_tree(pv::BackupSink& sink, const fs::path& dir, const std::string& name, Counts& counts) {
  std::error_code ec;
  struct stat top{};
  if (::lstat(dir.c_str(), &top) != 0 || !S_ISDIR(top.st_mode)) return {};
  if (auto st = sink.add_directory(name, top.st_mode, top.st_mtim.tv_sec); !st) return st;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot read " + dir.string() + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return make_error(ErrorCode::kIo, "cannot read under " + dir.string() + ": " + ec.message());
    const fs::path& path = it->path();
    const std::string rel = name + "/" + path.lexically_relative(dir).string();
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) {
      ++counts.vanished;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (auto s = sink.add_directory(rel, st.st_mode, st.st_mtim.tv_sec); !s) return s;
      ++counts.directories;
      continue;
    }
    const std::string parent = path.parent_path().filename().string();
    if (!S_ISREG(st.st_mode) || parent == "tmp") {
      ++counts.skipped;
      continue;
    }
    auto copied = sink.add_file(rel, path.string());
    if (!copied) {
      if (copied.error().code == ErrorCode::kNotFound) {
        ++counts.vanished;
        continue;
      }
      return copied.error();
    }
    ++counts.files;
    counts.bytes += *copied;
    if (parent == "cur" || parent == "new") ++counts.messages;
  }
  return {};
}

struct BackupArgs {
  std::string target;
};

// backup and restore copy an SQLite database file; a PostgreSQL one is pg_dump's job.
Status refuse_postgres(const std::string& data_dir, const std::string& given_url, const char* command) {
  auto url = storage::resolve_database_url(data_dir, given_url);
  if (!url) return url.error();
  if (url->empty()) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    std::string("mailctl ") + command + " copies an SQLite database, but " + data_dir +
                        " keeps its accounts in PostgreSQL (" + storage::printable_database_url(*url) +
                        "): use pg_dump and pg_restore for the database and copy secrets.key and tls/ "
                        "(docs/postgresql.md)");
}

Status run_backup(const Context& ctx, const BackupArgs& a) {
  const std::string data_dir = ctx.data_dir();
  if (Status s = refuse_postgres(data_dir, ctx.database_option, "backup"); !s) return s;
  auto store = ctx.open_store();  // the usual "run mailctl init" message for a missing one
  if (!store) return store.error();
  auto mailboxes = (*store)->list_mailboxes(std::nullopt);
  if (!mailboxes) return mailboxes.error();
  auto configured_root = storage::configured_mail_root(**store, data_dir);  // the mail_root setting, else DATA/mail
  if (!configured_root) return configured_root.error();
  const std::string mail_root = *configured_root;
  int64_t outside = 0;
  for (const auto& m : *mailboxes) {
    if (m.maildir.compare(0, mail_root.size() + 1, mail_root + "/") != 0) ++outside;
  }

  const std::string target = fs::absolute(a.target).lexically_normal().string();
  auto sink = is_tar(target) ? pv::create_tar_sink(target) : pv::create_directory_sink(target);
  if (!sink) return sink.error();
  storage::TempFileGuard remove_tar(is_tar(target) ? target : "");  // an unfinished tar is no backup

  // The database first: the Maildirs copied after it hold at least what it lists.
  const std::string db_copy = target + ".mailroom-db.tmp";
  storage::TempFileGuard remove_db_copy(db_copy);
  if (Status s = storage::snapshot_database(data_dir, db_copy); !s) return s;
  auto db_bytes = (*sink)->add_file(storage::kDatabaseFileName, db_copy);
  if (!db_bytes) return db_bytes.error();

  const std::string key = storage::secret_key_path(data_dir);
  std::error_code ec;
  const bool has_key = fs::exists(key, ec);
  if (has_key) {
    if (auto copied = (*sink)->add_file(std::string(storage::SecretBox::kKeyFileName), key); !copied) {
      return copied.error();
    }
  }
  Counts tls;
  if (Status s = copy_tree(**sink, fs::path(data_dir) / "tls", "tls", tls); !s) return s;
  Counts mail;
  if (Status s = copy_tree(**sink, mail_root, "mail", mail); !s) return s;

  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  json manifest = {{"version", kManifestVersion},
                   {"created_at", format_time_iso(now)},
                   {"data_dir", data_dir},
                   {"mail_root", mail_root},
                   {"database_bytes", *db_bytes},
                   {"secrets_key", has_key},
                   {"tls_files", tls.files},
                   {"mailboxes", static_cast<int64_t>(mailboxes->size())},
                   {"mailboxes_outside_mail_root", outside},
                   {"mail_files", mail.files},
                   {"messages", mail.messages},
                   {"mail_bytes", mail.bytes},
                   {"vanished_files", mail.vanished + tls.vanished},
                   {"skipped_files", mail.skipped + tls.skipped}};
  if (Status s = (*sink)->add_bytes(kManifestName, manifest.dump(2) + "\n", 0600, now); !s) return s;
  if (Status s = (*sink)->finish(); !s) return s;
  remove_tar.release();

  std::string message = "backed up " + data_dir + " to " + target + ": database (" + std::to_string(*db_bytes) +
                        " bytes), " + counted(mail.messages, "message", "messages") + " in " +
                        counted(mailboxes->size(), "mailbox", "mailboxes") + " (" + std::to_string(mail.bytes) + " bytes)" +
                        (has_key ? ", the secrets key" : "") + ", " + counted(tls.files, "TLS file", "TLS files");
  if (outside > 0) {
    message += "; " + counted(outside, "mailbox has its", "mailboxes have their") + " Maildir outside " + mail_root +
               ": back those up yourself";
  }
  json extra = {{"path", target}, {"format", is_tar(target) ? "tar" : "directory"}};
  for (auto& [k, v] : manifest.items()) extra[k] = v;
  ctx.done(message, std::move(extra));
  return {};
}

struct RestoreArgs {
  std::string source;
  bool force = false;
};

// Replays a backup directory into the sink (the same walk a backup makes, minus the filters).
Status copy_backup_dir(pv::BackupSink& sink, const fs::path& source, Counts& counts) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(source, ec)) {
    const std::string name = entry.path().filename().string();
    struct stat st{};
    if (::lstat(entry.path().c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (Status s = copy_tree(sink, entry.path(), name, counts); !s) return s;
    } else if (S_ISREG(st.st_mode)) {
      auto copied = sink.add_file(name, entry.path().string());
      if (!copied) return copied.error();
      ++counts.files;
    }
  }
  if (ec) return make_error(ErrorCode::kIo, "cannot read " + source.string() + ": " + ec.message());
  return {};
}

Result<json> read_manifest(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kInvalidArgument, "the backup has no " + std::string(kManifestName));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > kMaxManifestBytes) return make_error(ErrorCode::kInvalidArgument, "the manifest is too large");
  try {
    json doc = json::parse(text);
    if (doc.value("version", 0) != kManifestVersion) {
      return make_error(ErrorCode::kInvalidArgument, "the backup's manifest is not version 1");
    }
    return doc;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, std::string("cannot read the backup's manifest: ") + e.what());
  }
}

Status run_restore(const Context& ctx, const RestoreArgs& a) {
  const std::string target = ctx.data_dir();
  if (Status s = refuse_postgres(target, ctx.database_option, "restore"); !s) return s;
  const std::string source = fs::absolute(a.source).lexically_normal().string();
  std::error_code ec;
  const bool source_is_dir = fs::is_directory(source, ec);
  if (!source_is_dir && !fs::is_regular_file(source, ec)) {
    return make_error(ErrorCode::kNotFound, "no backup at " + source);
  }
  if (source_is_dir && !fs::exists(fs::path(source) / kManifestName, ec)) {
    return make_error(ErrorCode::kInvalidArgument, source + " is not a Mailroom backup (no " + kManifestName + ")");
  }
  if (fs::exists(target, ec) && !fs::is_empty(target, ec) && !a.force) {
    return make_error(ErrorCode::kAlreadyExists, target + " is not empty (restore into a new directory, or use --force "
                                                           "to write over what is there)");
  }
  if (!fs::exists(target, ec) && ::mkdir(target.c_str(), 0700) != 0) {
    return make_error(ErrorCode::kIo, "cannot create " + target);
  }
  // Never under a running daemon: its lock is held while it runs. Holding it ourselves also
  // keeps one from starting on a half-restored directory.
  const fs::path run = fs::path(target) / "run";
  fs::create_directory(run, ec);
  ::chmod(run.c_str(), 0700);
  auto lock = storage::lock_file((run / "mailroomd.lock").string(), /*wait=*/false);
  if (!lock) {
    if (lock.error().code == ErrorCode::kInUse) {
      return make_error(ErrorCode::kInUse, "a running mailroomd uses " + target + "; stop it first (restore never "
                                                                                 "writes under a running daemon)");
    }
    return lock.error();
  }
  // Old WAL files would be replayed into the restored database.
  for (const char* stale : {"mailroom.db-wal", "mailroom.db-shm"}) fs::remove(fs::path(target) / stale, ec);

  auto sink = pv::create_directory_sink(target, /*allow_existing=*/true);
  if (!sink) return sink.error();
  Counts counts;
  if (source_is_dir) {
    if (Status s = copy_backup_dir(**sink, source, counts); !s) return s;
  } else if (Status s = pv::extract_tar(source, **sink); !s) {
    return s;
  }
  if (Status s = (*sink)->finish(); !s) return s;

  const fs::path manifest_path = fs::path(target) / kManifestName;
  auto manifest = read_manifest(manifest_path);
  if (!manifest) return manifest.error();
  fs::remove(manifest_path, ec);
  const std::string old_root = manifest->value("mail_root", std::string());
  const std::string new_root = ctx.mail_root();
  auto moved = storage::relocate_maildirs(target, old_root, new_root);
  if (!moved) return moved.error();

  ctx.done("restored " + source + " into " + target + " (" + counted(manifest->value("messages", int64_t{0}), "message", "messages") + "; " +
               counted(*moved, "mailbox's Maildir", "mailboxes' Maildirs") + " now under " + new_root + ")",
           {{"path", source},
            {"data_dir", target},
            {"backup_created_at", manifest->value("created_at", "")},
            {"messages", manifest->value("messages", 0)},
            {"mailboxes_moved", *moved}});
  return {};
}

}  // namespace

void add_backup_commands(CLI::App& app, Context& ctx) {
  auto backup_args = std::make_shared<BackupArgs>();
  CLI::App* backup = app.add_subcommand(
      "backup", "Copy the database (a consistent snapshot, also while mailroomd runs), secrets key, certificates "
                "and Maildirs to a new directory or FILE.tar");
  backup->add_option("TARGET", backup_args->target, "A new (or empty) directory, or a new FILE.tar")->required();
  backup->callback([&ctx, backup_args] { ctx.action = [&ctx, backup_args] { return run_backup(ctx, *backup_args); }; });

  auto restore_args = std::make_shared<RestoreArgs>();
  CLI::App* restore = app.add_subcommand(
      "restore", "Restore a backup (directory or FILE.tar) into the data directory given with --data");
  restore->add_option("SOURCE", restore_args->source, "The backup directory or FILE.tar")->required();
  restore->add_flag("--force", restore_args->force, "Write into a data directory that is not empty");
  restore->callback(
      [&ctx, restore_args] { ctx.action = [&ctx, restore_args] { return run_restore(ctx, *restore_args); }; });
}

}  // namespace mailroom::cli
