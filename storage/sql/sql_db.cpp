// The back-end independent parts of the SQL layer: stepping, single-integer queries, transactions.
#include "storage/sql/sql_db.h"

namespace mailroom::storage::sql {

std::string joined(Dialect dialect, std::string_view expr, char separator) {
  const std::string code = std::to_string(static_cast<int>(static_cast<unsigned char>(separator)));
  if (dialect == Dialect::kPostgres) return "string_agg(" + std::string(expr) + ", chr(" + code + "))";
  return "group_concat(" + std::string(expr) + ", char(" + code + "))";
}

Status Statement::run() {
  while (true) {
    auto row = step();
    if (!row) return row.error();
    if (!*row) return {};
  }
}

Result<Statement> Db::prepare(std::string_view sql) {
  auto stmt = impl_->prepare(sql);
  if (!stmt) return stmt.error();
  return Statement(std::move(*stmt));
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
  if (auto st = db.impl().begin_write(); !st) return st.error();
  return Transaction(&db);
}

Result<Transaction> Transaction::begin_read(Db& db) {
  if (auto st = db.impl().begin_read(); !st) return st.error();
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) db_->impl().rollback();
}

Status Transaction::commit() {
  Db* db = db_;
  db_ = nullptr;
  return db->impl().commit();
}

}  // namespace mailroom::storage::sql
