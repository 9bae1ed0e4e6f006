// The SQL layer the account and policy stores run on: a connection (Db), prepared statements and
// transactions as concrete classes over a back end's virtual implementation (SQLite in
// storage/sqlite/, PostgreSQL in storage/postgres/), and the Dialect for the few spellings that
// differ. The stores write one SQL for both: `?N` placeholders, ON CONFLICT, RETURNING, `||`.
// Not thread-safe by themselves: the owner serialises access to one Db (see SqlAccountStore).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace mailroom::storage::sql {

enum class Dialect { kSqlite, kPostgres };

// An aggregate joining `expr` over the rows with the character `separator` between values
// (SQLite: group_concat(expr, char(N)); PostgreSQL: string_agg(expr, chr(N))). NULL for no rows.
std::string joined(Dialect dialect, std::string_view expr, char separator);

// What a back end implements for one prepared statement. Binding is 1-based; an unbound
// parameter is NULL. The first bind error is reported by step().
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void bind_int(int index, int64_t value) = 0;
  virtual void bind_text(int index, std::string_view value) = 0;
  // true: a row is available; false: done.
  virtual Result<bool> step() = 0;
  // Runnable again, every parameter NULL.
  virtual void reset() = 0;
  virtual int64_t column_int(int index) const = 0;
  virtual std::string column_text(int index) const = 0;  // NULL reads as ""
  virtual bool column_is_null(int index) const = 0;
  virtual int column_count() const = 0;
};

// What a back end implements for one connection.
class ConnectionImpl {
 public:
  virtual ~ConnectionImpl() = default;
  virtual Dialect dialect() const = 0;
  virtual Result<std::unique_ptr<StatementImpl>> prepare(std::string_view sql) = 0;
  // One or more statements whose rows nobody needs.
  virtual Status exec(const std::string& sql) = 0;
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  virtual int64_t changes() const = 0;
  // A transaction that writes: writers are serialised (see each back end for how).
  virtual Status begin_write() = 0;
  // A transaction that only reads, every statement from one snapshot.
  virtual Status begin_read() = 0;
  // Commits; a failed commit leaves no transaction open.
  virtual Status commit() = 0;
  virtual void rollback() = 0;
  // A number that changes when another connection (or node) has committed a change.
  virtual Result<int64_t> data_version() = 0;
};

class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}

  Statement& bind(int index, int64_t value) {
    impl_->bind_int(index, value);
    return *this;
  }
  Statement& bind(int index, std::string_view value) {
    impl_->bind_text(index, value);
    return *this;
  }
  Statement& bind(int index, bool value) { return bind(index, static_cast<int64_t>(value ? 1 : 0)); }
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }

  // true: a row is available; false: done.
  Result<bool> step() { return impl_->step(); }
  // Steps to completion, ignoring rows (for INSERT/UPDATE/DELETE).
  Status run();
  // Makes the statement runnable again with fresh bindings, so a bulk write prepares it once.
  Statement& reset() {
    impl_->reset();
    return *this;
  }

  int64_t column_int(int index) const { return impl_->column_int(index); }
  bool column_bool(int index) const { return column_int(index) != 0; }
  std::string column_text(int index) const { return impl_->column_text(index); }
  bool column_is_null(int index) const { return impl_->column_is_null(index); }
  int column_count() const { return impl_->column_count(); }

 private:
  std::unique_ptr<StatementImpl> impl_;
};

class Db {
 public:
  explicit Db(std::unique_ptr<ConnectionImpl> impl) : impl_(std::move(impl)) {}

  Dialect dialect() const { return impl_->dialect(); }
  Result<Statement> prepare(std::string_view sql);
  Status exec(const std::string& sql) { return impl_->exec(sql); }
  // The single integer a query returns (e.g. a COUNT).
  Result<int64_t> query_int(std::string_view sql);
  int64_t changes() const { return impl_->changes(); }
  Result<int64_t> data_version() { return impl_->data_version(); }
  ConnectionImpl& impl() { return *impl_; }

 private:
  std::unique_ptr<ConnectionImpl> impl_;
};

// A write transaction (ConnectionImpl::begin_write), or with begin_read() a read-only snapshot;
// rolled back on destruction unless committed.
class Transaction {
 public:
  static Result<Transaction> begin(Db& db);
  static Result<Transaction> begin_read(Db& db);
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

}  // namespace mailroom::storage::sql
