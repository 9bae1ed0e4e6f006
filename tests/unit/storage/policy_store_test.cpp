// The policy store against a real database in a temporary directory (SQLite, or PostgreSQL in the
// unit_storage_postgres run): rules, blocks, hit counters and the generation the daemon polls.
#include <doctest/doctest.h>

#include "tests/unit/support/temp_dir.h"
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "storage/account_store.h"
#include "storage/policy_store.h"
#include "tests/unit/support/test_database.h"

namespace fs = std::filesystem;
using mailroom::ErrorCode;
using mailroom::storage::AccessRuleRecord;
using mailroom::storage::BlockHits;
using mailroom::storage::BlockRecord;
using mailroom::testing::open_account_store;
using mailroom::testing::open_policy_store;
using mailroom::storage::PolicyStore;
using mailroom::storage::RuleHits;

namespace {

using mailroom::testing::TempDir;

// A data dir as `mailctl init` leaves it: the database with the given services.
struct Fixture {
  TempDir tmp;
  std::unique_ptr<PolicyStore> store;

  explicit Fixture(std::vector<std::string> services = {"pop3"}) {
    auto accounts = open_account_store(tmp.sub("data"), /*create=*/true);
    REQUIRE_MESSAGE(accounts.ok(), (accounts.ok() ? "" : accounts.error().message));
    for (const auto& name : services) REQUIRE((*accounts)->ensure_service(name, "pop3", true).ok());
    auto policy = open_policy_store(tmp.sub("data"));
    REQUIRE_MESSAGE(policy.ok(), (policy.ok() ? "" : policy.error().message));
    store = std::move(policy).value();
  }

  int64_t generation() {
    auto g = store->generation();
    REQUIRE(g.ok());
    return *g;
  }

  std::vector<std::string> rules(const std::optional<std::string>& list = std::nullopt) {
    auto listed = store->list_access_rules("pop3", list);
    REQUIRE_MESSAGE(listed.ok(), (listed.ok() ? "" : listed.error().message));
    std::vector<std::string> out;
    for (const auto& r : *listed) out.push_back(r.list + " " + r.rule);
    return out;
  }

  std::vector<std::string> blocks(int64_t now, const std::string& service = "pop3") {
    auto listed = store->list_blocks(service, now);
    REQUIRE_MESSAGE(listed.ok(), (listed.ok() ? "" : listed.error().message));
    std::vector<std::string> out;
    for (const auto& b : *listed) out.push_back(b.network);
    return out;
  }
};

BlockRecord block(const std::string& network, int64_t since, std::optional<int64_t> expires,
                  bool until_restart = false, const std::string& service = "pop3") {
  BlockRecord b;
  b.service = service;
  b.network = network;
  b.cause = "login_failures";
  b.reason = "5 login failures within 300 s";
  b.since = since;
  b.expires = expires;
  b.until_restart = until_restart;
  return b;
}

// Runs SQL on a second connection, as another process would (foreign keys on, like ours).
void exec_sql(const std::string& dir, const std::string& sql) { mailroom::testing::exec_sql(dir, sql); }

constexpr int64_t kNow = 1'800'000'000;

// The error message of a result, or "(succeeded)" (so a wrong success fails the CHECK, not the run).
template <class R>
std::string error_of(const R& result) {
  return result.ok() ? std::string("(succeeded)") : result.error().message;
}

}  // namespace

TEST_CASE("the policy store needs an initialised data directory") {
  if (mailroom::testing::on_postgres()) return;  // SQLite's file; a PostgreSQL database is made by its admin
  TempDir tmp;
  auto store = open_policy_store(tmp.sub("data"));
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::kNotFound);
  CHECK(store.error().message == "no Mailroom data in " + tmp.sub("data") + " (run 'mailctl --data " + tmp.sub("data") + " init')");
  CHECK_FALSE(fs::exists(tmp.sub("data")));
}

TEST_CASE("a fresh database starts at generation 0 and reopening keeps it") {
  Fixture f;
  CHECK(f.generation() == 0);
  REQUIRE(f.store->add_access_rule("pop3", "deny", "10.0.0.0/8", "").ok());
  CHECK(f.generation() == 1);
  f.store.reset();
  auto again = open_policy_store(f.tmp.sub("data"));
  REQUIRE(again.ok());
  CHECK(*(*again)->generation() == 1);
  auto listed = (*again)->list_access_rules("pop3", std::nullopt);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 1);
}

TEST_CASE("an access rule is added once, with its comment and creation time") {
  Fixture f;
  auto before = static_cast<int64_t>(std::time(nullptr));
  auto added = f.store->add_access_rule("pop3", "deny", "192.168.0.0/24", "scanner");
  REQUIRE_MESSAGE(added.ok(), (added.ok() ? "" : added.error().message));
  CHECK(added->id > 0);
  CHECK(added->service == "pop3");
  CHECK(added->list == "deny");
  CHECK(added->rule == "192.168.0.0/24");
  CHECK(added->comment == "scanner");
  CHECK(added->created_at >= before);
  CHECK(added->hits == 0);
  CHECK_FALSE(added->last_hit.has_value());

  auto dup = f.store->add_access_rule("pop3", "deny", "192.168.0.0/24", "other comment");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == ErrorCode::kAlreadyExists);
  CHECK(dup.error().message == "the deny list of service pop3 already has '192.168.0.0/24'");

  // The same rule in another list is a different rule.
  REQUIRE(f.store->add_access_rule("pop3", "safe", "192.168.0.0/24", "").ok());
  CHECK(f.rules() == std::vector<std::string>{"deny 192.168.0.0/24", "safe 192.168.0.0/24"});
  auto listed = f.store->list_access_rules("pop3", std::string("deny"));
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].comment == "scanner");
  CHECK((*listed)[0].id == added->id);
}

TEST_CASE("rules are listed by list, then in the order they were added") {
  Fixture f;
  for (const char* r : {"10.0.0.3", "10.0.0.1", "10.0.0.2"}) REQUIRE(f.store->add_access_rule("pop3", "safe", r, "").ok());
  for (const char* r : {"2001:db8::/32", "1.2.3.4"}) REQUIRE(f.store->add_access_rule("pop3", "deny", r, "").ok());
  REQUIRE(f.store->add_access_rule("pop3", "allow", "*", "").ok());
  CHECK(f.rules() == std::vector<std::string>{"allow *", "deny 2001:db8::/32", "deny 1.2.3.4", "safe 10.0.0.3",
                                              "safe 10.0.0.1", "safe 10.0.0.2"});
  CHECK(f.rules(std::string("safe")) == std::vector<std::string>{"safe 10.0.0.3", "safe 10.0.0.1", "safe 10.0.0.2"});
  CHECK(f.rules(std::string("allow")) == std::vector<std::string>{"allow *"});
}

TEST_CASE("remove takes one rule of one list; a missing rule is kNotFound") {
  Fixture f;
  REQUIRE(f.store->add_access_rule("pop3", "deny", "10.0.0.1", "").ok());
  REQUIRE(f.store->add_access_rule("pop3", "safe", "10.0.0.1", "").ok());
  REQUIRE(f.store->remove_access_rule("pop3", "deny", "10.0.0.1").ok());
  CHECK(f.rules() == std::vector<std::string>{"safe 10.0.0.1"});

  auto missing = f.store->remove_access_rule("pop3", "deny", "10.0.0.1");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "the deny list of service pop3 has no rule '10.0.0.1'");
}

TEST_CASE("clear empties one list or every list and says how many went") {
  Fixture f({"pop3", "other"});
  for (const char* r : {"10.0.0.1", "10.0.0.2"}) REQUIRE(f.store->add_access_rule("pop3", "deny", r, "").ok());
  REQUIRE(f.store->add_access_rule("pop3", "safe", "10.0.0.3", "").ok());
  REQUIRE(f.store->add_access_rule("other", "deny", "10.0.0.1", "").ok());

  auto cleared = f.store->clear_access_rules("pop3", std::string("deny"));
  REQUIRE(cleared.ok());
  CHECK(*cleared == 2);
  CHECK(f.rules() == std::vector<std::string>{"safe 10.0.0.3"});

  cleared = f.store->clear_access_rules("pop3", std::nullopt);
  REQUIRE(cleared.ok());
  CHECK(*cleared == 1);
  CHECK(f.rules().empty());

  // Another service's rules are untouched.
  auto other = f.store->list_access_rules("other", std::nullopt);
  REQUIRE(other.ok());
  CHECK(other->size() == 1);
}

TEST_CASE("bulk add counts what it added and skips what is already there") {
  Fixture f;
  REQUIRE(f.store->add_access_rule("pop3", "deny", "10.0.0.2", "kept comment").ok());
  // Already stored, new, and a duplicate within the batch itself.
  auto added = f.store->add_access_rules("pop3", "deny", {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1"});
  REQUIRE_MESSAGE(added.ok(), (added.ok() ? "" : added.error().message));
  CHECK(*added == 2);
  CHECK(f.rules() == std::vector<std::string>{"deny 10.0.0.2", "deny 10.0.0.1", "deny 10.0.0.3"});
  auto listed = f.store->list_access_rules("pop3", std::nullopt);
  REQUIRE(listed.ok());
  CHECK((*listed)[0].comment == "kept comment");

  auto none = f.store->add_access_rules("pop3", "deny", {"10.0.0.1", "10.0.0.3"});
  REQUIRE(none.ok());
  CHECK(*none == 0);
  auto empty = f.store->add_access_rules("pop3", "deny", {});
  REQUIRE(empty.ok());
  CHECK(*empty == 0);
}

TEST_CASE("bulk add is all or nothing") {
  Fixture f;
  auto bad = f.store->add_access_rules("pop3", "deny", {"10.0.0.1", ""});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
  CHECK(f.rules().empty());
  CHECK(f.generation() == 0);
}

// How fast is a benchmark's business (about 0.5 s here for 100,000 rules), not a test's: this
// checks the whole list lands, in one transaction.
TEST_CASE("bulk add stores 100,000 rules with one generation bump") {
  Fixture f;
  std::vector<std::string> rules;
  rules.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) {
    rules.push_back("10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) + "." +
                    std::to_string(i & 255));
  }
  auto added = f.store->add_access_rules("pop3", "deny", rules);
  REQUIRE_MESSAGE(added.ok(), (added.ok() ? "" : added.error().message));
  CHECK(*added == 100'000);
  CHECK(f.generation() == 1);  // one bump for the whole import
  auto listed = f.store->list_access_rules("pop3", std::string("deny"));
  REQUIRE(listed.ok());
  CHECK(listed->size() == 100'000);
}

TEST_CASE("an unknown service or list is refused with a clear message") {
  Fixture f;
  const std::string msg = "unknown service 'imap' (see 'mailctl service list')";
  auto add = f.store->add_access_rule("imap", "deny", "10.0.0.1", "");
  REQUIRE_FALSE(add.ok());
  CHECK(add.error().code == ErrorCode::kNotFound);
  CHECK(add.error().message == msg);
  auto bulk = f.store->add_access_rules("imap", "deny", {"10.0.0.1"});
  REQUIRE_FALSE(bulk.ok());
  CHECK(error_of(bulk) == msg);
  CHECK(error_of(f.store->remove_access_rule("imap", "deny", "10.0.0.1")) == msg);
  CHECK(error_of(f.store->clear_access_rules("imap", std::nullopt)) == msg);
  CHECK(error_of(f.store->list_access_rules("imap", std::nullopt)) == msg);
  CHECK(error_of(f.store->put_block(block("10.0.0.1", kNow, std::nullopt, false, "imap"), true)) == msg);
  CHECK(error_of(f.store->remove_block("imap", "10.0.0.1")) == msg);
  CHECK(error_of(f.store->clear_blocks("imap")) == msg);
  CHECK(error_of(f.store->list_blocks("imap", kNow)) == msg);

  auto list = f.store->add_access_rule("pop3", "block", "10.0.0.1", "");
  REQUIRE_FALSE(list.ok());
  CHECK(list.error().code == ErrorCode::kInvalidArgument);
  CHECK(list.error().message == "unknown access list 'block' (use allow, deny or safe)");
  CHECK(error_of(f.store->list_access_rules("pop3", std::string("Deny"))) ==
        "unknown access list 'Deny' (use allow, deny or safe)");
  CHECK(f.generation() == 0);
}

TEST_CASE("put_block inserts or replaces the block of a network") {
  Fixture f;
  REQUIRE(f.store->put_block(block("10.0.0.7", kNow, kNow + 900), false).ok());
  BlockRecord manual = block("10.0.0.7", kNow + 10, std::nullopt);
  manual.cause = "manual";
  manual.reason = "by the admin";
  manual.hits = 4;
  manual.last_hit = kNow + 5;
  REQUIRE(f.store->put_block(manual, true).ok());
  auto listed = f.store->list_blocks("pop3", kNow + 20);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  const BlockRecord& b = (*listed)[0];
  CHECK(b.service == "pop3");
  CHECK(b.network == "10.0.0.7");
  CHECK(b.cause == "manual");
  CHECK(b.reason == "by the admin");
  CHECK(b.since == kNow + 10);
  CHECK_FALSE(b.expires.has_value());
  CHECK_FALSE(b.until_restart);
  CHECK(b.hits == 4);
  CHECK(b.last_hit == kNow + 5);
}

TEST_CASE("list_blocks hides expired blocks and orders by address") {
  Fixture f;
  REQUIRE(f.store->put_block(block("10.0.0.10", kNow, kNow + 100), false).ok());
  REQUIRE(f.store->put_block(block("10.0.0.9", kNow, std::nullopt), false).ok());
  REQUIRE(f.store->put_block(block("2001:db8:1:2::/64", kNow, std::nullopt, true), false).ok());
  REQUIRE(f.store->put_block(block("10.0.0.1", kNow, kNow + 50), false).ok());
  CHECK(f.blocks(kNow) == std::vector<std::string>{"10.0.0.1", "10.0.0.9", "10.0.0.10", "2001:db8:1:2::/64"});
  CHECK(f.blocks(kNow + 50) == std::vector<std::string>{"10.0.0.9", "10.0.0.10", "2001:db8:1:2::/64"});
  CHECK(f.blocks(kNow + 100) == std::vector<std::string>{"10.0.0.9", "2001:db8:1:2::/64"});
}

TEST_CASE("list_blocks lists IPv4 blocks before IPv6 ones, ::/64 included") {
  // IPv4 is kept inside ::ffff:0:0/96, which the IPv6 network ::/64 spans: ordering by the
  // 128-bit value alone would put IPv4 blocks between IPv6 ones.
  Fixture f;
  for (const char* network : {"2001:db8:1:2::/64", "::/64", "10.0.0.1", "::fffe:0:0/95", "0.0.0.0/0"}) {
    REQUIRE(f.store->put_block(block(network, kNow, std::nullopt), false).ok());
  }
  CHECK(f.blocks(kNow) == std::vector<std::string>{"0.0.0.0/0", "10.0.0.1", "::/64", "::fffe:0:0/95",
                                                   "2001:db8:1:2::/64"});
}

TEST_CASE("remove_block and clear_blocks") {
  Fixture f({"pop3", "other"});
  REQUIRE(f.store->put_block(block("10.0.0.1", kNow, std::nullopt), true).ok());
  REQUIRE(f.store->put_block(block("10.0.0.2", kNow, std::nullopt), true).ok());
  REQUIRE(f.store->put_block(block("10.0.0.1", kNow, std::nullopt, false, "other"), true).ok());
  REQUIRE(f.store->remove_block("pop3", "10.0.0.1").ok());
  CHECK(f.blocks(kNow) == std::vector<std::string>{"10.0.0.2"});
  auto missing = f.store->remove_block("pop3", "10.0.0.1");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "service pop3 has no block on '10.0.0.1'");

  auto cleared = f.store->clear_blocks("pop3");
  REQUIRE(cleared.ok());
  CHECK(*cleared == 1);
  CHECK(f.blocks(kNow).empty());
  CHECK(f.blocks(kNow, "other") == std::vector<std::string>{"10.0.0.1"});
}

TEST_CASE("drop_stale_blocks removes until_restart and expired blocks only, of every service") {
  Fixture f({"pop3", "other"});
  REQUIRE(f.store->put_block(block("10.0.0.1", kNow, std::nullopt, /*until_restart=*/true), false).ok());
  REQUIRE(f.store->put_block(block("10.0.0.2", kNow - 100, kNow - 1), false).ok());  // expired
  REQUIRE(f.store->put_block(block("10.0.0.3", kNow - 100, kNow), false).ok());      // expires now
  REQUIRE(f.store->put_block(block("10.0.0.4", kNow, kNow + 60), false).ok());       // still running
  REQUIRE(f.store->put_block(block("10.0.0.5", kNow, std::nullopt), false).ok());    // until lifted
  REQUIRE(f.store->put_block(block("10.0.0.6", kNow, std::nullopt, true, "other"), false).ok());
  REQUIRE(f.store->put_block(block("10.0.0.7", kNow, std::nullopt, false, "other"), false).ok());
  const int64_t generation = f.generation();

  auto dropped = f.store->drop_stale_blocks(kNow);
  REQUIRE(dropped.ok());
  CHECK(*dropped == 4);
  // Looking from the past shows that the expired rows are really gone, not just hidden.
  CHECK(f.blocks(0) == std::vector<std::string>{"10.0.0.4", "10.0.0.5"});
  CHECK(f.blocks(0, "other") == std::vector<std::string>{"10.0.0.7"});
  CHECK(f.generation() == generation);
  auto again = f.store->drop_stale_blocks(kNow);
  REQUIRE(again.ok());
  CHECK(*again == 0);
}

TEST_CASE("record_hits writes absolute counters and ignores rows that are gone") {
  Fixture f;
  REQUIRE(f.store->add_access_rule("pop3", "deny", "10.0.0.0/8", "").ok());
  REQUIRE(f.store->add_access_rule("pop3", "safe", "10.0.0.5", "").ok());
  REQUIRE(f.store->put_block(block("10.9.9.9", kNow, std::nullopt), false).ok());
  const int64_t generation = f.generation();

  std::vector<RuleHits> rules = {{"pop3", "deny", "10.0.0.0/8", 12, kNow + 1},
                                 {"pop3", "safe", "10.0.0.5", 3, std::nullopt},
                                 {"pop3", "deny", "10.0.0.99", 7, kNow},     // removed meanwhile
                                 {"gone", "deny", "10.0.0.0/8", 7, kNow}};   // no such service
  std::vector<BlockHits> blocks = {{"pop3", "10.9.9.9", 5, kNow + 2}, {"pop3", "10.1.1.1", 1, kNow}};
  REQUIRE(f.store->record_hits(rules, blocks).ok());
  rules[0].hits = 15;  // absolute: the second write replaces, it does not add
  REQUIRE(f.store->record_hits({rules[0]}, {}).ok());

  auto listed = f.store->list_access_rules("pop3", std::nullopt);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].rule == "10.0.0.0/8");
  CHECK((*listed)[0].hits == 15);
  CHECK((*listed)[0].last_hit == kNow + 1);
  CHECK((*listed)[1].hits == 3);
  CHECK_FALSE((*listed)[1].last_hit.has_value());
  auto b = f.store->list_blocks("pop3", kNow);
  REQUIRE(b.ok());
  REQUIRE(b->size() == 1);
  CHECK((*b)[0].hits == 5);
  CHECK((*b)[0].last_hit == kNow + 2);
  CHECK(f.generation() == generation);
}

TEST_CASE("the generation moves exactly when mailctl changed rules or blocks") {
  Fixture f;
  int64_t g = f.generation();
  auto expect_bump = [&](bool bumped) {
    int64_t now = f.generation();
    CHECK(now == (bumped ? g + 1 : g));
    g = now;
  };
  REQUIRE(f.store->add_access_rule("pop3", "deny", "10.0.0.1", "").ok());
  expect_bump(true);
  CHECK_FALSE(f.store->add_access_rule("pop3", "deny", "10.0.0.1", "").ok());  // duplicate
  expect_bump(false);
  REQUIRE(f.store->add_access_rules("pop3", "deny", {"10.0.0.2", "10.0.0.3"}).ok());
  expect_bump(true);
  REQUIRE(f.store->add_access_rules("pop3", "deny", {"10.0.0.2"}).ok());  // nothing new
  expect_bump(false);
  REQUIRE(f.store->remove_access_rule("pop3", "deny", "10.0.0.2").ok());
  expect_bump(true);
  CHECK_FALSE(f.store->remove_access_rule("pop3", "deny", "10.0.0.2").ok());
  expect_bump(false);
  REQUIRE(f.store->clear_access_rules("pop3", std::string("safe")).ok());  // empty list
  expect_bump(false);
  REQUIRE(f.store->clear_access_rules("pop3", std::nullopt).ok());
  expect_bump(true);

  REQUIRE(f.store->put_block(block("10.0.0.1", kNow, std::nullopt), /*bump_generation=*/false).ok());
  expect_bump(false);
  REQUIRE(f.store->put_block(block("10.0.0.2", kNow, std::nullopt), /*bump_generation=*/true).ok());
  expect_bump(true);
  REQUIRE(f.store->record_hits({}, {{"pop3", "10.0.0.1", 3, kNow}}).ok());
  expect_bump(false);
  REQUIRE(f.store->remove_block("pop3", "10.0.0.1").ok());
  expect_bump(true);
  CHECK_FALSE(f.store->remove_block("pop3", "10.0.0.1").ok());
  expect_bump(false);
  REQUIRE(f.store->clear_blocks("pop3").ok());
  expect_bump(true);
  REQUIRE(f.store->clear_blocks("pop3").ok());  // already empty
  expect_bump(false);
  REQUIRE(f.store->put_block(block("10.0.0.3", kNow, std::nullopt, true), false).ok());
  REQUIRE(f.store->drop_stale_blocks(kNow).ok());
  expect_bump(false);
}

TEST_CASE("a change from another connection is seen through the generation") {
  Fixture f;
  auto second = open_policy_store(f.tmp.sub("data"));
  REQUIRE(second.ok());
  CHECK(*(*second)->generation() == 0);
  REQUIRE(f.store->add_access_rule("pop3", "deny", "10.0.0.1", "").ok());
  CHECK(*(*second)->generation() == 1);
}

TEST_CASE("removing a service removes its rules and blocks") {
  Fixture f({"pop3", "other"});
  REQUIRE(f.store->add_access_rule("other", "deny", "10.0.0.1", "").ok());
  REQUIRE(f.store->put_block(block("10.0.0.1", kNow, std::nullopt, false, "other"), true).ok());
  REQUIRE(f.store->add_access_rule("pop3", "deny", "10.0.0.1", "").ok());
  // No store method removes a service yet; the schema's ON DELETE CASCADE is what is pinned here.
  exec_sql(f.tmp.sub("data"), "DELETE FROM services WHERE name = 'other'");
  auto gone = f.store->list_access_rules("other", std::nullopt);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == ErrorCode::kNotFound);
  exec_sql(f.tmp.sub("data"), "INSERT INTO services (name, module, enabled) VALUES ('other', 'pop3', 1)");
  auto rules = f.store->list_access_rules("other", std::nullopt);
  REQUIRE(rules.ok());
  CHECK(rules->empty());
  CHECK(f.blocks(kNow, "other").empty());
  CHECK(f.rules() == std::vector<std::string>{"deny 10.0.0.1"});
}
