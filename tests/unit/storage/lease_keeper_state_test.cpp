// LeaseKeeper::state() (status and metrics read it from another thread): sessions holding a lease,
// renewal rounds that failed (one per round, whatever the number of leases), the last successful
// renewal. Over a fake SessionLeases, so the database can "go away" between two ticks.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>

#include "storage/lease/lease_keeper.h"
#include "tests/unit/support/fake_session_leases.h"

namespace st = mailroom::storage;
using mailroom::testing::FakeSessionLeases;
using mailroom::testing::FakeSessionLeasesControl;

TEST_CASE("lease_keeper_state: held leases, failed renewal rounds and the last renewal") {
  auto control = std::make_shared<FakeSessionLeasesControl>();
  auto now = std::make_shared<std::atomic<int64_t>>(1000);
  // TTL 300: the keeper's own thread renews every 100 s, so only the test's ticks renew here.
  st::LeaseKeeper keeper(std::make_unique<FakeSessionLeases>("node-f", control), 300, [now] { return now->load(); });

  auto fresh = keeper.state();
  CHECK(fresh.node == "node-f");
  CHECK(fresh.ttl_seconds == 300);
  CHECK(fresh.held == 0);
  CHECK(fresh.renewal_failures == 0);
  CHECK_FALSE(fresh.last_renewed_at.has_value());

  auto one = keeper.acquire(1);
  auto two = keeper.acquire(2);
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  CHECK(keeper.state().held == 2);

  now->store(1100);
  keeper.tick();
  CHECK(keeper.state().last_renewed_at == 1100);

  control->down = true;  // the database goes away: each round fails once, with two leases held
  now->store(1200);
  keeper.tick();
  now->store(1300);
  keeper.tick();
  auto away = keeper.state();
  CHECK(away.renewal_failures == 2);
  CHECK(away.last_renewed_at == 1100);  // still the last one that worked
  CHECK(away.held == 2);                // the sessions still hold theirs here
  CHECK_FALSE(keeper.acquire(3).ok());  // a failed acquire holds nothing
  CHECK(keeper.state().held == 2);

  control->down = false;
  now->store(1400);
  keeper.tick();
  one->reset();
  auto back = keeper.state();
  CHECK(back.renewal_failures == 2);
  CHECK(back.last_renewed_at == 1400);
  CHECK(back.held == 1);
  keeper.set_ttl(30);
  CHECK(keeper.state().ttl_seconds == 30);
}
