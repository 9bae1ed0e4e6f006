// The back end the store tests run on, one test matrix: SQLite in the test's data directory, or,
// with MAILROOM_TEST_DATABASE set to a PostgreSQL URL (the ctest entry unit_storage_postgres,
// see scripts/pg-scratch), a fresh schema of that database for each data directory.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/postgres/pg_db.h"
#include "storage/sql/sql_db.h"
#include "storage/sqlite/sqlite_db.h"
#include "storage/store_factory.h"

namespace mailroom::testing {

inline std::string postgres_test_url() {
  const char* url = std::getenv("MAILROOM_TEST_DATABASE");
  return url ? url : "";
}

inline bool on_postgres() { return !postgres_test_url().empty(); }

// "" on SQLite; on PostgreSQL the URL of a schema made for `data_dir` on its first use (a case
// that opens the same directory twice finds its own data again).
inline std::string database_url_for(const std::string& data_dir) {
  const std::string base = postgres_test_url();
  if (base.empty()) return "";
  static std::mutex mu;
  static std::map<std::string, std::string> urls;
  static int made = 0;
  std::lock_guard lock(mu);
  if (auto it = urls.find(data_dir); it != urls.end()) return it->second;
  const std::string schema = "case_" + std::to_string(::getpid()) + "_" + std::to_string(++made);
  auto admin = storage::postgres::open_db(base);
  REQUIRE_MESSAGE(admin.ok(), (admin.ok() ? "" : admin.error().message));
  auto made_schema = admin->exec("CREATE SCHEMA " + schema);
  REQUIRE_MESSAGE(made_schema.ok(), (made_schema.ok() ? "" : made_schema.error().message));
  const std::string url =
      base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
  urls.emplace(data_dir, url);
  return url;
}

inline Result<std::unique_ptr<storage::AccountStore>> open_account_store(const std::string& dir, bool create) {
  return storage::open_account_store(dir, create, database_url_for(dir));
}
inline Result<std::unique_ptr<storage::PolicyStore>> open_policy_store(const std::string& dir) {
  return storage::open_policy_store(dir, database_url_for(dir));
}
inline Result<std::unique_ptr<storage::ProvisioningStore>> open_provisioning_store(const std::string& dir) {
  return storage::open_provisioning_store(dir, database_url_for(dir));
}

// A second connection to the database of `dir`, as another process would have.
inline storage::sql::Db second_connection(const std::string& dir) {
  auto db = on_postgres() ? storage::postgres::open_db(database_url_for(dir))
                          : storage::sqlite::open_db(dir + "/mailroom.db", false);
  REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
  return std::move(db).value();
}

// Runs SQL behind the stores' back (foreign keys on, like theirs).
inline void exec_sql(const std::string& dir, const std::string& sql) {
  auto db = second_connection(dir);
  auto st = db.exec(sql);
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
}

// Rows of a query as text (NULL as "").
inline std::vector<std::vector<std::string>> query_rows(const std::string& dir, const std::string& sql) {
  auto db = second_connection(dir);
  auto stmt = db.prepare(sql);
  REQUIRE_MESSAGE(stmt.ok(), (stmt.ok() ? "" : stmt.error().message));
  std::vector<std::vector<std::string>> rows;
  while (true) {
    auto row = stmt->step();
    REQUIRE_MESSAGE(row.ok(), (row.ok() ? "" : row.error().message));
    if (!*row) break;
    std::vector<std::string> values;
    for (int i = 0; i < stmt->column_count(); ++i) values.push_back(stmt->column_text(i));
    rows.push_back(std::move(values));
  }
  return rows;
}

// Sets the schema version a newer Mailroom would have written.
inline void set_schema_version(const std::string& dir, int version) {
  exec_sql(dir, on_postgres() ? "UPDATE schema_version SET version = " + std::to_string(version)
                              : "PRAGMA user_version = " + std::to_string(version));
}

}  // namespace mailroom::testing
