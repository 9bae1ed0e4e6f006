// The PostgreSQL back end of the SQL layer (storage/sql/sql_db.h): RAII over libpq (PGconn,
// PGresult). Statements are sent with PQexecParams, parameters as text; `?N` becomes `$N`.
// A lost connection is re-opened at the next call outside a transaction.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "storage/sql/sql_db.h"

namespace mailroom::storage::postgres {

struct ConnectionFinisher {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgConn = std::unique_ptr<PGconn, ConnectionFinisher>;
using PgResult = std::unique_ptr<PGresult, ResultClearer>;

// `sql` with every `?N` outside a quoted literal spelled `$N`; `*highest` is the largest N (0 if
// none), the number of parameters PostgreSQL expects.
std::string to_dollar_placeholders(std::string_view sql, int* highest);

// What an SQLSTATE means to the caller: connection exceptions (class 08), admin/crash shutdown
// and cannot-connect-now (57P01..57P03), serialization failure and deadlock (40001, 40P01) and
// too many connections (53300) are worth a retry (kTemporary); the rest is kDatabase (constraint
// violations included, as on SQLite).
ErrorCode error_code_for_sqlstate(std::string_view sqlstate);

// A database URL (postgresql://user:password@host/db?..., or key=value words) fit for a log or
// an error message: the password (in the user part, or a password= parameter) reads "***".
std::string masked_url(const std::string& url);

// The advisory lock every writing transaction takes (see PgConnection::begin_write).
inline constexpr int64_t kWriteLockKey = 7881696737372368749;  // "mailroom" as a big-endian integer

class PgConnection final : public sql::ConnectionImpl {
 public:
  // Connects to `url` (a libpq connection URI or key=value string; connect_timeout defaults to
  // kConnectTimeoutSeconds). Errors name the URL with its password masked.
  static Result<std::unique_ptr<PgConnection>> open(const std::string& url);
  static constexpr const char* kConnectTimeoutSeconds = "5";

  explicit PgConnection(std::string url) : url_(std::move(url)) {}

  sql::Dialect dialect() const override { return sql::Dialect::kPostgres; }
  Result<std::unique_ptr<sql::StatementImpl>> prepare(std::string_view sql) override;
  Status exec(const std::string& sql) override;
  int64_t changes() const override { return changes_; }
  // Plain BEGIN (READ COMMITTED) plus pg_advisory_xact_lock(kWriteLockKey): writers take turns,
  // as SQLite's BEGIN IMMEDIATE makes them, so the stores' read-check-write sequences (a name
  // still free, a Maildir nobody else uses, a whole provisioning apply) hold on PostgreSQL too;
  // each statement after the lock sees every earlier writer's commit. Readers never wait.
  Status begin_write() override;
  // REPEATABLE READ, READ ONLY: every statement from the same snapshot.
  Status begin_read() override;
  Status commit() override;
  void rollback() override;
  // The counter of the data_version table (bumped by a trigger on every writing statement).
  Result<int64_t> data_version() override;

  // Runs one statement with text parameters (nullptr: NULL; type 0: inferred by the server).
  Result<PgResult> execute(const std::string& sql, int count, const unsigned int* types, const char* const* values);

 private:
  // Connected and usable: outside a transaction a lost connection is re-opened first.
  Status ensure_connected();
  Error error_from(const PGresult* result) const;
  void note_changes(PGresult* result);  // libpq takes a non-const result here

  std::string url_;
  PgConn conn_;
  bool in_transaction_ = false;
  int64_t changes_ = 0;
};

// PQconnectdbParams with the URL expanded over Mailroom's defaults (connect_timeout, TCP
// keepalives, application name); what the URL sets wins. Check PQstatus: it may have failed.
PgConn connect_with_defaults(const std::string& url);

// `url` opened as a sql::Db.
Result<sql::Db> open_db(const std::string& url);
// A sql::Db for `url` that connects on its first call (a pool's spare connections).
sql::Db deferred_db(const std::string& url);

}  // namespace mailroom::storage::postgres
