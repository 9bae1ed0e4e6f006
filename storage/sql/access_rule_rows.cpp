// access_rules rows: insert, delete, and the policy generation bump.
#include "storage/sql/access_rule_rows.h"

namespace mailroom::storage::sql {

Result<bool> service_exists(Db& db, const std::string& name) {
  auto stmt = db.prepare("SELECT 1 FROM services WHERE name = ?1");
  if (!stmt) return stmt.error();
  return stmt->bind(1, name).step();
}

Result<std::optional<int64_t>> insert_access_rule(Db& db, const std::string& service, const std::string& list,
                                                  const std::string& rule, const std::string& comment,
                                                  int64_t created_at) {
  auto stmt = db.prepare(
      "INSERT INTO access_rules (service, list, rule, comment, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT (service, list, rule) DO NOTHING RETURNING id");
  if (!stmt) return stmt.error();
  stmt->bind(1, service).bind(2, list).bind(3, rule).bind(4, comment).bind(5, created_at);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<int64_t>();
  const int64_t id = stmt->column_int(0);
  if (auto st = stmt->run(); !st) return st.error();
  return std::optional<int64_t>(id);
}

Result<bool> delete_access_rule(Db& db, const std::string& service, const std::string& list, const std::string& rule) {
  auto stmt = db.prepare("DELETE FROM access_rules WHERE service = ?1 AND list = ?2 AND rule = ?3");
  if (!stmt) return stmt.error();
  if (auto st = stmt->bind(1, service).bind(2, list).bind(3, rule).run(); !st) return st.error();
  return db.changes() > 0;
}

Status bump_policy_generation(Db& db) {
  return db.exec("UPDATE policy_meta SET generation = generation + 1 WHERE id = 1");
}

}  // namespace mailroom::storage::sql
