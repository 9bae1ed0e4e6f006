// SqliteAccountStore against a real database in a temporary directory.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "storage/account_store.h"
#include "storage/sqlite/migrations.h"

namespace fs = std::filesystem;
using mailroom::ErrorCode;
using mailroom::storage::AccountStore;
using mailroom::storage::Address;
using mailroom::storage::open_sqlite_account_store;
using mailroom::storage::PasswordKind;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/mailroom-accounts-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string data() const { return path_ + "/data"; }

 private:
  std::string path_;
};

std::unique_ptr<AccountStore> open_store(const std::string& dir, bool create = true) {
  auto store = open_sqlite_account_store(dir, create);
  REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().message));
  return std::move(store).value();
}

const Address kAlice{"alice", "example.test"};
const Address kBob{"bob", "example.test"};

// Changes a row behind the store's back, as a second process would (no API disables a postoffice).
void exec_sql(const std::string& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir + "/mailroom.db").c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, msg);
}

// A quick imported hash so tests do not pay for argon2 on every mailbox: SHA512-CRYPT of "secret".
constexpr const char* kSecretHash =
    "{SHA512-CRYPT}$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1";

}  // namespace

TEST_CASE("opening without create fails with a hint to run init") {
  TempDir tmp;
  auto store = open_sqlite_account_store(tmp.data(), false);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::kNotFound);
  CHECK(store.error().message == "no Mailroom data in " + tmp.data() + " (run 'mailctl --data " + tmp.data() + " init')");
  CHECK_FALSE(fs::exists(tmp.data()));
}

TEST_CASE("create makes the data directory and a WAL database") {
  TempDir tmp;
  auto store = open_store(tmp.data());
  CHECK(fs::exists(tmp.data() + "/mailroom.db"));
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((tmp.data() + "/mailroom.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) == "wal");
  sqlite3_finalize(stmt);
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  CHECK(sqlite3_column_int(stmt, 0) == mailroom::storage::sqlite::schema_version());
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_CASE("postoffices are added once, listed, shown and removed") {
  TempDir tmp;
  auto store = open_store(tmp.data());
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
  auto store = open_store(tmp.data());
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
  auto store = open_store(tmp.data());
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

  exec_sql(tmp.data(), "UPDATE postoffices SET enabled = 0 WHERE name = 'other.test'");
  CHECK_FALSE(store->get_mailbox(carol)->postoffice_enabled);
  auto po_off = store->verify_password(carol, "secret");
  REQUIRE_FALSE(po_off.ok());
  CHECK(po_off.error().code == ErrorCode::kAuthFailed);
  CHECK(po_off.error().message.find("postoffice disabled") != std::string::npos);
  CHECK(store->verify_password(kBob, "secret").ok());  // other postoffice unaffected
}

TEST_CASE("set_password replaces the password and its scheme") {
  TempDir tmp;
  auto store = open_store(tmp.data());
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

TEST_CASE("list_mailboxes filters by postoffice") {
  TempDir tmp;
  auto store = open_store(tmp.data());
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
  auto store = open_store(tmp.data());
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

TEST_CASE("services are ensured once and keep only stored settings") {
  TempDir tmp;
  auto store = open_store(tmp.data());
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
  auto daemon = open_store(tmp.data());
  auto admin = open_store(tmp.data(), false);
  auto v1 = daemon->data_version();
  REQUIRE(v1.ok());
  CHECK(daemon->data_version().value() == *v1);  // stable while nothing happens

  REQUIRE(admin->add_postoffice("example.test").ok());
  auto v2 = daemon->data_version();
  REQUIRE(v2.ok());
  CHECK(*v2 != *v1);
  CHECK(daemon->get_postoffice("example.test").ok());  // and the change is visible

  // The store's own commits do not count as "another connection".
  REQUIRE(daemon->add_postoffice("own.test").ok());
  CHECK(daemon->data_version().value() == *v2);
}

TEST_CASE("reopening keeps the data and migrations run only once") {
  TempDir tmp;
  {
    auto store = open_store(tmp.data());
    REQUIRE(store->add_postoffice("example.test").ok());
    REQUIRE(store->add_mailbox(kAlice, kSecretHash, PasswordKind::kHash, "/m/alice").ok());
    REQUIRE(store->ensure_service("pop3", "pop3", true).ok());
  }
  for (bool create : {false, true, false}) {
    auto store = open_store(tmp.data(), create);
    CHECK(store->list_postoffices()->size() == 1);
    CHECK(store->get_mailbox(kAlice)->maildir == "/m/alice");
    CHECK(store->verify_password(kAlice, "secret").ok());
    CHECK(store->get_service("pop3").ok());
  }
}

TEST_CASE("a database from a newer Mailroom is refused") {
  TempDir tmp;
  { auto store = open_store(tmp.data()); }
  exec_sql(tmp.data(), "PRAGMA user_version = 999");
  auto store = open_sqlite_account_store(tmp.data(), false);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().message.find("newer than this Mailroom build") != std::string::npos);
}

TEST_CASE("a file that is not a database gives a database error") {
  TempDir tmp;
  fs::create_directories(tmp.data());
  {
    FILE* f = fopen((tmp.data() + "/mailroom.db").c_str(), "w");
    REQUIRE(f != nullptr);
    fputs("this is not sqlite, just some text that is long enough to look like a header.........", f);
    fclose(f);
  }
  auto store = open_sqlite_account_store(tmp.data(), false);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::kDatabase);
}

TEST_CASE("logins from several threads at once all succeed") {
  TempDir tmp;
  auto store = open_store(tmp.data());
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
