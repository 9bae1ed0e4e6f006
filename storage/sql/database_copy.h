// Copying a whole accounts-and-policy database from one back end to another (mailctl
// migrate-database: SQLite -> PostgreSQL and back), and proving the copy: per table, the row
// count and a SHA-256 over the rows in key order, computed by Mailroom from what each side
// returns (never by SQL functions that differ between the back ends). One code for every
// direction: it reads and writes through sql::Db only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "storage/sql/sql_db.h"

namespace mailroom::storage::sql {

// The tables the copy covers, in an order that satisfies the foreign keys (parents first).
std::vector<std::string> copied_tables();

// Refuses a database whose schema is not this build's (older: "run mailroomd or mailctl init
// once with this build"; newer: "upgrade Mailroom"), or whose tables are not the ones the copy
// knows, column for column (other tables are left alone). `what` names the database in messages.
Status check_copyable(Db& db, const std::string& what);

// Rows in the target's tables (policy_meta's one row, which every migrated database has, not
// counted): 0 means the target is empty.
Result<int64_t> rows_held(Db& db);

// Copies every row of every table from `source` (read from one snapshot) into `target` (already
// migrated to this build's schema) in one write transaction on the target, ids kept: the
// target's tables are emptied first (the caller refuses a target holding data unless forced),
// and PostgreSQL's id sequences are moved past the copied ids. Nothing is committed on failure.
Status copy_database(Db& source, Db& target);

// One table on both sides.
struct TableCheck {
  std::string table;
  int64_t source_rows = 0;
  int64_t target_rows = 0;
  std::string source_sha256;  // hex, over the rows in key order
  std::string target_sha256;
  bool matches() const { return source_rows == target_rows && source_sha256 == target_sha256; }
};

// The row count and hash of `table` (one of copied_tables()).
struct TableDigest {
  int64_t rows = 0;
  std::string sha256;
};
Result<TableDigest> digest_table(Db& db, const std::string& table);

// Every copied table's count and hash on both sides (each side from one snapshot).
Result<std::vector<TableCheck>> verify_copy(Db& source, Db& target);

}  // namespace mailroom::storage::sql
