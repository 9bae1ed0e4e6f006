// The account store against a real database in a temporary directory (SQLite, or PostgreSQL in
// the unit_storage_postgres run: tests/unit/support/test_database.h).
#include <doctest/doctest.h>

#include "tests/unit/support/temp_dir.h"
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "storage/account_store.h"
#include "storage/sql/migrations.h"
#include "tests/unit/support/test_database.h"

namespace fs = std::filesystem;
using mailroom::ErrorCode;
using mailroom::storage::AccountStore;
using mailroom::storage::Address;
using mailroom::testing::exec_sql;
using mailroom::testing::open_account_store;
using mailroom::storage::PasswordKind;

namespace {

using mailroom::testing::TempDir;

std::unique_ptr<AccountStore> open_store(const std::string& dir, bool create = true) {
  auto store = open_account_store(dir, create);
  REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().message));
  return std::move(store).value();
}

const Address kAlice{"alice", "example.test"};
const Address kBob{"bob", "example.test"};


// A quick imported hash so tests do not pay for argon2 on every mailbox: SHA512-CRYPT of "secret".
constexpr const char* kSecretHash =
    "{SHA512-CRYPT}$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1";

}  // namespace

TEST_CASE("opening without create fails with a hint to run init") {
  if (mailroom::testing::on_postgres()) return;  // SQLite's file; a PostgreSQL database is made by its admin
  TempDir tmp;
  auto store = open_account_store(tmp.sub("data"), false);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::kNotFound);
  CHECK(store.error().message == "no Mailroom data in " + tmp.sub("data") + " (run 'mailctl --data " + tmp.sub("data") + " init')");
  CHECK_FALSE(fs::exists(tmp.sub("data")));
}

TEST_CASE("create makes the data directory and a WAL database") {
  if (mailroom::testing::on_postgres()) return;  // SQLite's file and journal mode
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  CHECK(fs::exists(tmp.sub("data") + "/mailroom.db"));
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((tmp.sub("data") + "/mailroom.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) == "wal");
  sqlite3_finalize(stmt);
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  CHECK(sqlite3_column_int(stmt, 0) == mailroom::storage::sql::schema_version());
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_CASE("postoffices are added once, listed, shown and removed") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("Example.TEST").ok());
  REQUIRE(store->add_postoffice("b.test").ok());

  auto dup = store->add_postoffice("example.test");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == ErrorCode::kAlreadyExists);
  CHECK(dup.error().message == "postoffice 'example.test' already exists");

  auto bad = store->add_postoffice("bad_name");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);

  auto list = store->list_postoffices();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].name == "b.test");
  CHECK((*list)[1].name == "example.test");
  CHECK((*list)[1].enabled);
  CHECK((*list)[1].created_at > 1600000000);

  auto missing = store->get_postoffice("x.test");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "postoffice 'x.test' does not exist");

  REQUIRE(store->remove_postoffice("b.test", false).ok());
  CHECK(store->list_postoffices()->size() == 1);
  auto gone = store->remove_postoffice("b.test", false);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == ErrorCode::kNotFound);
}

TEST_CASE("mailboxes need an existing postoffice and a unique name") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  auto orphan = store->add_mailbox(kAlice, "secret", PasswordKind::kPlaintext, "/srv/mail/a");
  REQUIRE_FALSE(orphan.ok());
  CHECK(orphan.error().code == ErrorCode::kNotFound);
  CHECK(orphan.error().message == "postoffice 'example.test' does not exist");

  REQUIRE(store->add_postoffice("example.test").ok());
  auto added = store->add_mailbox(Address{"Alice", "Example.Test"}, "secret", PasswordKind::kPlaintext,
                                  "/srv/mail/example.test/alice");
  REQUIRE(added.ok());
  CHECK(added->address == kAlice);
  CHECK(added->id > 0);
  CHECK(added->enabled);
  CHECK(added->postoffice_enabled);
  CHECK(added->maildir == "/srv/mail/example.test/alice");
  CHECK(added->password_scheme == "argon2id");

  auto dup = store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/elsewhere");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == ErrorCode::kAlreadyExists);
  CHECK(dup.error().message == "mailbox 'alice@example.test' already exists");
  // Nothing changed: same maildir, scheme and password.
  auto again = store->get_mailbox(kAlice);
  REQUIRE(again.ok());
  CHECK(again->id == added->id);
  CHECK(again->maildir == "/srv/mail/example.test/alice");
  CHECK(again->password_scheme == "argon2id");
  CHECK(store->verify_password(kAlice, "secret").ok());
  CHECK(store->list_mailboxes(std::nullopt)->size() == 1);
  CHECK(store->get_postoffice("example.test")->mailbox_count == 1);

  auto bad_hash = store->add_mailbox(kBob, "$6$nope", PasswordKind::kHash, "/srv/mail/b");
  REQUIRE_FALSE(bad_hash.ok());
  CHECK(bad_hash.error().code == ErrorCode::kInvalidArgument);
  auto bad_pw = store->add_mailbox(kBob, "", PasswordKind::kPlaintext, "/srv/mail/b");
  REQUIRE_FALSE(bad_pw.ok());
  CHECK(bad_pw.error().code == ErrorCode::kInvalidArgument);
  auto relative = store->add_mailbox(kBob, "secret", PasswordKind::kPlaintext, "mail/b");
  REQUIRE_FALSE(relative.ok());
  CHECK(relative.error().code == ErrorCode::kInvalidArgument);
  CHECK_FALSE(store->get_mailbox(kBob).ok());
}

TEST_CASE("verify_password says why a login failed") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  REQUIRE(store->add_postoffice("other.test").ok());
  REQUIRE(store->add_mailbox(kAlice, "secret", PasswordKind::kPlaintext, "/m/alice").ok());
  REQUIRE(store->add_mailbox(kBob, kSecretHash, PasswordKind::kHash, "/m/bob").ok());
  const Address carol{"carol", "other.test"};
  REQUIRE(store->add_mailbox(carol, kSecretHash, PasswordKind::kHash, "/m/carol").ok());

  auto ok = store->verify_password(Address{"ALICE", "example.test"}, "secret");
  REQUIRE(ok.ok());
  CHECK(ok->address == kAlice);
  CHECK(ok->maildir == "/m/alice");
  auto bob = store->verify_password(kBob, "secret");
  REQUIRE(bob.ok());
  CHECK(bob->password_scheme == "sha512-crypt");

  auto wrong = store->verify_password(kAlice, "Secret");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == ErrorCode::kAuthFailed);
  CHECK(wrong.error().message.find("wrong password") != std::string::npos);

  auto unknown = store->verify_password(Address{"nobody", "example.test"}, "secret");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::kAuthFailed);
  CHECK(unknown.error().message.find("unknown mailbox") != std::string::npos);

  REQUIRE(store->set_mailbox_enabled(kAlice, false).ok());
  CHECK_FALSE(store->get_mailbox(kAlice)->enabled);
  auto disabled = store->verify_password(kAlice, "secret");
  REQUIRE_FALSE(disabled.ok());
  CHECK(disabled.error().code == ErrorCode::kAuthFailed);
  CHECK(disabled.error().message.find("mailbox disabled") != std::string::npos);
  REQUIRE(store->set_mailbox_enabled(kAlice, true).ok());
  CHECK(store->verify_password(kAlice, "secret").ok());

  exec_sql(tmp.sub("data"), "UPDATE postoffices SET enabled = 0 WHERE name = 'other.test'");
  CHECK_FALSE(store->get_mailbox(carol)->postoffice_enabled);
  auto po_off = store->verify_password(carol, "secret");
  REQUIRE_FALSE(po_off.ok());
  CHECK(po_off.error().code == ErrorCode::kAuthFailed);
  CHECK(po_off.error().message.find("postoffice disabled") != std::string::npos);
  CHECK(store->verify_password(kBob, "secret").ok());  // other postoffice unaffected
}

TEST_CASE("set_password replaces the password and its scheme") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice").ok());
  CHECK(store->get_mailbox(kAlice)->password_scheme == "sha512-crypt");

  REQUIRE(store->set_password(kAlice, "n3w pass", PasswordKind::kPlaintext).ok());
  CHECK(store->get_mailbox(kAlice)->password_scheme == "argon2id");
  CHECK(store->verify_password(kAlice, "n3w pass").ok());
  CHECK_FALSE(store->verify_password(kAlice, "secret").ok());

  auto bad = store->set_password(kAlice, "line\nbreak", PasswordKind::kPlaintext);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
  CHECK(store->verify_password(kAlice, "n3w pass").ok());

  auto missing = store->set_password(kBob, "x", PasswordKind::kPlaintext);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "mailbox 'bob@example.test' does not exist");
  auto no_po = store->set_mailbox_enabled(Address{"bob", "nowhere.test"}, false);
  REQUIRE_FALSE(no_po.ok());
  CHECK(no_po.error().message == "postoffice 'nowhere.test' does not exist");
}

TEST_CASE("upgrade_password_hash turns an imported hash into argon2id and keeps the derived secrets") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  // {SSHA512} of "hunter2 pass", written by `doveadm pw -s SSHA512`.
  const std::string ssha =
      "{SSHA512}9HV5CcyCzDqsatHGcu/trU4oWLFgem40Wzc3825j+1ceaposr1Abm/KwNbCTRG3Uz4fMYk6JOTgT9U9ddlornee8TbM=";
  REQUIRE(store->add_mailbox(kAlice, ssha, PasswordKind::kHash, "/m/alice").ok());
  REQUIRE(store->put_secrets(kAlice, {{"scram-sha-256", "keys", false}}).ok());
  CHECK(store->get_mailbox(kAlice)->password_scheme == "ssha512");

  // A wrong password changes nothing.
  auto wrong = store->upgrade_password_hash(kAlice, "hunter2 Pass");
  REQUIRE(wrong.ok());
  CHECK(wrong->empty());
  CHECK(store->get_mailbox(kAlice)->password_scheme == "ssha512");

  auto upgraded = store->upgrade_password_hash(kAlice, "hunter2 pass");
  REQUIRE(upgraded.ok());
  CHECK(*upgraded == "ssha512");
  auto after = store->get_mailbox(kAlice);
  CHECK(after->password_scheme == "argon2id");
  CHECK(after->secret_kinds == std::vector<std::string>{"scram-sha-256"});
  CHECK(store->verify_password(kAlice, "hunter2 pass").ok());
  CHECK_FALSE(store->verify_password(kAlice, "hunter2 Pass").ok());

  // Already argon2id: nothing to do.
  auto again = store->upgrade_password_hash(kAlice, "hunter2 pass");
  REQUIRE(again.ok());
  CHECK(again->empty());

  auto missing = store->upgrade_password_hash(kBob, "hunter2 pass");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
}

TEST_CASE("upgrade_password_hash never overwrites a password changed meanwhile") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  // bcrypt cost 12 of "secret" (doveadm pw -s BLF-CRYPT -r 12): about 250 ms to verify, the window
  // in which the password changes. The store holds no lock while it hashes.
  REQUIRE(store->add_mailbox(kAlice, "{BLF-CRYPT}$2y$12$reBkViBtDCfpDXNNnmUYW.togkEZGS/FSwKHQxjqKWG2hE67ZxgYi",
                             PasswordKind::kHash, "/m/alice")
              .ok());
  std::atomic<bool> changed{false};
  std::thread change([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(store->set_password(kAlice, "{SSHA}cTsO2J1zgmbw8YwSTIsyflsSlJ/bqt6Q", PasswordKind::kHash).ok());
    changed = true;
  });
  auto result = store->upgrade_password_hash(kAlice, "secret");
  bool changed_first = changed.load();
  change.join();
  REQUIRE(result.ok());
  if (changed_first) {  // the usual order: the change landed while bcrypt ran
    CHECK(result->empty());
  }
  // Either way the change is what remains: the upgrade never replaces it.
  CHECK(store->get_mailbox(kAlice)->password_scheme == "ssha");
  CHECK(store->verify_password(kAlice, "hunter2 pass").ok());
  CHECK_FALSE(store->verify_password(kAlice, "secret").ok());
}

TEST_CASE("list_mailboxes filters by postoffice") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  REQUIRE(store->add_postoffice("other.test").ok());
  REQUIRE(store->add_postoffice("empty.test").ok());
  REQUIRE(store->add_mailbox(kBob, kSecretHash, PasswordKind::kHash, "/m/bob").ok());
  REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice").ok());
  REQUIRE(store->add_mailbox(Address{"carol", "other.test"}, kSecretHash, PasswordKind::kHash, "/m/carol").ok());

  auto all = store->list_mailboxes(std::nullopt);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].address.str() == "alice@example.test");
  CHECK((*all)[1].address.str() == "bob@example.test");
  CHECK((*all)[2].address.str() == "carol@other.test");

  auto example = store->list_mailboxes(std::string("Example.test"));
  REQUIRE(example.ok());
  REQUIRE(example->size() == 2);
  CHECK((*example)[0].address == kAlice);
  CHECK(store->list_mailboxes(std::string("empty.test"))->empty());
  auto missing = store->list_mailboxes(std::string("nowhere.test"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
}

TEST_CASE("removing a postoffice with mailboxes needs force") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice").ok());
  REQUIRE(store->add_mailbox(kBob, kSecretHash, PasswordKind::kHash, "/m/bob").ok());

  auto refused = store->remove_postoffice("example.test", false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kInvalidArgument);
  CHECK(refused.error().message ==
        "postoffice 'example.test' still has 2 mailboxes (remove them first or use --force)");
  CHECK(store->list_mailboxes(std::nullopt)->size() == 2);

  REQUIRE(store->remove_mailbox(kBob).ok());
  auto gone = store->remove_mailbox(kBob);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == ErrorCode::kNotFound);
  CHECK(store->get_postoffice("example.test")->mailbox_count == 1);

  REQUIRE(store->remove_postoffice("example.test", true).ok());
  CHECK(store->list_postoffices()->empty());
  CHECK(store->list_mailboxes(std::nullopt)->empty());
  // The name can be reused and starts empty.
  REQUIRE(store->add_postoffice("example.test").ok());
  CHECK(store->get_postoffice("example.test")->mailbox_count == 0);
}

TEST_CASE("daemon-wide settings are stored per key and removed back to the default") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->daemon_settings().ok());
  CHECK(store->daemon_settings()->empty());
  REQUIRE(store->set_daemon_setting("log_level", std::string("debug")).ok());
  REQUIRE(store->set_daemon_setting("log_format", std::string("json")).ok());
  REQUIRE(store->set_daemon_setting("log_level", std::string("warn")).ok());
  auto stored = store->daemon_settings();
  REQUIRE(stored.ok());
  CHECK(stored->size() == 2);
  CHECK(stored->at("log_level") == "warn");
  REQUIRE(store->set_daemon_setting("log_format", std::nullopt).ok());
  REQUIRE(store->set_daemon_setting("never_set", std::nullopt).ok());
  CHECK(store->daemon_settings()->size() == 1);
  CHECK_FALSE(store->set_daemon_setting("", std::string("x")).ok());
}

TEST_CASE("a secret daemon setting (smarthost_password) is stored sealed and read back in plaintext") {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  auto store = open_store(dir);
  REQUIRE(store->set_daemon_setting("smarthost_password", std::string("relay-pw")).ok());
  REQUIRE(store->set_daemon_setting("smarthost_user", std::string("relay-user")).ok());
  CHECK(store->daemon_settings()->at("smarthost_password") == "relay-pw");
  CHECK(store->daemon_settings()->at("smarthost_user") == "relay-user");  // not a secret: as given

  const auto rows = mailroom::testing::query_rows(dir, "SELECT value FROM daemon_settings WHERE key = 'smarthost_password'");
  REQUIRE(rows.size() == 1);
  const std::string raw = rows[0][0];
  CHECK(raw.starts_with("enc1:"));
  CHECK(raw.find("relay-pw") == std::string::npos);

  // Sealed for its own key: the same value copied under another key does not open.
  exec_sql(dir, "UPDATE daemon_settings SET value = '" + raw + "' WHERE key = 'smarthost_user'");
  auto other = open_store(dir);
  auto broken = other->daemon_settings();
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().message.find("smarthost_user") != std::string::npos);
  // An empty password is stored as empty (nothing to seal).
  REQUIRE(other->set_daemon_setting("smarthost_user", std::nullopt).ok());
  REQUIRE(other->set_daemon_setting("smarthost_password", std::string()).ok());
  CHECK(other->daemon_settings()->at("smarthost_password").empty());
}

TEST_CASE("services are ensured once and keep only stored settings") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->ensure_service("pop3", "pop3", true).ok());
  REQUIRE(store->ensure_service("pop3", "other", false).ok());  // existing row is kept
  auto svc = store->get_service("pop3");
  REQUIRE(svc.ok());
  CHECK(svc->module == "pop3");
  CHECK(svc->enabled);
  CHECK(svc->settings.empty());

  REQUIRE(store->set_service_setting("pop3", "max_connections", std::string("50")).ok());
  REQUIRE(store->set_service_setting("pop3", "banner", std::string("hi")).ok());
  REQUIRE(store->set_service_setting("pop3", "max_connections", std::string("75")).ok());
  svc = store->get_service("pop3");
  REQUIRE(svc.ok());
  CHECK(svc->settings.size() == 2);
  CHECK(svc->settings.at("max_connections") == "75");
  CHECK(svc->settings.at("banner") == "hi");

  REQUIRE(store->set_service_setting("pop3", "banner", std::nullopt).ok());
  REQUIRE(store->set_service_setting("pop3", "never_set", std::nullopt).ok());
  svc = store->get_service("pop3");
  CHECK(svc->settings.size() == 1);
  CHECK(svc->settings.count("banner") == 0);

  REQUIRE(store->set_service_enabled("pop3", false).ok());
  CHECK_FALSE(store->get_service("pop3")->enabled);

  REQUIRE(store->ensure_service("pop3s", "pop3", true).ok());
  REQUIRE(store->set_service_setting("pop3s", "tls", std::string("implicit")).ok());
  auto all = store->list_services();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].name == "pop3");
  CHECK((*all)[0].settings.size() == 1);
  CHECK((*all)[1].name == "pop3s");
  CHECK((*all)[1].settings.at("tls") == "implicit");

  for (auto st : {store->set_service_setting("imap", "x", std::string("1")), store->set_service_enabled("imap", true)}) {
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == ErrorCode::kNotFound);
    CHECK(st.error().message == "service 'imap' does not exist");
  }
  CHECK(store->get_service("imap").error().code == ErrorCode::kNotFound);
}

TEST_CASE("data_version changes when another connection commits") {
  TempDir tmp;
  auto daemon = open_store(tmp.sub("data"));
  auto admin = open_store(tmp.sub("data"), false);
  auto v1 = daemon->data_version();
  REQUIRE(v1.ok());
  CHECK(daemon->data_version().value() == *v1);  // stable while nothing happens

  REQUIRE(admin->add_postoffice("example.test").ok());
  auto v2 = daemon->data_version();
  REQUIRE(v2.ok());
  CHECK(*v2 != *v1);
  CHECK(daemon->get_postoffice("example.test").ok());  // and the change is visible

  // SQLite: the store's own commits do not count as "another connection". PostgreSQL's counter
  // counts every commit (a daemon reloads once more after its own writes).
  REQUIRE(daemon->add_postoffice("own.test").ok());
  CHECK((daemon->data_version().value() == *v2) == !mailroom::testing::on_postgres());
}

TEST_CASE("reopening keeps the data and migrations run only once") {
  TempDir tmp;
  {
    auto store = open_store(tmp.sub("data"));
    REQUIRE(store->add_postoffice("example.test").ok());
    REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice").ok());
    REQUIRE(store->ensure_service("pop3", "pop3", true).ok());
  }
  for (bool create : {false, true, false}) {
    auto store = open_store(tmp.sub("data"), create);
    CHECK(store->list_postoffices()->size() == 1);
    CHECK(store->get_mailbox(kAlice)->maildir == "/m/alice");
    CHECK(store->verify_password(kAlice, "secret").ok());
    CHECK(store->get_service("pop3").ok());
  }
}

TEST_CASE("a database from a newer Mailroom is refused") {
  TempDir tmp;
  { auto store = open_store(tmp.sub("data")); }
  mailroom::testing::set_schema_version(tmp.sub("data"), 999);
  auto store = open_account_store(tmp.sub("data"), false);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().message.find("newer than this Mailroom build") != std::string::npos);
}

TEST_CASE("a file that is not a database gives a database error") {
  if (mailroom::testing::on_postgres()) return;  // SQLite's file
  TempDir tmp;
  fs::create_directories(tmp.sub("data"));
  {
    FILE* f = fopen((tmp.sub("data") + "/mailroom.db").c_str(), "w");
    REQUIRE(f != nullptr);
    fputs("this is not sqlite, just some text that is long enough to look like a header.........", f);
    fclose(f);
  }
  auto store = open_account_store(tmp.sub("data"), false);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::kDatabase);
}

TEST_CASE("logins from several threads at once all succeed") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  REQUIRE(store->add_mailbox(kAlice, "secret", PasswordKind::kPlaintext, "/m/alice").ok());
  REQUIRE(store->add_mailbox(kBob, kSecretHash, PasswordKind::kHash, "/m/bob").ok());
  std::atomic<int> good{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2; ++i) {
        const Address& who = (t + i) % 2 == 0 ? kAlice : kBob;
        (store->verify_password(who, "secret").ok() ? good : bad)++;
        (store->verify_password(who, "wrong").ok() ? bad : good)++;
        (store->list_mailboxes(std::nullopt).ok() ? good : bad)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(good == 24);
  CHECK(bad == 0);
}

// ---- password-derived secrets (mailbox_secrets) ----

namespace {

using mailroom::storage::StoredSecret;

const StoredSecret kScram{"scram-sha-256", "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy", false};
const StoredSecret kAlicePlain{"plaintext", "alice-Pa55word", true};
const StoredSecret kAliceCram{"cram-md5", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", true};
const StoredSecret kBobPlain{"plaintext", "bob-Pa55word", true};

// Rows of a query as text, read with a separate connection (what an attacker with a copy sees).
std::vector<std::vector<std::string>> query(const std::string& dir, const std::string& sql) {
  return mailroom::testing::query_rows(dir, sql);
}

std::string stored_value(const std::string& dir, const std::string& mailbox, const std::string& kind) {
  auto rows = query(dir, "SELECT s.value FROM mailbox_secrets s JOIN mailboxes m ON m.id = s.mailbox_id "
                         "WHERE m.name = '" + mailbox + "' AND s.kind = '" + kind + "'");
  REQUIRE(rows.size() == 1);
  return rows[0][0];
}

int64_t secret_rows(const std::string& dir) {
  return std::stoll(query(dir, "SELECT COUNT(*) FROM mailbox_secrets")[0][0]);
}

std::optional<std::string> secret_of(AccountStore& store, const Address& who, const std::string& kind) {
  auto got = store.get_secret(who, kind);
  REQUIRE_MESSAGE(got.ok(), (got.ok() ? "" : got.error().message));
  return *got;
}

// An account store over a data dir with alice (scram + plaintext + cram-md5) and bob (plaintext).
std::unique_ptr<AccountStore> store_with_secrets(const std::string& dir) {
  auto store = open_store(dir);
  REQUIRE(store->add_postoffice("example.test").ok());
  auto alice = store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice", {kScram, kAlicePlain, kAliceCram});
  REQUIRE_MESSAGE(alice.ok(), (alice.ok() ? "" : alice.error().message));
  REQUIRE(store->add_mailbox(kBob, kSecretHash, PasswordKind::kHash, "/m/bob", {kBobPlain}).ok());
  return store;
}

}  // namespace

TEST_CASE("secrets round-trip; plaintext equivalents are stored encrypted, SCRAM keys as they are") {
  TempDir tmp;
  auto store = store_with_secrets(tmp.sub("data"));

  auto info = store->get_mailbox(kAlice);
  REQUIRE(info.ok());
  CHECK(info->secret_kinds == std::vector<std::string>{"cram-md5", "plaintext", "scram-sha-256"});
  CHECK(store->get_mailbox(kBob)->secret_kinds == std::vector<std::string>{"plaintext"});
  auto listed = store->list_mailboxes(std::nullopt);
  REQUIRE(listed.ok());
  CHECK((*listed)[0].secret_kinds.size() == 3);
  CHECK(store->verify_password(kAlice, "secret")->secret_kinds.size() == 3);

  CHECK(secret_of(*store, kAlice, "plaintext") == kAlicePlain.value);
  CHECK(secret_of(*store, kAlice, "cram-md5") == kAliceCram.value);
  CHECK(secret_of(*store, kAlice, "scram-sha-256") == kScram.value);
  CHECK(secret_of(*store, Address{"BOB", "Example.Test"}, "plaintext") == kBobPlain.value);
  CHECK_FALSE(secret_of(*store, kAlice, "nt-hash").has_value());

  // What a stolen copy of the database shows.
  const std::string plain = stored_value(tmp.sub("data"), "alice", "plaintext");
  CHECK(plain.rfind("enc1:", 0) == 0);
  CHECK(plain.find("alice-Pa55word") == std::string::npos);
  const std::string cram = stored_value(tmp.sub("data"), "alice", "cram-md5");
  CHECK(cram.rfind("enc1:", 0) == 0);
  CHECK(cram.find("00112233") == std::string::npos);
  CHECK(stored_value(tmp.sub("data"), "alice", "scram-sha-256") == kScram.value);
  for (const auto& row : query(tmp.sub("data"), "SELECT value FROM mailbox_secrets")) {
    CHECK(row[0].find("Pa55word") == std::string::npos);
  }

  // The key file was created for them, private.
  struct stat st {};
  REQUIRE(stat((tmp.sub("data") + "/secrets.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 32);

  // A second store (another process) reads them with the same key file.
  auto other = open_store(tmp.sub("data"), false);
  CHECK(secret_of(*other, kAlice, "plaintext") == kAlicePlain.value);
}

TEST_CASE("no key file is created while no plaintext equivalent is stored") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice", {kScram}).ok());
  REQUIRE(store->set_password(kAlice, kSecretHash, PasswordKind::kHash, {kScram}).ok());
  CHECK(secret_of(*store, kAlice, "scram-sha-256") == kScram.value);
  // On PostgreSQL init (create) makes the key to record its fingerprint for the cluster.
  CHECK(fs::exists(tmp.sub("data") + "/secrets.key") == mailroom::testing::on_postgres());
  // A non-secret value that looks encrypted is sealed anyway, so "enc1:" always means ours.
  const StoredSecret odd{"scram-sha-1", "enc1:looks-sealed", false};
  REQUIRE(store->put_secrets(kAlice, {odd}).ok());
  CHECK(fs::exists(tmp.sub("data") + "/secrets.key"));
  CHECK(stored_value(tmp.sub("data"), "alice", "scram-sha-1") != odd.value);
  CHECK(secret_of(*store, kAlice, "scram-sha-1") == odd.value);
}

TEST_CASE("set_password replaces every secret; put_secrets adds and replaces only the given ones") {
  TempDir tmp;
  auto store = store_with_secrets(tmp.sub("data"));
  const StoredSecret nt{"nt-hash", "8846f7eaee8fb117ad06bdd830b7586c", true};
  REQUIRE(store->put_secrets(kAlice, {nt, StoredSecret{"plaintext", "changed-pw", true}}).ok());
  CHECK(store->get_mailbox(kAlice)->secret_kinds ==
        std::vector<std::string>{"cram-md5", "nt-hash", "plaintext", "scram-sha-256"});
  CHECK(secret_of(*store, kAlice, "plaintext") == "changed-pw");
  CHECK(secret_of(*store, kAlice, "nt-hash") == nt.value);
  CHECK(secret_of(*store, kAlice, "cram-md5") == kAliceCram.value);

  REQUIRE(store->set_password(kAlice, "n3w pass", PasswordKind::kPlaintext, {StoredSecret{"plaintext", "n3w pass", true}}).ok());
  CHECK(store->get_mailbox(kAlice)->secret_kinds == std::vector<std::string>{"plaintext"});
  CHECK(secret_of(*store, kAlice, "plaintext") == "n3w pass");
  CHECK(store->verify_password(kAlice, "n3w pass").ok());
  REQUIRE(store->set_password(kAlice, kSecretHash, PasswordKind::kHash).ok());
  CHECK(store->get_mailbox(kAlice)->secret_kinds.empty());
  CHECK(secret_of(*store, kBob, "plaintext") == kBobPlain.value);  // bob untouched

  auto unknown = store->put_secrets(Address{"nobody", "example.test"}, {nt});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::kNotFound);
  CHECK(unknown.error().message == "mailbox 'nobody@example.test' does not exist");
  CHECK(store->put_secrets(Address{"x", "nowhere.test"}, {}).error().message == "postoffice 'nowhere.test' does not exist");
}

TEST_CASE("a bad secret is refused and nothing of the call is written") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  auto bad_kind = store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice",
                                     {kScram, StoredSecret{"Bad Kind", "v", false}});
  REQUIRE_FALSE(bad_kind.ok());
  CHECK(bad_kind.error().code == ErrorCode::kInvalidArgument);
  CHECK(bad_kind.error().message.find("invalid secret kind 'Bad Kind'") != std::string::npos);
  CHECK_FALSE(store->get_mailbox(kAlice).ok());

  REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice", {kScram}).ok());
  auto empty = store->set_password(kAlice, "other pw", PasswordKind::kPlaintext, {StoredSecret{"plaintext", "", true}});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message.find("the plaintext secret is empty") != std::string::npos);
  CHECK(store->verify_password(kAlice, "secret").ok());  // password unchanged
  CHECK(store->get_mailbox(kAlice)->secret_kinds == std::vector<std::string>{"scram-sha-256"});
}

TEST_CASE("get_secret refuses unknown and disabled mailboxes like verify_password") {
  TempDir tmp;
  auto store = store_with_secrets(tmp.sub("data"));
  auto unknown = store->get_secret(Address{"nobody", "example.test"}, "plaintext");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::kAuthFailed);
  CHECK(unknown.error().message == "unknown mailbox 'nobody@example.test'");
  auto malformed = store->get_secret(Address{"bad name!", "example.test"}, "plaintext");
  REQUIRE_FALSE(malformed.ok());
  CHECK(malformed.error().code == ErrorCode::kAuthFailed);
  CHECK(malformed.error().message.find("unknown mailbox (") == 0);

  REQUIRE(store->set_mailbox_enabled(kAlice, false).ok());
  auto disabled = store->get_secret(kAlice, "plaintext");
  REQUIRE_FALSE(disabled.ok());
  CHECK(disabled.error().code == ErrorCode::kAuthFailed);
  CHECK(disabled.error().message == "mailbox disabled: 'alice@example.test'");
  REQUIRE(store->set_mailbox_enabled(kAlice, true).ok());

  exec_sql(tmp.sub("data"), "UPDATE postoffices SET enabled = 0 WHERE name = 'example.test'");
  auto po_off = store->get_secret(kBob, "plaintext");
  REQUIRE_FALSE(po_off.ok());
  CHECK(po_off.error().code == ErrorCode::kAuthFailed);
  CHECK(po_off.error().message == "postoffice disabled: 'example.test'");
}

TEST_CASE("an altered or swapped encrypted secret fails to decrypt, cleanly") {
  TempDir tmp;
  auto store = store_with_secrets(tmp.sub("data"));
  const std::string alice_plain = stored_value(tmp.sub("data"), "alice", "plaintext");
  const std::string bob_plain = stored_value(tmp.sub("data"), "bob", "plaintext");
  const std::string alice_cram = stored_value(tmp.sub("data"), "alice", "cram-md5");

  auto expect_undecryptable = [&](const Address& who, const std::string& kind) {
    auto got = store->get_secret(who, kind);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == ErrorCode::kInternal);
    CHECK(got.error().message.find("cannot decrypt the " + kind + " secret of '" + who.str() + "'") == 0);
    CHECK(got.error().message.find("Pa55word") == std::string::npos);
  };

  SUBCASE("one flipped character") {
    std::string flipped = alice_plain;
    flipped[20] = flipped[20] == 'A' ? 'B' : 'A';
    exec_sql(tmp.sub("data"), "UPDATE mailbox_secrets SET value = '" + flipped + "' WHERE value = '" + alice_plain + "'");
    expect_undecryptable(kAlice, "plaintext");
    CHECK(secret_of(*store, kBob, "plaintext") == kBobPlain.value);
  }
  SUBCASE("two mailboxes' values swapped") {
    exec_sql(tmp.sub("data"), "UPDATE mailbox_secrets SET value = CASE value WHEN '" + alice_plain + "' THEN '" +
                             bob_plain + "' ELSE '" + alice_plain + "' END WHERE kind = 'plaintext'");
    CHECK(stored_value(tmp.sub("data"), "alice", "plaintext") == bob_plain);
    expect_undecryptable(kAlice, "plaintext");
    expect_undecryptable(kBob, "plaintext");
  }
  SUBCASE("one mailbox's values moved between kinds") {
    exec_sql(tmp.sub("data"), "UPDATE mailbox_secrets SET value = '" + alice_cram + "' WHERE value = '" + alice_plain + "'");
    expect_undecryptable(kAlice, "plaintext");
    CHECK(secret_of(*store, kAlice, "cram-md5") == kAliceCram.value);
  }
  SUBCASE("not base64") {
    exec_sql(tmp.sub("data"), "UPDATE mailbox_secrets SET value = 'enc1:***' WHERE value = '" + alice_plain + "'");
    expect_undecryptable(kAlice, "plaintext");
  }
  // Setting the password again repairs it.
  REQUIRE(store->set_password(kAlice, kSecretHash, PasswordKind::kHash, {kAlicePlain}).ok());
  CHECK(secret_of(*store, kAlice, "plaintext") == kAlicePlain.value);
}

namespace {

// On PostgreSQL the key is checked against the fingerprint in the database when a store opens: a
// bad key refuses the node at once (`expected` in the message) instead of failing later.
bool refused_at_open_on_postgres(const std::string& dir, const std::string& expected) {
  if (!mailroom::testing::on_postgres()) return false;
  auto store = open_account_store(dir, false);
  REQUIRE_FALSE(store.ok());
  CHECK_MESSAGE(store.error().message.find(expected) != std::string::npos, store.error().message);
  return true;
}

}  // namespace

TEST_CASE("a missing, replaced or exposed key file makes encrypted secrets unreadable with a clear error") {
  TempDir tmp;
  { auto store = store_with_secrets(tmp.sub("data")); }
  const std::string key = tmp.sub("data") + "/secrets.key";

  SUBCASE("missing") {
    fs::remove(key);
    if (refused_at_open_on_postgres(tmp.sub("data"), "copy secrets.key from a node of this cluster")) return;
    auto store = open_store(tmp.sub("data"), false);
    auto got = store->get_secret(kAlice, "plaintext");
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == ErrorCode::kInternal);
    CHECK(got.error().message.find("the secrets key " + key + " does not exist") != std::string::npos);
    CHECK(got.error().message.find("restore the key file from backup") != std::string::npos);
    CHECK_FALSE(fs::exists(key));  // reading never creates a key
    CHECK(secret_of(*store, kAlice, "scram-sha-256") == kScram.value);  // not encrypted: still fine
  }
  SUBCASE("another key") {
    fs::remove(key);
    {
      std::ofstream out(key, std::ios::binary);
      out << std::string(32, 'x');
    }
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
    if (refused_at_open_on_postgres(tmp.sub("data"), "copy secrets.key from a node of this cluster")) return;
    auto store = open_store(tmp.sub("data"), false);
    auto got = store->get_secret(kBob, "plaintext");
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == ErrorCode::kInternal);
    CHECK(got.error().message.find("does not authenticate") != std::string::npos);
  }
  SUBCASE("readable by others") {
    fs::permissions(key, fs::perms::others_read, fs::perm_options::add);
    if (refused_at_open_on_postgres(tmp.sub("data"), "run 'chmod 600 " + key + "'")) return;
    auto store = open_store(tmp.sub("data"), false);
    auto got = store->get_secret(kBob, "plaintext");
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().message.find("run 'chmod 600 " + key + "'") != std::string::npos);
    auto put = store->put_secrets(kBob, {kBobPlain});
    REQUIRE_FALSE(put.ok());
    CHECK(put.error().message.find("cannot store the secrets of 'bob@example.test'") == 0);
  }
  SUBCASE("truncated") {
    fs::resize_file(key, 16);
    if (refused_at_open_on_postgres(tmp.sub("data"), "has 16 bytes, not 32")) return;
    auto store = open_store(tmp.sub("data"), false);
    auto got = store->get_secret(kBob, "plaintext");
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().message.find("has 16 bytes, not 32") != std::string::npos);
    // Adding a mailbox with a plaintext equivalent fails whole: no record without its secrets.
    auto add = store->add_mailbox(Address{"carol", "example.test"}, kSecretHash, PasswordKind::kHash, "/m/carol",
                                  {kScram, kAlicePlain});
    REQUIRE_FALSE(add.ok());
    CHECK_FALSE(store->get_mailbox(Address{"carol", "example.test"}).ok());
  }
}

TEST_CASE("stores opened at once on a fresh database migrate it once and agree on the key") {
  TempDir tmp;
  constexpr int kOpeners = 4;
  std::vector<std::string> errors(kOpeners);
  std::vector<std::unique_ptr<AccountStore>> stores(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      auto opened = open_account_store(tmp.sub("data"), /*create=*/true);
      if (opened) {
        stores[i] = std::move(opened).value();
      } else {
        errors[i] = opened.error().message;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) CHECK_MESSAGE(e.empty(), e);
  REQUIRE(stores[0] != nullptr);
  REQUIRE(stores[0]->add_postoffice("example.test").ok());
  for (const auto& store : stores) {
    REQUIRE(store != nullptr);
    CHECK(store->get_postoffice("example.test").ok());
  }
  CHECK(query(tmp.sub("data"), mailroom::testing::on_postgres() ? "SELECT version FROM schema_version"
                                                                : "PRAGMA user_version") ==
        std::vector<std::vector<std::string>>{{std::to_string(mailroom::storage::sql::schema_version())}});
}

TEST_CASE("two stores creating the key on a fresh data dir at once agree on it") {
  for (int round = 0; round < 3; ++round) {
    TempDir tmp;
    { auto setup = open_store(tmp.sub("data")); REQUIRE(setup->add_postoffice("example.test").ok()); }
    auto first = open_store(tmp.sub("data"), false);
    auto second = open_store(tmp.sub("data"), false);
    std::string err1, err2;
    std::thread t1([&] {
      auto r = first->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice", {kAlicePlain});
      if (!r) err1 = r.error().message;
    });
    std::thread t2([&] {
      auto r = second->add_mailbox(kBob, kSecretHash, PasswordKind::kHash, "/m/bob", {kBobPlain});
      if (!r) err2 = r.error().message;
    });
    t1.join();
    t2.join();
    REQUIRE_MESSAGE(err1.empty(), err1);
    REQUIRE_MESSAGE(err2.empty(), err2);
    auto third = open_store(tmp.sub("data"), false);
    CHECK(secret_of(*third, kAlice, "plaintext") == kAlicePlain.value);
    CHECK(secret_of(*third, kBob, "plaintext") == kBobPlain.value);
    CHECK(secret_of(*first, kBob, "plaintext") == kBobPlain.value);
    CHECK(secret_of(*second, kAlice, "plaintext") == kAlicePlain.value);
  }
}

TEST_CASE("removing a mailbox or its postoffice removes its secrets") {
  TempDir tmp;
  auto store = store_with_secrets(tmp.sub("data"));
  CHECK(secret_rows(tmp.sub("data")) == 4);
  REQUIRE(store->remove_mailbox(kAlice).ok());
  CHECK(secret_rows(tmp.sub("data")) == 1);
  // A new mailbox of the same name starts without the old secrets.
  REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice").ok());
  CHECK(store->get_mailbox(kAlice)->secret_kinds.empty());
  CHECK_FALSE(secret_of(*store, kAlice, "plaintext").has_value());
  REQUIRE(store->remove_postoffice("example.test", true).ok());
  CHECK(secret_rows(tmp.sub("data")) == 0);
}

TEST_CASE("purge_secrets deletes the given kinds from every mailbox and counts them") {
  TempDir tmp;
  auto store = store_with_secrets(tmp.sub("data"));
  auto none = store->purge_secrets({});
  REQUIRE(none.ok());
  CHECK(*none == 0);
  auto purged = store->purge_secrets({"plaintext", "nt-hash", "plaintext"});
  REQUIRE(purged.ok());
  CHECK(*purged == 2);
  CHECK(store->get_mailbox(kAlice)->secret_kinds == std::vector<std::string>{"cram-md5", "scram-sha-256"});
  CHECK(store->get_mailbox(kBob)->secret_kinds.empty());
  CHECK_FALSE(secret_of(*store, kBob, "plaintext").has_value());
  CHECK(store->purge_secrets({"plaintext"}).value() == 0);
  CHECK(store->purge_secrets({"cram-md5"}).value() == 1);
  CHECK(secret_rows(tmp.sub("data")) == 1);
}

TEST_CASE("a version 2 database gains the secrets table and keeps its mailboxes") {
  TempDir tmp;
  {
    auto store = open_store(tmp.sub("data"));
    REQUIRE(store->add_postoffice("example.test").ok());
    REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice").ok());
  }
  exec_sql(tmp.sub("data"),
           "DROP TABLE mailbox_secrets; DROP TABLE daemon_settings; DROP TABLE postoffice_settings; "
           "DROP TABLE mailbox_settings; DROP TABLE cluster_meta; DROP TABLE mailbox_leases");
  mailroom::testing::set_schema_version(tmp.sub("data"), 2);
  auto store = open_store(tmp.sub("data"), false);
  CHECK(query(tmp.sub("data"), mailroom::testing::on_postgres() ? "SELECT version FROM schema_version"
                                                                : "PRAGMA user_version")[0][0] ==
        std::to_string(mailroom::storage::sql::schema_version()));
  CHECK(store->get_mailbox(kAlice)->settings.empty());
  CHECK(store->get_mailbox(kAlice)->secret_kinds.empty());
  REQUIRE(store->put_secrets(kAlice, {kScram}).ok());
  CHECK(store->verify_password(kAlice, "secret")->secret_kinds == std::vector<std::string>{"scram-sha-256"});
}

// ---- Maildir ownership (issue 12, finding 4): a Maildir belongs to one mailbox ----

namespace {

// A Maildir on disk (cur/ new/ tmp/), so that symlinks and ".." resolve through real directories.
std::string make_maildir(const std::string& path) {
  for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(fs::path(path) / sub);
  return path;
}

// Adds `who` on `maildir` and expects the Maildir check to refuse it with `code`, naming `names`;
// the mailbox must not exist afterwards.
void check_refused(AccountStore& store, const Address& who, const std::string& maildir, ErrorCode code,
                   const std::string& names) {
  CAPTURE(maildir);
  auto checked = store.check_maildir(who, maildir);
  REQUIRE_FALSE(checked.ok());
  CHECK(checked.error().code == code);
  CHECK_MESSAGE(checked.error().message.find(names) != std::string::npos, checked.error().message);
  auto added = store.add_mailbox(who, kSecretHash, PasswordKind::kHash, maildir);
  REQUIRE_FALSE(added.ok());
  CHECK(added.error().code == code);
  CHECK(added.error().message == checked.error().message);
  CHECK_FALSE(store.get_mailbox(who).ok());
}

}  // namespace

TEST_CASE("another mailbox's Maildir is refused: the same path, a symlinked alias, nested either way") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  const std::string alice = make_maildir(tmp.sub("srv/alice/Maildir"));
  REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, alice).ok());

  // The same directory, however it is spelled.
  check_refused(*store, kBob, alice, ErrorCode::kInUse, "alice@example.test");
  check_refused(*store, kBob, alice + "/", ErrorCode::kInUse, "alice@example.test");
  check_refused(*store, kBob, tmp.sub("srv//alice/./Maildir"), ErrorCode::kInUse, "alice@example.test");
  check_refused(*store, kBob, alice + "/cur/..", ErrorCode::kInUse, "alice@example.test");
  fs::create_directory_symlink(tmp.sub("srv/alice"), tmp.sub("alias"));
  check_refused(*store, kBob, tmp.sub("alias/Maildir"), ErrorCode::kInUse, "alice@example.test");
  fs::create_directory_symlink(alice, tmp.sub("direct"));
  check_refused(*store, kBob, tmp.sub("direct"), ErrorCode::kInUse, "alice@example.test");
  // ".." after a symlink goes up from where the link points, as the kernel does.
  fs::create_directories(tmp.sub("elsewhere/deep"));
  fs::create_directory_symlink(alice + "/cur", tmp.sub("elsewhere/deep/cur-link"));
  check_refused(*store, kBob, tmp.sub("elsewhere/deep/cur-link/.."), ErrorCode::kInUse, "alice@example.test");

  // Inside alice's Maildir (a Maildir++ folder), or around it.
  check_refused(*store, kBob, make_maildir(alice + "/.Sent"), ErrorCode::kInUse, "inside");
  check_refused(*store, kBob, tmp.sub("alias/Maildir/.Sent"), ErrorCode::kInUse, "alice@example.test");
  check_refused(*store, kBob, tmp.sub("srv/alice"), ErrorCode::kInUse, "contains");
  check_refused(*store, kBob, tmp.sub("srv"), ErrorCode::kInUse, "alice@example.test");
  check_refused(*store, kBob, tmp.sub("alias"), ErrorCode::kInUse, "alice@example.test");

  // A mailbox stored through a symlink is found from its real path too.
  const Address carol{"carol", "example.test"};
  make_maildir(tmp.sub("srv/carol/Maildir"));
  fs::create_directory_symlink(tmp.sub("srv/carol"), tmp.sub("carol-link"));
  REQUIRE(store->add_mailbox(carol, kSecretHash, PasswordKind::kHash, tmp.sub("carol-link/Maildir")).ok());
  check_refused(*store, kBob, tmp.sub("srv/carol/Maildir"), ErrorCode::kInUse, "carol@example.test");

  // Neighbours that only share a prefix of the name are separate directories.
  CHECK(store->check_maildir(kBob, make_maildir(tmp.sub("srv/alice/Maildir2"))).ok());
  CHECK(store->check_maildir(kBob, make_maildir(tmp.sub("srv/alicex/Maildir"))).ok());
  REQUIRE(store->add_mailbox(kBob, kSecretHash, PasswordKind::kHash, tmp.sub("srv/alicex/Maildir")).ok());
  // A path that does not exist yet is compared as written.
  CHECK(store->check_maildir(Address{"dave", "example.test"}, tmp.sub("new/dave/Maildir")).ok());
  CHECK_FALSE(store->check_maildir(Address{"dave", "example.test"}, tmp.sub("srv/alicex/Maildir/x/..")).ok());
  CHECK(store->list_mailboxes(std::nullopt)->size() == 3);
}

TEST_CASE("inside DATA/mail a mailbox may only use its own default Maildir") {
  TempDir tmp;
  const std::string data = tmp.sub("data");
  auto store = open_store(data);
  REQUIRE(store->add_postoffice("example.test").ok());
  CHECK(mailroom::storage::mail_root(data) == data + "/mail");
  CHECK(mailroom::storage::default_maildir(data, kBob) == data + "/mail/example.test/bob/Maildir");

  // zed@example.test has no mailbox, but its place is not bob's to take.
  check_refused(*store, kBob, make_maildir(data + "/mail/example.test/zed/Maildir"), ErrorCode::kInvalidArgument,
                data + "/mail");
  check_refused(*store, kBob, data + "/mail/example.test/bob", ErrorCode::kInvalidArgument, "bob/Maildir");
  check_refused(*store, kBob, data + "/mail", ErrorCode::kInvalidArgument, data + "/mail");
  check_refused(*store, kBob, data, ErrorCode::kInvalidArgument, "data directory");
  check_refused(*store, kBob, tmp.path(), ErrorCode::kInvalidArgument, "data directory");
  // Through a symlink to the mail tree, too.
  fs::create_directory_symlink(data + "/mail", tmp.sub("mail-link"));
  check_refused(*store, kBob, tmp.sub("mail-link/example.test/zed/Maildir"), ErrorCode::kInvalidArgument,
                "zed");
  // Its own place is fine, given or not.
  CHECK(store->check_maildir(kBob, tmp.sub("mail-link/example.test/bob/Maildir")).ok());
  REQUIRE(store->add_mailbox(kBob, kSecretHash, PasswordKind::kHash,
                             mailroom::storage::default_maildir(data, kBob)).ok());
}

TEST_CASE("remove_mailbox before a purge refuses while another mailbox uses the Maildir") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  const std::string alice = make_maildir(tmp.sub("srv/alice/Maildir"));
  const std::string bob = make_maildir(tmp.sub("srv/bob/Maildir"));
  REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, alice).ok());
  REQUIRE(store->add_mailbox(kBob, kSecretHash, PasswordKind::kHash, bob).ok());
  using mailroom::storage::MaildirAfterRemove;
  auto set_bob_maildir = [&](const std::string& path) {  // as a database from before the check could have it
    exec_sql(tmp.sub("data"), "UPDATE mailboxes SET maildir = '" + path + "' WHERE name = 'bob'");
  };
  auto refused = [&](const Address& who, const std::string& other) {
    auto r = store->remove_mailbox(who, MaildirAfterRemove::kDelete);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInUse);
    CHECK_MESSAGE(r.error().message.find(other) != std::string::npos, r.error().message);
    CHECK(store->get_mailbox(who).ok());  // nothing removed
  };

  fs::create_directory_symlink(tmp.sub("srv/alice"), tmp.sub("alias"));
  for (const std::string& shared : {alice, tmp.sub("alias/Maildir"), alice + "/.Sent", tmp.sub("srv/alice")}) {
    CAPTURE(shared);
    set_bob_maildir(shared);
    refused(kAlice, "bob@example.test");
    refused(kBob, "alice@example.test");
  }

  // Keeping the Maildir is always allowed, and returns the record as it was.
  auto kept = store->remove_mailbox(kBob, MaildirAfterRemove::kKeep);
  REQUIRE(kept.ok());
  CHECK(kept->address == kBob);
  CHECK(kept->maildir == tmp.sub("srv/alice"));
  // Now nobody else uses alice's Maildir.
  auto purged = store->remove_mailbox(kAlice, MaildirAfterRemove::kDelete);
  REQUIRE(purged.ok());
  CHECK(purged->maildir == alice);
  CHECK(store->list_mailboxes(std::nullopt)->empty());
  auto unknown = store->remove_mailbox(kAlice, MaildirAfterRemove::kDelete);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::kNotFound);
}

TEST_CASE("remove_mailbox before a purge refuses a Maildir that contains the data directory") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice").ok());
  exec_sql(tmp.sub("data"), "UPDATE mailboxes SET maildir = '" + tmp.path() + "' WHERE name = 'alice'");
  auto r = store->remove_mailbox(kAlice, mailroom::storage::MaildirAfterRemove::kDelete);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("data directory") != std::string::npos);
  CHECK(store->get_mailbox(kAlice).ok());
}

TEST_CASE("account settings: per postoffice and per mailbox, resolved mailbox first") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  REQUIRE(store->add_postoffice("example.test").ok());
  REQUIRE(store->add_postoffice("other.test").ok());
  REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice").ok());
  REQUIRE(store->add_mailbox(kBob, kSecretHash, PasswordKind::kHash, "/m/bob").ok());
  const Address carol{"carol", "other.test"};
  REQUIRE(store->add_mailbox(carol, kSecretHash, PasswordKind::kHash, "/m/carol").ok());

  REQUIRE(store->set_postoffice_setting("example.test", "quota_bytes", "1000").ok());
  REQUIRE(store->set_mailbox_setting(kAlice, "quota_bytes", "5000").ok());
  REQUIRE(store->set_mailbox_setting(kAlice, "login_delay", "30").ok());

  auto alice = store->get_mailbox(kAlice);
  REQUIRE(alice.ok());
  CHECK(mailroom::storage::account_setting(*alice, "quota_bytes") == "5000");
  CHECK(mailroom::storage::account_setting(*alice, "login_delay") == "30");
  CHECK(alice->postoffice_settings.at("quota_bytes") == "1000");
  auto bob = store->verify_password(kBob, "secret");  // the login path carries them too
  REQUIRE(bob.ok());
  CHECK(mailroom::storage::account_setting(*bob, "quota_bytes") == "1000");
  CHECK_FALSE(mailroom::storage::account_setting(*bob, "login_delay").has_value());
  auto carol_info = store->get_mailbox(carol);
  REQUIRE(carol_info.ok());
  CHECK(carol_info->settings.empty());
  CHECK(carol_info->postoffice_settings.empty());
  CHECK(store->get_postoffice("example.test")->settings.at("quota_bytes") == "1000");
  auto listed = store->list_mailboxes(std::string("example.test"));
  REQUIRE(listed.ok());
  CHECK(listed->at(0).settings.at("login_delay") == "30");

  // Replacing and removing.
  REQUIRE(store->set_mailbox_setting(kAlice, "quota_bytes", "7000").ok());
  CHECK(store->get_mailbox(kAlice)->settings.at("quota_bytes") == "7000");
  REQUIRE(store->set_mailbox_setting(kAlice, "quota_bytes", std::nullopt).ok());
  CHECK(mailroom::storage::account_setting(*store->get_mailbox(kAlice), "quota_bytes") == "1000");
  REQUIRE(store->set_postoffice_setting("example.test", "quota_bytes", std::nullopt).ok());
  CHECK_FALSE(mailroom::storage::account_setting(*store->get_mailbox(kAlice), "quota_bytes").has_value());

  // Unknown owners.
  CHECK(store->set_postoffice_setting("nowhere.test", "quota_bytes", "1").error().code == ErrorCode::kNotFound);
  CHECK(store->set_mailbox_setting(Address{"dave", "example.test"}, "quota_bytes", "1").error().code ==
        ErrorCode::kNotFound);

  // They go with their owner.
  REQUIRE(store->set_mailbox_setting(kBob, "expire_days", "7").ok());
  REQUIRE(store->remove_mailbox(kBob).ok());
  REQUIRE(store->add_mailbox(kBob, kSecretHash, PasswordKind::kHash, "/m/bob").ok());
  CHECK(store->get_mailbox(kBob)->settings.empty());
  REQUIRE(store->set_postoffice_setting("other.test", "login_delay", "9").ok());
  REQUIRE(store->remove_postoffice("other.test", true).ok());
  REQUIRE(store->add_postoffice("other.test").ok());
  CHECK(store->get_postoffice("other.test")->settings.empty());
}
