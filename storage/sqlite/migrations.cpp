// The list of schema steps. Append only: a released step is never edited, a change is a new step.
#include "storage/sqlite/migrations.h"

#include <array>
#include <string>

namespace mailroom::storage::sqlite {
namespace {

// Step N (1-based) brings the schema from version N-1 to N. Later steps go at the end.
constexpr std::array<const char*, 5> kSteps = {
    // 1: accounts and services.
    R"sql(
CREATE TABLE postoffices (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT    NOT NULL UNIQUE,
  enabled    INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL
);
CREATE TABLE mailboxes (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  postoffice_id   INTEGER NOT NULL REFERENCES postoffices(id) ON DELETE CASCADE,
  name            TEXT    NOT NULL,
  enabled         INTEGER NOT NULL DEFAULT 1,
  password_hash   TEXT    NOT NULL,
  password_scheme TEXT    NOT NULL,
  maildir         TEXT    NOT NULL,
  created_at      INTEGER NOT NULL,
  UNIQUE (postoffice_id, name)
);
CREATE TABLE services (
  name    TEXT    PRIMARY KEY,
  module  TEXT    NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE service_settings (
  service TEXT NOT NULL REFERENCES services(name) ON DELETE CASCADE,
  key     TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY (service, key)
);
)sql",
    // 2: the IP policy: access rules, blocks, and the generation the daemon polls to reload them.
    R"sql(
CREATE TABLE access_rules (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  service    TEXT    NOT NULL REFERENCES services(name) ON DELETE CASCADE,
  list       TEXT    NOT NULL CHECK (list IN ('allow', 'deny', 'safe')),
  rule       TEXT    NOT NULL,
  comment    TEXT    NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  hits       INTEGER NOT NULL DEFAULT 0,
  last_hit   INTEGER,
  UNIQUE (service, list, rule)
);
CREATE TABLE blocks (
  service       TEXT    NOT NULL REFERENCES services(name) ON DELETE CASCADE,
  network       TEXT    NOT NULL,
  cause         TEXT    NOT NULL,
  reason        TEXT    NOT NULL DEFAULT '',
  since         INTEGER NOT NULL,
  expires       INTEGER,
  until_restart INTEGER NOT NULL DEFAULT 0,
  hits          INTEGER NOT NULL DEFAULT 0,
  last_hit      INTEGER,
  PRIMARY KEY (service, network)
);
CREATE TABLE policy_meta (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  generation INTEGER NOT NULL
);
INSERT INTO policy_meta (id, generation) VALUES (1, 0);
)sql",
    // 3: password-derived secrets of the mechanisms that cannot use the slow hash (SCRAM keys,
    // and encrypted plaintext equivalents for APOP/CRAM-MD5/NTLM); see storage/account_store.h.
    R"sql(
CREATE TABLE mailbox_secrets (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  kind       TEXT    NOT NULL,
  value      TEXT    NOT NULL,
  PRIMARY KEY (mailbox_id, kind)
);
CREATE INDEX mailbox_secrets_by_kind ON mailbox_secrets (kind);
)sql",
    // 4: daemon-wide settings (logging, metrics): one value per key, validated by mailctl
    // against config::daemon_settings_catalog() before it is stored.
    R"sql(
CREATE TABLE daemon_settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql",
    // 5: account settings per postoffice and per mailbox (login_delay, expire_days, quotas),
    // validated by mailctl against config::account_settings_catalog() before they are stored.
    R"sql(
CREATE TABLE postoffice_settings (
  postoffice_id INTEGER NOT NULL REFERENCES postoffices(id) ON DELETE CASCADE,
  key           TEXT    NOT NULL,
  value         TEXT    NOT NULL,
  PRIMARY KEY (postoffice_id, key)
);
CREATE TABLE mailbox_settings (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  key        TEXT    NOT NULL,
  value      TEXT    NOT NULL,
  PRIMARY KEY (mailbox_id, key)
);
)sql",
};

}  // namespace

int schema_version() { return static_cast<int>(kSteps.size()); }

Status migrate(Db& db) {
  for (int target = 1; target <= schema_version(); ++target) {
    // Cheap check outside a transaction first, so an up-to-date database takes no write lock.
    auto current = db.query_int("PRAGMA user_version");
    if (!current) return current.error();
    if (*current > schema_version()) {
      return make_error(ErrorCode::kDatabase,
                        "the database schema is version " + std::to_string(*current) +
                            ", newer than this Mailroom build understands (" +
                            std::to_string(schema_version()) + "); upgrade Mailroom");
    }
    if (*current >= target) continue;

    auto tx = Transaction::begin(db);
    if (!tx) return tx.error();
    // Re-read under the write lock: another process may have migrated meanwhile.
    current = db.query_int("PRAGMA user_version");
    if (!current) return current.error();
    if (*current >= target) continue;  // tx rolls back (nothing written)
    if (auto st = db.exec(kSteps[static_cast<size_t>(target - 1)]); !st) {
      return make_error(st.error().code,
                        "schema migration " + std::to_string(target) + " failed: " + st.error().message);
    }
    if (auto st = db.exec("PRAGMA user_version = " + std::to_string(target)); !st) return st.error();
    if (auto st = tx->commit(); !st) return st.error();
  }
  return {};
}

}  // namespace mailroom::storage::sqlite
