// The SQLite back end: connection setup, statement stepping, error mapping.
#include "storage/sqlite/sqlite_db.h"

namespace mailroom::storage::sqlite {
namespace {

class SqliteStatement final : public sql::StatementImpl {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  void bind_int(int index, int64_t value) override { note(sqlite3_bind_int64(stmt_.get(), index, value)); }
  void bind_text(int index, std::string_view value) override {
    // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer may go away before step().
    note(sqlite3_bind_text64(stmt_.get(), index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }

  Result<bool> step() override {
    if (bind_rc_ != SQLITE_OK) return sqlite_error(bind_rc_, std::string("bind: ") + sqlite3_errstr(bind_rc_));
    int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return sqlite_error(rc, sqlite3_errmsg(db_));
  }

  void reset() override {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    bind_rc_ = SQLITE_OK;
  }

  int64_t column_int(int index) const override { return sqlite3_column_int64(stmt_.get(), index); }
  std::string column_text(int index) const override {
    const unsigned char* text = sqlite3_column_text(stmt_.get(), index);
    if (text == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), index)));
  }
  bool column_is_null(int index) const override { return sqlite3_column_type(stmt_.get(), index) == SQLITE_NULL; }
  int column_count() const override { return sqlite3_column_count(stmt_.get()); }

 private:
  void note(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> stmt_;
  int bind_rc_ = SQLITE_OK;
};

}  // namespace

Error sqlite_error(int rc, const std::string& message) {
  int primary = rc & 0xff;
  ErrorCode code = (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) ? ErrorCode::kTemporary
                                                                         : ErrorCode::kDatabase;
  return make_error(code, "database error: " + message);
}

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(const std::string& path, bool create) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  auto conn = std::make_unique<SqliteConnection>(raw);  // owns the handle even when open failed
  if (rc != SQLITE_OK) {
    return sqlite_error(rc, "cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  // journal_mode answers with the mode in force; anything but "wal" means it did not stick.
  {
    auto stmt = conn->prepare("PRAGMA journal_mode=WAL");
    if (!stmt) return Error{stmt.error().code, stmt.error().message + " (" + path + ")"};
    auto row = (*stmt)->step();
    if (!row) return Error{row.error().code, row.error().message + " (" + path + ")"};
    if (!*row || (*stmt)->column_text(0) != "wal") {
      return make_error(ErrorCode::kDatabase, "database error: cannot enable WAL mode on " + path);
    }
  }
  if (auto st = conn->exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;"); !st) return st.error();
  return conn;
}

Result<std::unique_ptr<sql::StatementImpl>> SqliteConnection::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  auto stmt = std::make_unique<SqliteStatement>(db_.get(), raw);  // finalizes even on error
  if (rc != SQLITE_OK) return sqlite_error(rc, sqlite3_errmsg(db_.get()));
  return std::unique_ptr<sql::StatementImpl>(std::move(stmt));
}

Status SqliteConnection::exec(const std::string& sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &msg);
  std::unique_ptr<char, decltype(&sqlite3_free)> owned(msg, &sqlite3_free);
  if (rc != SQLITE_OK) return sqlite_error(rc, msg ? msg : sqlite3_errstr(rc));
  return {};
}

Status SqliteConnection::commit() {
  auto st = exec("COMMIT");
  // A failed COMMIT (e.g. SQLITE_BUSY) leaves the transaction open: roll it back.
  if (!st && !sqlite3_get_autocommit(db_.get())) (void)exec("ROLLBACK");
  return st;
}

Result<int64_t> SqliteConnection::data_version() {
  auto stmt = prepare("PRAGMA data_version");
  if (!stmt) return stmt.error();
  auto row = (*stmt)->step();
  if (!row) return row.error();
  if (!*row) return make_error(ErrorCode::kDatabase, "database error: no data_version");
  return (*stmt)->column_int(0);
}

Result<sql::Db> open_db(const std::string& path, bool create) {
  auto conn = SqliteConnection::open(path, create);
  if (!conn) return conn.error();
  return sql::Db(std::move(*conn));
}

}  // namespace mailroom::storage::sqlite
