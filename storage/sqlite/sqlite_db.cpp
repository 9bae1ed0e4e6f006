// RAII wrappers over SQLite: connection setup, statement stepping, error mapping.
#include "storage/sqlite/sqlite_db.h"

namespace mailroom::storage::sqlite {

Error sqlite_error(int rc, const std::string& message) {
  int primary = rc & 0xff;
  ErrorCode code = (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) ? ErrorCode::kTemporary
                                                                         : ErrorCode::kDatabase;
  return make_error(code, "database error: " + message);
}

Statement& Statement::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer may go away before step().
  int rc = sqlite3_bind_text64(stmt_.get(), index, value.data(), value.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) return sqlite_error(bind_rc_, std::string("bind: ") + sqlite3_errstr(bind_rc_));
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(rc, sqlite3_errmsg(db_));
}

Status Statement::run() {
  while (true) {
    auto row = step();
    if (!row) return row.error();
    if (!*row) return {};
  }
}

std::string Statement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), index);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), index)));
}

Result<Db> Db::open(const std::string& path, bool create) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);  // owns the handle even when open failed
  if (rc != SQLITE_OK) {
    return sqlite_error(rc, "cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  // journal_mode answers with the mode in force; anything but "wal" means it did not stick.
  auto stmt = db.prepare("PRAGMA journal_mode=WAL");
  if (!stmt) return Error{stmt.error().code, stmt.error().message + " (" + path + ")"};
  auto row = stmt->step();
  if (!row) return Error{row.error().code, row.error().message + " (" + path + ")"};
  if (!*row || stmt->column_text(0) != "wal") {
    return make_error(ErrorCode::kDatabase, "database error: cannot enable WAL mode on " + path);
  }
  if (auto st = db.exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;"); !st) return st.error();
  return db;
}

Result<Statement> Db::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  Statement stmt(db_.get(), raw);  // finalizes even on error (finalize(nullptr) is a no-op)
  if (rc != SQLITE_OK) return sqlite_error(rc, sqlite3_errmsg(db_.get()));
  return stmt;
}

Status Db::exec(const std::string& sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &msg);
  std::unique_ptr<char, decltype(&sqlite3_free)> owned(msg, &sqlite3_free);
  if (rc != SQLITE_OK) return sqlite_error(rc, msg ? msg : sqlite3_errstr(rc));
  return {};
}

Result<int64_t> Db::query_int(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return make_error(ErrorCode::kDatabase, "database error: no result for " + std::string(sql));
  return stmt->column_int(0);
}

Result<Transaction> Transaction::begin(Db& db) {
  if (auto st = db.exec("BEGIN IMMEDIATE"); !st) return st.error();
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Db* db = db_;
  db_ = nullptr;
  auto st = db->exec("COMMIT");
  // A failed COMMIT (e.g. SQLITE_BUSY) leaves the transaction open: roll it back.
  if (!st && !sqlite3_get_autocommit(db->handle())) (void)db->exec("ROLLBACK");
  return st;
}

}  // namespace mailroom::storage::sqlite
