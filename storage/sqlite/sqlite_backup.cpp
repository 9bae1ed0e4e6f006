// snapshot_database (sqlite3_backup_*) and relocate_maildirs.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "storage/backup.h"
#include "storage/sql/migrations.h"
#include "storage/sqlite/sqlite_db.h"

namespace mailroom::storage {

namespace {

// Every page in one step: the step reads in one transaction, so the copy is one state of the
// database. In WAL mode (the store always uses it) a reader never blocks writers, so the daemon
// commits on meanwhile. Copying in smaller steps restarted the copy at each commit another
// connection made between two steps: a daemon committing all the time kept a backup of a
// database larger than one step from ever finishing.
constexpr int kBackupAllPages = -1;
constexpr int kBackupBusyRetries = 500;  // x 10 ms

Result<std::unique_ptr<sqlite::SqliteConnection>> open_existing(const std::string& data_dir) {
  const std::string path = (std::filesystem::path(data_dir) / kDatabaseFileName).string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return make_error(ErrorCode::kNotFound, "no Mailroom data in " + data_dir + " (no " + path + ")");
  }
  return sqlite::SqliteConnection::open(path, /*create=*/false);
}

struct BackupFinisher {
  void operator()(sqlite3_backup* b) const { sqlite3_backup_finish(b); }
};

}  // namespace

Status snapshot_database(const std::string& data_dir, const std::string& dest_file) {
  auto source = open_existing(data_dir);
  if (!source) return source.error();
  // The copy holds password hashes: 0600 from its first moment, and never an existing file.
  int fd = ::open(dest_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot create " + dest_file);
  ::close(fd);
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(dest_file.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  std::unique_ptr<sqlite3, sqlite::ConnectionCloser> dest(raw);
  if (rc != SQLITE_OK) return sqlite::sqlite_error(rc, "cannot open " + dest_file);
  {
    std::unique_ptr<sqlite3_backup, BackupFinisher> backup(
        sqlite3_backup_init(dest.get(), "main", (*source)->handle(), "main"));
    if (!backup) return sqlite::sqlite_error(sqlite3_errcode(dest.get()), sqlite3_errmsg(dest.get()));
    int retries = 0;
    while (true) {
      rc = sqlite3_backup_step(backup.get(), kBackupAllPages);
      if (rc == SQLITE_DONE) break;
      if (rc == SQLITE_OK) continue;
      if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && ++retries < kBackupBusyRetries) {
        sqlite3_sleep(10);
        continue;
      }
      return sqlite::sqlite_error(rc, std::string("backup of the database: ") + sqlite3_errstr(rc));
    }
  }
  rc = sqlite3_errcode(dest.get());
  if (rc != SQLITE_OK) return sqlite::sqlite_error(rc, sqlite3_errmsg(dest.get()));
  // A standalone file: no -wal beside it to carry along.
  char* msg = nullptr;
  rc = sqlite3_exec(dest.get(), "PRAGMA journal_mode=DELETE", nullptr, nullptr, &msg);
  sqlite3_free(msg);
  if (rc != SQLITE_OK) return sqlite::sqlite_error(rc, "cannot finish " + dest_file);
  return {};
}

Result<int64_t> relocate_maildirs(const std::string& data_dir, const std::string& old_mail_root,
                                  const std::string& new_mail_root) {
  auto conn = open_existing(data_dir);
  if (!conn) return conn.error();
  sql::Db db(std::move(*conn));
  if (auto st = sql::migrate(db); !st) return st.error();
  if (old_mail_root == new_mail_root) return int64_t{0};
  auto tx = sql::Transaction::begin(db);
  if (!tx) return tx.error();
  auto stmt = db.prepare(
      "UPDATE mailboxes SET maildir = ?2 || substr(maildir, length(?1) + 1) "
      "WHERE substr(maildir, 1, length(?1) + 1) = ?1 || '/'");
  if (!stmt) return stmt.error();
  if (auto st = stmt->bind(1, old_mail_root).bind(2, new_mail_root).run(); !st) return st.error();
  const int64_t moved = db.changes();
  if (auto st = tx->commit(); !st) return st.error();
  return moved;
}

}  // namespace mailroom::storage
