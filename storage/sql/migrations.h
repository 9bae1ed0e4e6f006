// Versioned schema migrations of the accounts and policy database, the same numbered steps on
// both back ends. SQLite keeps the version in PRAGMA user_version; PostgreSQL in the table
// schema_version, and also keeps data_version (a counter every writing statement bumps, by
// triggers, for AccountStore::data_version()).
#pragma once

#include <string>

#include "core/base/result.h"
#include "storage/sql/sql_db.h"

namespace mailroom::storage::sql {

// The schema version this build writes (the number of migration steps).
int schema_version();

// The schema version `db` holds (0: none yet), read without changing anything.
Result<int64_t> stored_schema_version(Db& db);

// The DDL of step `step` (1-based) in `dialect`: SQLite's text, or for PostgreSQL its own text
// where one is given, else SQLite's with the types translated (postgres_ddl).
std::string migration_step(Dialect dialect, int step);

// SQLite DDL in PostgreSQL's spelling: INTEGER PRIMARY KEY AUTOINCREMENT becomes BIGINT GENERATED
// BY DEFAULT AS IDENTITY PRIMARY KEY and every other INTEGER BIGINT (SQLite's are 64-bit).
std::string postgres_ddl(const std::string& sqlite_ddl);

// Applies every step newer than the database's version in one write transaction (SQLite: BEGIN
// IMMEDIATE; PostgreSQL: BEGIN plus pg_advisory_xact_lock, so two nodes starting at once do not
// both migrate: the second waits, then finds the schema current). Fails if the database is newer
// than this build.
Status migrate(Db& db);

}  // namespace mailroom::storage::sql
