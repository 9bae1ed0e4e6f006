// The status report's "database" object (daemon/status_report.h): SQLite has neither a change
// feed nor leases (both null); on PostgreSQL the feed's state and the lease keeper's, read live.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>

#include "daemon/status_report.h"
#include "tests/unit/support/fake_session_leases.h"

namespace dm = mailroom::daemon;
namespace st = mailroom::storage;
using Json = nlohmann::ordered_json;
using mailroom::testing::FakeSessionLeases;
using mailroom::testing::FakeSessionLeasesControl;

TEST_CASE("database_report: SQLite has no change feed and no leases") {
  const Json doc = dm::database_report(dm::DatabaseState{});
  CHECK(doc.dump() == R"({"kind":"sqlite","change_feed":null,"leases":null})");
}

TEST_CASE("database_report: PostgreSQL reports the feed and the leases as they are now") {
  auto control = std::make_shared<FakeSessionLeasesControl>();
  auto now = std::make_shared<std::atomic<int64_t>>(1'800'000'000);
  auto keeper = std::make_shared<st::LeaseKeeper>(std::make_unique<FakeSessionLeases>("host/42/x", control), 300,
                                                  [now] { return now->load(); });
  auto listening = std::make_shared<std::atomic<bool>>(true);
  dm::DatabaseState state;
  state.postgresql = true;
  state.feed_listening = [listening] { return listening->load(); };
  state.leases = keeper;

  Json doc = dm::database_report(state);
  CHECK(doc.dump() == R"({"kind":"postgresql","change_feed":{"listening":true},"leases":{"node":"host/42/x",)"
                      R"("ttl_seconds":300,"held":0,"renewal_failures":0,"last_renewed_at":null}})");

  auto lease = keeper->acquire(7);
  REQUIRE(lease.ok());
  keeper->tick();                       // renewed at 1800000000
  control->down = true;                 // the database goes away
  listening->store(false);
  keeper->tick();
  doc = dm::database_report(state);
  CHECK(doc["change_feed"]["listening"] == false);
  CHECK(doc["leases"]["held"] == 1);
  CHECK(doc["leases"]["renewal_failures"] == 1);
  CHECK(doc["leases"]["last_renewed_at"] == "2027-01-15T08:00:00Z");
}
