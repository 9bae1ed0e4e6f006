// The whole-database copy of mailctl migrate-database and its verification. On SQLite alone the
// copy goes from one SQLite database to another; under unit_storage_postgres (see
// tests/unit/support/test_database.h) it goes SQLite -> PostgreSQL -> SQLite.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "storage/sql/database_copy.h"
#include "storage/sql/migrations.h"
#include "storage/store_factory.h"
#include "tests/unit/support/temp_dir.h"
#include "tests/unit/support/test_database.h"

namespace st = mailroom::storage;
namespace sql = mailroom::storage::sql;
using mailroom::ErrorCode;
using mailroom::testing::TempDir;

namespace {

sql::Db open_sqlite(const std::string& dir) {
  auto db = st::open_migrated_database(dir, "");
  REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
  return std::move(db).value();
}

// The middle database: PostgreSQL under unit_storage_postgres, else another SQLite one.
sql::Db open_middle(const std::string& dir) {
  auto db = st::open_migrated_database(dir, mailroom::testing::database_url_for(dir));
  REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
  return std::move(db).value();
}

void exec(sql::Db& db, const std::string& text) {
  auto st = db.exec(text);
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
}

// A row in every table, NULLs and non-NULLs, keys whose byte order differs from a dictionary's,
// ids with gaps, secrets and hashes as stored.
void fill(sql::Db& db) {
  exec(db, "INSERT INTO postoffices (id, name, enabled, created_at) VALUES (3, 'example.org', 1, 1700000000), "
           "(7, 'B.example', 0, 1700000001)");
  exec(db, "INSERT INTO mailboxes (id, postoffice_id, name, enabled, password_hash, password_scheme, maildir, "
           "created_at) VALUES (5, 3, 'alice', 1, '$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA', 'argon2id', "
           "'/m/alice', 1700000002), (9, 7, 'Émile', 0, '{SSHA}abc', 'ssha', '/m/emile', 1700000003)");
  exec(db, "INSERT INTO mailbox_secrets (mailbox_id, kind, value) VALUES (5, 'scram-sha-256', "
           "'4096:c2FsdA==:a2V5:c2VydmVy'), (5, 'cleartext', 'v1:bm9uY2U=:Y2lwaGVy'), (9, 'scram-sha-1', 'x')");
  exec(db, "INSERT INTO postoffice_settings (postoffice_id, key, value) VALUES (3, 'quota_bytes', '1000000')");
  exec(db, "INSERT INTO mailbox_settings (mailbox_id, key, value) VALUES (5, 'login_delay', '60'), "
           "(5, 'Expire_days', '7')");
  exec(db, "INSERT INTO services (name, module, enabled) VALUES ('pop3', 'pop3', 1), ('Zeta', 'pop3', 0), "
           "('émile', 'smtp', 1)");
  exec(db, "INSERT INTO service_settings (service, key, value) VALUES ('pop3', 'port', '110'), "
           "('pop3', 'banner', 'hello\tthere'), ('Zeta', 'binds', '127.0.0.1')");
  exec(db, "INSERT INTO access_rules (id, service, list, rule, comment, created_at, hits, last_hit) VALUES "
           "(4, 'pop3', 'deny', '192.0.2.0/24', 'spam', 1700000004, 12, 1700000100), "
           "(11, 'pop3', 'allow', '10.0.0.1', '', 1700000005, 0, NULL)");
  exec(db, "INSERT INTO blocks (service, network, cause, reason, since, expires, until_restart, hits, last_hit) "
           "VALUES ('pop3', '198.51.100.7', 'hammer', 'too many failures', 1700000006, 1700003600, 0, 3, "
           "1700000200), ('pop3', '2001:db8::/64', 'manual', '', 1700000007, NULL, 1, 0, NULL)");
  exec(db, "UPDATE policy_meta SET generation = 42 WHERE id = 1");
  exec(db, "INSERT INTO daemon_settings (key, value) VALUES ('log_level', 'debug'), ('smarthost_password', 'v1:enc')");
  exec(db, "INSERT INTO cluster_meta (key, value) VALUES ('secrets_key_sha256', 'ab12')");
  exec(db, "INSERT INTO mailbox_leases (mailbox_id, node, expires_at) VALUES (5, 'mx1/4242/1700000000000000/ab', "
           "1700000300)");
}

bool all_match(const std::vector<sql::TableCheck>& checks) {
  for (const auto& c : checks) {
    if (!c.matches()) return false;
  }
  return true;
}

std::vector<sql::TableCheck> verified(sql::Db& source, sql::Db& target) {
  auto checks = sql::verify_copy(source, target);
  REQUIRE_MESSAGE(checks.ok(), (checks.ok() ? "" : checks.error().message));
  return std::move(checks).value();
}

void copy(sql::Db& source, sql::Db& target) {
  auto st = sql::copy_database(source, target);
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
}

}  // namespace

TEST_CASE("database_copy: every table goes there and back, ids kept, verified by counts and hashes") {
  TempDir tmp;
  auto source = open_sqlite(tmp.sub("source"));
  fill(source);
  REQUIRE(sql::check_copyable(source, "source").ok());
  auto middle = open_middle(tmp.sub("middle"));
  REQUIRE(sql::check_copyable(middle, "middle").ok());
  CHECK(sql::rows_held(middle).value() == 0);

  copy(source, middle);
  const auto there = verified(source, middle);
  CHECK(all_match(there));
  REQUIRE(there.size() == sql::copied_tables().size());
  for (const auto& c : there) {
    CHECK_MESSAGE(c.source_rows > 0, c.table);  // the fixture fills every table
    CHECK(c.source_sha256.size() == 64);
  }
  CHECK(sql::rows_held(middle).value() > 0);
  // Ids are kept, and a new row gets an id after the copied ones.
  CHECK(middle.query_int("SELECT postoffice_id FROM mailboxes WHERE name = 'alice'").value() == 3);
  exec(middle, "INSERT INTO postoffices (name, enabled, created_at) VALUES ('new.example', 1, 0)");
  CHECK(middle.query_int("SELECT id FROM postoffices WHERE name = 'new.example'").value() > 7);
  exec(middle, "DELETE FROM postoffices WHERE name = 'new.example'");

  auto back = open_sqlite(tmp.sub("back"));
  copy(middle, back);
  CHECK(all_match(verified(middle, back)));
  const auto round_trip = verified(source, back);
  CHECK(all_match(round_trip));
  for (size_t i = 0; i < there.size(); ++i) CHECK(round_trip[i].target_sha256 == there[i].source_sha256);
}

TEST_CASE("database_copy: a damaged copy is caught table by table") {
  TempDir tmp;
  auto source = open_sqlite(tmp.sub("source"));
  fill(source);
  auto target = open_middle(tmp.sub("target"));
  copy(source, target);
  exec(target, "UPDATE mailboxes SET password_hash = 'tampered' WHERE id = 9");
  exec(target, "DELETE FROM blocks WHERE network = '2001:db8::/64'");
  exec(target, "UPDATE access_rules SET last_hit = NULL WHERE id = 4");
  for (const auto& c : verified(source, target)) {
    const bool damaged = c.table == "mailboxes" || c.table == "blocks" || c.table == "access_rules";
    CHECK_MESSAGE(c.matches() == !damaged, c.table);
    if (c.table == "mailboxes") {
      CHECK(c.source_rows == c.target_rows);
      CHECK(c.source_sha256 != c.target_sha256);
    }
    if (c.table == "blocks") CHECK(c.target_rows == c.source_rows - 1);
  }
  // Copying again empties the target first (what --force does): the copy is whole again.
  copy(source, target);
  CHECK(all_match(verified(source, target)));
}

TEST_CASE("database_copy: a source of another schema version or other columns is refused with what to do") {
  TempDir tmp;
  auto db = open_sqlite(tmp.sub("data"));
  exec(db, "PRAGMA user_version = " + std::to_string(sql::schema_version() - 1));
  auto older = sql::check_copyable(db, "the source database");
  REQUIRE_FALSE(older.ok());
  CHECK(older.error().code == ErrorCode::kInvalidArgument);
  CHECK(older.error().message.find("older than this build's") != std::string::npos);
  CHECK(older.error().message.find("run mailroomd or 'mailctl init' on it once") != std::string::npos);
  exec(db, "PRAGMA user_version = " + std::to_string(sql::schema_version() + 1));
  auto newer = sql::check_copyable(db, "the source database");
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.error().message.find("newer than this build's") != std::string::npos);
  exec(db, "PRAGMA user_version = " + std::to_string(sql::schema_version()));
  exec(db, "CREATE TABLE another_application (x INTEGER)");
  CHECK(sql::check_copyable(db, "the source database").ok());
  exec(db, "ALTER TABLE daemon_settings ADD COLUMN extra TEXT");
  auto unknown = sql::check_copyable(db, "the source database");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.find("table daemon_settings has 3 columns, this build copies 2") != std::string::npos);
}

TEST_CASE("database_copy: a target's data is emptied before the copy, so nothing of it is left") {
  TempDir tmp;
  auto source = open_sqlite(tmp.sub("source"));
  fill(source);
  auto target = open_middle(tmp.sub("target"));
  exec(target, "INSERT INTO services (name, module, enabled) VALUES ('leftover', 'pop3', 1)");
  CHECK(sql::rows_held(target).value() == 1);
  copy(source, target);
  CHECK(all_match(verified(source, target)));
  CHECK(target.query_int("SELECT COUNT(*) FROM services WHERE name = 'leftover'").value() == 0);
}

TEST_CASE("database_copy: the copy knows every table of this build's schema") {
  TempDir tmp;
  auto db = open_sqlite(tmp.sub("data"));
  auto names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  REQUIRE(names.ok());
  std::vector<std::string> schema;
  while (names->step().value()) schema.push_back(names->column_text(0));
  auto copied = sql::copied_tables();
  std::sort(copied.begin(), copied.end());
  CHECK(schema == copied);
  auto empty = open_sqlite(tmp.sub("empty"));
  exec(empty, "DROP TABLE mailbox_settings");
  auto lacking = sql::check_copyable(empty, "the source database");
  REQUIRE_FALSE(lacking.ok());
  CHECK(lacking.error().message == "the source database lacks the table mailbox_settings of this build's schema");
}

TEST_CASE("database_copy: rows are hashed in byte order of their keys, whatever the database's collation") {
  if (!mailroom::testing::on_postgres()) return;  // SQLite compares text keys as bytes anyway
  TempDir tmp;
  auto source = open_sqlite(tmp.sub("source"));
  exec(source, "INSERT INTO daemon_settings (key, value) VALUES ('Zz', '1'), ('a', '2'), ('\xc3\xa9', '3')");
  auto target = open_middle(tmp.sub("target"));
  // A dictionary collation (ICU) orders 'a' before 'Zz'; bytes order 'Zz' first.
  exec(target, "ALTER TABLE daemon_settings ALTER COLUMN key TYPE TEXT COLLATE \"und-x-icu\"");
  copy(source, target);
  CHECK(target.query_int("SELECT COUNT(*) FROM (SELECT key FROM daemon_settings ORDER BY key LIMIT 1) AS first "
                         "WHERE key = 'a'").value() == 1);
  CHECK(all_match(verified(source, target)));
}
