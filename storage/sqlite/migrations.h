// Versioned schema migrations for mailroom.db, tracked in PRAGMA user_version.
#pragma once

#include "core/base/result.h"
#include "storage/sqlite/sqlite_db.h"

namespace mailroom::storage::sqlite {

// The schema version this build writes (the number of migration steps).
int schema_version();

// Applies every step newer than the database's user_version, each in its own IMMEDIATE
// transaction (so two processes opening a fresh database at once do not both apply a step).
// Fails if the database is newer than this build.
Status migrate(Db& db);

}  // namespace mailroom::storage::sqlite
