// The list of schema steps. Append only: a released step is never edited, a change is a new step.
#include "storage/sql/migrations.h"

#include <array>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailroom::storage::sql {
namespace {

// Step N (1-based) brings the schema from version N-1 to N. Later steps go at the end.
// Each step's SQLite DDL; PostgreSQL runs postgres_ddl() of it (see kPostgresSteps for a step
// that needs its own text).
constexpr std::array<const char*, 7> kSteps = {
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
    // 6: facts about the database itself, e.g. the fingerprint of the secrets key the nodes of a
    // cluster share (storage/store_factory.h).
    R"sql(
CREATE TABLE cluster_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql",
    // 7: one POP3 session per mailbox across the nodes (storage/lease/session_leases.h): the node
    // that holds a mailbox and until when (unix seconds). No data_version trigger: leases are no
    // configuration, and renewals would reload every node.
    R"sql(
CREATE TABLE mailbox_leases (
  mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
  node       TEXT    NOT NULL,
  expires_at INTEGER NOT NULL
);
)sql",
};

// PostgreSQL's own text of a step, where the translation of SQLite's is not right (none yet).
constexpr std::array<const char*, kSteps.size()> kPostgresSteps = {};

// PostgreSQL only: the version table, the change counter and the function the triggers run. The
// function also notifies kChangeChannel (storage/change_feed.h): delivered at commit, once per
// transaction, to every node's LISTENing change feed. Replaced at every open, so a database made
// by an older build gets the notification too.
constexpr const char* kPostgresBookkeeping = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS data_version (id BIGINT PRIMARY KEY CHECK (id = 1), counter BIGINT NOT NULL);
INSERT INTO data_version (id, counter) VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION mailroom_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN UPDATE data_version SET counter = counter + 1 WHERE id = 1;
     PERFORM pg_notify('mailroom_changes', ''); RETURN NULL; END $$;
)sql";

Result<int64_t> read_version(Db& db) {
  if (db.dialect() == Dialect::kPostgres) return db.query_int("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  return db.query_int("PRAGMA user_version");
}

Status write_version(Db& db, int version) {
  if (db.dialect() == Dialect::kPostgres) {
    return db.exec("DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES (" +
                   std::to_string(version) + ")");
  }
  return db.exec("PRAGMA user_version = " + std::to_string(version));
}

// Every table but the bookkeeping ones bumps data_version on each writing statement.
Status add_change_triggers(Db& db) {
  auto tables = db.prepare(
      "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
      "AND tablename NOT IN ('schema_version', 'data_version', 'mailbox_leases') ORDER BY tablename");
  if (!tables) return tables.error();
  std::vector<std::string> names;
  while (true) {
    auto row = tables->step();
    if (!row) return row.error();
    if (!*row) break;
    names.push_back(tables->column_text(0));
  }
  for (const auto& name : names) {
    if (auto st = db.exec("CREATE OR REPLACE TRIGGER mailroom_data_version AFTER INSERT OR UPDATE OR DELETE OR "
                          "TRUNCATE ON " + name + " FOR EACH STATEMENT EXECUTE FUNCTION mailroom_bump_data_version()");
        !st) {
      return st;
    }
  }
  return {};
}

}  // namespace

int schema_version() { return static_cast<int>(kSteps.size()); }

Result<int64_t> stored_schema_version(Db& db) { return read_version(db); }

// By hand, not std::regex: GCC 12 warns inside <regex> under the sanitizers (maybe-uninitialized).
std::string postgres_ddl(const std::string& sqlite_ddl) {
  const auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  const auto replace_words = [&](std::string text, std::string_view from, std::string_view to) {
    for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos)) {
      const bool starts = pos == 0 || !is_word(text[pos - 1]);
      const bool ends = pos + from.size() == text.size() || !is_word(text[pos + from.size()]);
      if (starts && ends) {
        text.replace(pos, from.size(), to);
        pos += to.size();
      } else {
        pos += from.size();
      }
    }
    return text;
  };
  std::string out = replace_words(sqlite_ddl, "INTEGER PRIMARY KEY AUTOINCREMENT",
                                  "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
  return replace_words(std::move(out), "INTEGER", "BIGINT");
}

std::string migration_step(Dialect dialect, int step) {
  const auto index = static_cast<size_t>(step - 1);
  if (dialect == Dialect::kSqlite) return kSteps[index];
  if (kPostgresSteps[index] != nullptr) return kPostgresSteps[index];
  return postgres_ddl(kSteps[index]);
}

Status migrate(Db& db) {
  const bool postgres = db.dialect() == Dialect::kPostgres;
  // SQLite: a cheap check outside a transaction first, so an up-to-date database takes no write
  // lock. PostgreSQL: the version table may not exist yet, so always under the lock.
  if (!postgres) {
    auto current = read_version(db);
    if (!current) return current.error();
    if (*current == schema_version()) return {};
  }
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  if (postgres) {
    if (auto st = db.exec(kPostgresBookkeeping); !st) return st;
  }
  // Read under the write lock: another process may have migrated meanwhile.
  auto current = read_version(db);
  if (!current) return current.error();
  if (*current > schema_version()) {
    return make_error(ErrorCode::kDatabase,
                      "the database schema is version " + std::to_string(*current) +
                          ", newer than this Mailroom build understands (" + std::to_string(schema_version()) +
                          "); upgrade Mailroom");
  }
  if (*current == schema_version()) return tx->commit();
  for (int target = static_cast<int>(*current) + 1; target <= schema_version(); ++target) {
    if (auto st = db.exec(migration_step(db.dialect(), target)); !st) {
      return make_error(st.error().code,
                        "schema migration " + std::to_string(target) + " failed: " + st.error().message);
    }
  }
  if (auto st = write_version(db, schema_version()); !st) return st;
  if (postgres) {
    if (auto st = add_change_triggers(db); !st) return st;
  }
  return tx->commit();
}

}  // namespace mailroom::storage::sql
