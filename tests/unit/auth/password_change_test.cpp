// Tests for auth::change_password() and load_password_policy() against a real SQLite store.
#include <doctest/doctest.h>

#include "auth/password_change.h"
#include "auth/secrets.h"
#include "storage/store_factory.h"
#include "tests/unit/support/temp_dir.h"

using namespace mailroom;

TEST_CASE("change_password replaces the hash and every derived secret; the policy follows the daemon setting") {
  testing::TempDir tmp;
  auto opened = storage::open_account_store(tmp.sub("data"), true);
  REQUIRE(opened.ok());
  auto& store = **opened;
  const storage::Address alice{"alice", "example.test"};
  REQUIRE(store.add_postoffice("example.test").ok());
  REQUIRE(store.add_mailbox(alice, "Old-Passw0rd", storage::PasswordKind::kPlaintext, tmp.sub("maildir"),
                            auth::derive_secrets("Old-Passw0rd", {"plaintext", "cram-md5"}))
              .ok());

  auto changed = auth::change_password(store, alice, "New-Passw0rd", storage::PasswordKind::kPlaintext,
                                       {"plaintext", "scram-sha-256"});
  REQUIRE(changed.ok());
  CHECK(changed->size() == 2);
  CHECK(store.verify_password(alice, "New-Passw0rd").ok());
  CHECK_FALSE(store.verify_password(alice, "Old-Passw0rd").ok());
  auto plaintext = store.get_secret(alice, "plaintext");
  REQUIRE(plaintext.ok());
  CHECK(*plaintext == std::optional<std::string>("New-Passw0rd"));
  auto cram = store.get_secret(alice, "cram-md5");  // not wanted any more: gone with the old password
  REQUIRE(cram.ok());
  CHECK_FALSE(cram->has_value());

  CHECK(auth::load_password_policy(store)->min_length == auth::kDefaultPasswordMinLength);
  REQUIRE(store.set_daemon_setting("password_min_length", "12").ok());
  CHECK(auth::load_password_policy(store)->min_length == 12);
}
