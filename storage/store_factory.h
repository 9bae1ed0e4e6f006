// Opening the accounts, provisioning and policy stores on the configured back end: SQLite in
// DATA/mailroom.db, or a PostgreSQL database shared by the nodes of a cluster. The URL comes from
// the caller (--database or MAILROOM_DATABASE), else from DATA/database.url (written by
// `mailctl init --database URL`), else SQLite is used.
#pragma once

#include <memory>
#include <string>

#include "core/base/result.h"
#include "storage/account_store.h"
#include "storage/lease/session_leases.h"
#include "storage/policy_store.h"
#include "storage/provisioning.h"
#include "storage/sql/sql_db.h"

namespace mailroom::storage {

// DATA/database.url: the PostgreSQL URL of this data directory (0600: it may hold a password).
inline constexpr const char* kDatabaseUrlFileName = "database.url";
// Connections per store on PostgreSQL (calls beyond this many at once wait for a free one).
// Each program opens up to three stores (accounts, policy, provisioning).
inline constexpr int kPostgresPoolConnections = 4;
// The key of cluster_meta that holds the SHA-256 fingerprint of the cluster's secrets key.
inline constexpr const char* kSecretsKeyFingerprintKey = "secrets_key_sha256";

// The URL to use: `given` when not empty, else DATA/database.url's (trimmed), else "" (SQLite).
Result<std::string> resolve_database_url(const std::string& data_dir, const std::string& given);

// Whether `url` names a PostgreSQL database (postgresql:// or postgres://, or libpq key=value
// words); kInvalidArgument naming the forms for anything else.
Status check_database_url(const std::string& url);

// Writes DATA/database.url (created 0600, replaced atomically).
Status record_database_url(const std::string& data_dir, const std::string& url);

// The URL with its password masked, for logs and messages.
std::string printable_database_url(const std::string& url);

// Each opener migrates the schema. SQLite: DATA/mailroom.db, created with the data directory when
// `create`, else kNotFound ("run mailctl init"). PostgreSQL (a `database_url` given or recorded):
// kPostgresPoolConnections connections; `create` (mailctl init) records the fingerprint of
// DATA/secrets.key (creating the key if needed) in the database, or refuses a key other than the
// one recorded; without `create` a node whose key differs from the recorded one is refused.
Result<std::unique_ptr<AccountStore>> open_account_store(const std::string& data_dir, bool create,
                                                         const std::string& database_url = "");
Result<std::unique_ptr<PolicyStore>> open_policy_store(const std::string& data_dir,
                                                       const std::string& database_url = "");
// Accounts, services and access rules on one connection, so that one transaction covers them.
Result<std::unique_ptr<ProvisioningStore>> open_provisioning_store(const std::string& data_dir,
                                                                   const std::string& database_url = "");

// For mailctl migrate-database. The database of `url` ("" = DATA/mailroom.db, which must exist)
// opened as it is: no migration, no key check.
Result<sql::Db> open_database_as_is(const std::string& data_dir, const std::string& url);
// The database of `url` ("" = DATA/mailroom.db, created 0600 if missing) opened and migrated.
Result<sql::Db> open_migrated_database(const std::string& data_dir, const std::string& url);
// Records the fingerprint of DATA/secrets.key (created if missing) in `db` if it holds none, or
// refuses a key other than the one recorded (the encrypted secrets could not be read with it).
Status record_secrets_key(sql::Db& db, const std::string& data_dir);
// The session leases of this node (one connection of their own, ids by make_node_id()) on
// PostgreSQL, where several nodes may share the database; nullptr on SQLite: one daemon per data
// directory (the instance lock), so the in-process lock decides alone, and a daemon restarted
// after a crash finds no row of its former run holding its mailboxes.
Result<std::unique_ptr<SessionLeases>> open_session_leases(const std::string& data_dir,
                                                           const std::string& database_url = "");

}  // namespace mailroom::storage
