// The session leases (storage/lease) on the SQL layer: on SQLite here and, under ctest's
// unit_storage_postgres, on PostgreSQL. Each "node" is a connection of its own with its own id;
// the clock is the tests' (the times given to acquire/renew, or LeaseKeeper's injected clock).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/account_store.h"
#include "storage/lease/lease_keeper.h"
#include "storage/lease/session_leases.h"
#include "tests/unit/support/temp_dir.h"
#include "tests/unit/support/test_database.h"

namespace st = mailroom::storage;
using mailroom::ErrorCode;
using mailroom::testing::TempDir;

namespace {

constexpr const char* kHash =
    "{SHA512-CRYPT}$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1";

// A data directory with `count` mailboxes; their ids.
struct Cluster {
  TempDir tmp;
  std::unique_ptr<st::AccountStore> accounts;
  std::vector<int64_t> ids;

  explicit Cluster(int count) {
    auto store = mailroom::testing::open_account_store(tmp.path(), true);
    REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().message));
    accounts = std::move(store).value();
    REQUIRE(accounts->add_postoffice("example.test").ok());
    for (int i = 0; i < count; ++i) {
      const st::Address address{"user" + std::to_string(i), "example.test"};
      auto added = accounts->add_mailbox(address, kHash, st::PasswordKind::kHash,
                                         "/srv/mail/user" + std::to_string(i));
      REQUIRE_MESSAGE(added.ok(), (added.ok() ? "" : added.error().message));
      ids.push_back(added->id);
    }
  }

  std::unique_ptr<st::SessionLeases> node(const std::string& name) {
    return st::make_sql_session_leases(mailroom::testing::second_connection(tmp.path()), name);
  }

  std::vector<std::vector<std::string>> rows() {
    return mailroom::testing::query_rows(tmp.path(),
                                         "SELECT mailbox_id, node, expires_at FROM mailbox_leases ORDER BY mailbox_id");
  }
};

bool acquired(st::SessionLeases& leases, int64_t id, int64_t now, int64_t ttl) {
  auto won = leases.acquire(id, now, ttl);
  REQUIRE_MESSAGE(won.ok(), (won.ok() ? "" : won.error().message));
  return *won;
}

}  // namespace

TEST_CASE("session_lease: one node holds a mailbox; another is refused until it expires") {
  Cluster c(1);
  auto a = c.node("node-a");
  auto b = c.node("node-b");
  CHECK(acquired(*a, c.ids[0], 1000, 30));
  CHECK(c.rows() == std::vector<std::vector<std::string>>{{std::to_string(c.ids[0]), "node-a", "1030"}});
  CHECK_FALSE(acquired(*b, c.ids[0], 1000, 30));
  CHECK_FALSE(acquired(*b, c.ids[0], 1030, 30));  // expires_at itself is still held
  CHECK(acquired(*a, c.ids[0], 1001, 30));         // its own row (a release that failed): taken again
  CHECK(c.rows()[0][2] == "1031");
}

TEST_CASE("session_lease: an expired lease is taken over, and the old holder cannot release it") {
  Cluster c(1);
  auto a = c.node("node-a");
  auto b = c.node("node-b");
  REQUIRE(acquired(*a, c.ids[0], 1000, 30));
  CHECK(acquired(*b, c.ids[0], 1031, 30));
  CHECK(c.rows() == std::vector<std::vector<std::string>>{{std::to_string(c.ids[0]), "node-b", "1061"}});
  REQUIRE(a->release(c.ids[0]).ok());  // node-a's session ends late: node-b's row stays
  CHECK(c.rows().size() == 1);
  CHECK_FALSE(acquired(*a, c.ids[0], 1032, 30));
}

TEST_CASE("session_lease: release frees the mailbox at once for another node") {
  Cluster c(2);
  auto a = c.node("node-a");
  auto b = c.node("node-b");
  REQUIRE(acquired(*a, c.ids[0], 1000, 30));
  REQUIRE(acquired(*a, c.ids[1], 1000, 30));
  REQUIRE(a->release(c.ids[0]).ok());
  CHECK(acquired(*b, c.ids[0], 1001, 30));
  CHECK_FALSE(acquired(*b, c.ids[1], 1001, 30));
  REQUIRE(a->release(c.ids[0]).ok());  // not its row any more: nothing happens
  CHECK(c.rows().size() == 2);
}

TEST_CASE("session_lease: renew extends every lease of this node, and only those") {
  Cluster c(3);
  auto a = c.node("node-a");
  auto b = c.node("node-b");
  REQUIRE(acquired(*a, c.ids[0], 1000, 30));
  REQUIRE(acquired(*a, c.ids[1], 1000, 30));
  REQUIRE(acquired(*b, c.ids[2], 1000, 30));
  auto renewed = a->renew(1020, 30);
  REQUIRE(renewed.ok());
  CHECK(*renewed == 2);
  CHECK(c.rows() == std::vector<std::vector<std::string>>{{std::to_string(c.ids[0]), "node-a", "1050"},
                                                          {std::to_string(c.ids[1]), "node-a", "1050"},
                                                          {std::to_string(c.ids[2]), "node-b", "1030"}});
  CHECK_FALSE(acquired(*b, c.ids[0], 1040, 30));  // renewed: held past the first TTL
  CHECK(acquired(*a, c.ids[2], 1040, 30));         // not renewed: node-b's expired
  CHECK(*a->renew(1041, 30) == 3);
}

TEST_CASE("session_lease: two nodes racing for the same mailboxes get one winner each") {
  Cluster c(12);
  auto a = c.node("node-a");
  auto b = c.node("node-b");
  std::vector<int> wins_a(c.ids.size()), wins_b(c.ids.size());
  std::atomic<int> errors{0};
  auto race = [&](st::SessionLeases& leases, std::vector<int>& wins) {
    for (size_t i = 0; i < c.ids.size(); ++i) {
      auto won = leases.acquire(c.ids[i], 1000, 30);
      if (!won) {
        ++errors;
      } else {
        wins[i] = *won ? 1 : 0;
      }
    }
  };
  std::thread ta([&] { race(*a, wins_a); });
  std::thread tb([&] { race(*b, wins_b); });
  ta.join();
  tb.join();
  REQUIRE(errors.load() == 0);
  const auto rows = c.rows();
  REQUIRE(rows.size() == c.ids.size());
  for (size_t i = 0; i < c.ids.size(); ++i) {
    CHECK(wins_a[i] + wins_b[i] == 1);
    CHECK(rows[i][1] == (wins_a[i] ? "node-a" : "node-b"));
  }
}

TEST_CASE("session_lease: removing a mailbox removes its lease") {
  Cluster c(1);
  auto a = c.node("node-a");
  REQUIRE(acquired(*a, c.ids[0], 1000, 30));
  REQUIRE(c.accounts->remove_mailbox(st::Address{"user0", "example.test"}).ok());
  CHECK(c.rows().empty());
}

TEST_CASE("session_lease: the keeper refuses another node's mailbox, renews on its clock, releases ended sessions") {
  Cluster c(2);
  auto now = std::make_shared<std::atomic<int64_t>>(1000);
  st::LeaseKeeper a(c.node("node-a"), 30, [now] { return now->load(); });
  st::LeaseKeeper b(c.node("node-b"), 30, [now] { return now->load(); });
  CHECK(a.node() == "node-a");

  auto held = a.acquire(c.ids[0]);
  REQUIRE(held.ok());
  auto refused = b.acquire(c.ids[0]);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kInUse);
  CHECK(refused.error().message == "mailbox is in use by a session on another node");

  now->store(1020);
  a.tick();  // the renewal: held until 1050
  CHECK(c.rows()[0][2] == "1050");
  now->store(1040);
  CHECK_FALSE(b.acquire(c.ids[0]).ok());

  a.set_ttl(5);
  CHECK(a.ttl() == 5);
  held->reset();  // the session ended: its row goes on the keeper's thread, or at the tick
  a.tick();
  CHECK(c.rows().empty());
  auto taken = b.acquire(c.ids[0]);
  REQUIRE(taken.ok());
  CHECK(c.rows() == std::vector<std::vector<std::string>>{{std::to_string(c.ids[0]), "node-b", "1070"}});
}

TEST_CASE("session_lease: a session's release never deletes the next session's lease on the same node") {
  // The first session's release is queued for the keeper's thread; the next session on this
  // node takes the same row over (acquire accepts its own node's row). Whenever the queued
  // release would run (before the acquire, or at the next tick), the new session keeps its row.
  Cluster c(1);
  auto now = std::make_shared<std::atomic<int64_t>>(1000);
  st::LeaseKeeper a(c.node("node-a"), 30, [now] { return now->load(); });
  const std::vector<std::vector<std::string>> held_by_a{{std::to_string(c.ids[0]), "node-a", "1030"}};
  for (int round = 0; round < 20; ++round) {
    auto first = a.acquire(c.ids[0]);
    REQUIRE(first.ok());
    first->reset();  // QUIT: its row goes on the keeper's thread
    auto next = a.acquire(c.ids[0]);
    REQUIRE(next.ok());
    a.tick();  // whatever release is still queued runs now
    REQUIRE(c.rows() == held_by_a);
    next->reset();
    a.tick();
    REQUIRE(c.rows().empty());
  }
}

TEST_CASE("session_lease: a shorter TTL brings the keeper's next renewal forward") {
  Cluster c(1);
  auto now = std::make_shared<std::atomic<int64_t>>(1000);
  st::LeaseKeeper a(c.node("node-a"), 30, [now] { return now->load(); });  // renews every 10 s
  auto held = a.acquire(c.ids[0]);
  REQUIRE(held.ok());
  now->store(1100);
  a.set_ttl(5);  // every second from now: the lease must not run out before the next renewal
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  std::string expires;
  while (std::chrono::steady_clock::now() < deadline) {
    expires = c.rows()[0][2];
    if (expires == "1105") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(expires == "1105");
}

TEST_CASE("session_lease: node ids differ between runs and carry the host name") {
  const std::string one = st::make_node_id();
  const std::string two = st::make_node_id();
  CHECK(one != two);
  CHECK(one.find('/') != std::string::npos);
}
