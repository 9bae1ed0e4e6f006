// Thin RAII wrappers over the SQLite C API: a connection, prepared statements, transactions.
// Not thread-safe by themselves: the owner serialises access (see SqliteAccountStore).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace mailroom::storage::sqlite {

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

// Maps an SQLite result code to our error codes: busy/locked are worth a retry.
Error sqlite_error(int rc, const std::string& message);

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  // Binding is 1-based like SQLite; the first bind error is reported by step()/run().
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, bool value) { return bind(index, static_cast<int64_t>(value ? 1 : 0)); }
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }

  // true: a row is available; false: done.
  Result<bool> step();
  // Steps to completion, ignoring rows (for INSERT/UPDATE/DELETE).
  Status run();
  // Makes the statement runnable again with fresh bindings, so a bulk write prepares it once.
  Statement& reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    bind_rc_ = SQLITE_OK;
    return *this;
  }

  int64_t column_int(int index) const { return sqlite3_column_int64(stmt_.get(), index); }
  bool column_bool(int index) const { return column_int(index) != 0; }
  std::string column_text(int index) const;
  bool column_is_null(int index) const { return sqlite3_column_type(stmt_.get(), index) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> stmt_;
  int bind_rc_ = SQLITE_OK;
};

class Db {
 public:
  // Opens `path` (creating it if `create`) and sets the connection's pragmas: WAL, busy timeout,
  // foreign keys, synchronous=FULL (a write is durable when the call returns).
  static Result<Db> open(const std::string& path, bool create);

  Result<Statement> prepare(std::string_view sql);
  // Runs one or more statements that return no rows needed by the caller.
  Status exec(const std::string& sql);
  // The single integer a query returns (e.g. a PRAGMA or COUNT).
  Result<int64_t> query_int(std::string_view sql);
  int64_t changes() const { return sqlite3_changes64(db_.get()); }
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }
  sqlite3* handle() const { return db_.get(); }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  std::unique_ptr<sqlite3, ConnectionCloser> db_;
};

// BEGIN IMMEDIATE (take the write lock up front, so busy_timeout applies instead of a
// mid-transaction SQLITE_BUSY), rolled back on destruction unless committed.
class Transaction {
 public:
  static Result<Transaction> begin(Db& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_;  // null once committed or rolled back
};

}  // namespace mailroom::storage::sqlite
