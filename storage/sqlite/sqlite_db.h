// The SQLite back end of the SQL layer (storage/sql/sql_db.h): RAII over the SQLite C API.
// Writers are serialised by SQLite's write lock, taken up front (BEGIN IMMEDIATE).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "core/base/result.h"
#include "storage/sql/sql_db.h"

namespace mailroom::storage::sqlite {

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

// Maps an SQLite result code to our error codes: busy/locked are worth a retry.
Error sqlite_error(int rc, const std::string& message);

class SqliteConnection final : public sql::ConnectionImpl {
 public:
  // Opens `path` (creating it if `create`) and sets the connection's pragmas: WAL, busy timeout,
  // foreign keys, synchronous=FULL (a write is durable when the call returns).
  static Result<std::unique_ptr<SqliteConnection>> open(const std::string& path, bool create);

  sql::Dialect dialect() const override { return sql::Dialect::kSqlite; }
  Result<std::unique_ptr<sql::StatementImpl>> prepare(std::string_view sql) override;
  Status exec(const std::string& sql) override;
  int64_t changes() const override { return sqlite3_changes64(db_.get()); }
  // BEGIN IMMEDIATE: take the write lock up front, so busy_timeout applies instead of a
  // mid-transaction SQLITE_BUSY.
  Status begin_write() override { return exec("BEGIN IMMEDIATE"); }
  // A deferred transaction reads from one snapshot (WAL).
  Status begin_read() override { return exec("BEGIN"); }
  Status commit() override;
  void rollback() override { (void)exec("ROLLBACK"); }
  // PRAGMA data_version: changes when another connection commits.
  Result<int64_t> data_version() override;
  sqlite3* handle() const { return db_.get(); }

  explicit SqliteConnection(sqlite3* db) : db_(db) {}  // takes ownership (use open())

 private:
  std::unique_ptr<sqlite3, ConnectionCloser> db_;
};

// `path` opened as a sql::Db (see SqliteConnection::open).
Result<sql::Db> open_db(const std::string& path, bool create);

}  // namespace mailroom::storage::sqlite
