// The database side of mailctl backup and restore: a consistent copy of DATA/mailroom.db taken
// while the daemon runs (SQLite's online backup API), and moving the Maildir paths of a restored
// database to its new data directory.
#pragma once

#include <cstdint>
#include <string>

#include "core/base/result.h"

namespace mailroom::storage {

// The database file's name in a data directory (and in a backup).
inline constexpr const char* kDatabaseFileName = "mailroom.db";

// Copies DATA_DIR/mailroom.db into `dest_file` (a new file, created 0600) with sqlite3_backup_*
// in one step (one read transaction): one consistent state even while mailroomd and mailctl
// write, and they go on committing during the copy (WAL); a busy database is retried for up to
// 5 s.
Status snapshot_database(const std::string& data_dir, const std::string& dest_file);

// In DATA_DIR/mailroom.db: every mailbox whose Maildir lies under `old_mail_root` gets the same
// path under `new_mail_root` (a restore into another data directory). Returns how many moved.
Result<int64_t> relocate_maildirs(const std::string& data_dir, const std::string& old_mail_root,
                                  const std::string& new_mail_root);

}  // namespace mailroom::storage
