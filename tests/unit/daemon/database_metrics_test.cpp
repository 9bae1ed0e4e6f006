// daemon_metric_families()' database families: none on SQLite; on PostgreSQL the change feed's
// state (gauge 1/0), the leases held (gauge) and the failed renewal rounds (counter), read live.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "core/loop/event_loop.h"
#include "core/loop/loop_pool.h"
#include "daemon/daemon_metrics.h"
#include "tests/unit/support/fake_session_leases.h"

namespace dm = mailroom::daemon;
namespace st = mailroom::storage;
namespace core = mailroom::core;
namespace metrics = mailroom::metrics;
using mailroom::testing::FakeSessionLeases;
using mailroom::testing::FakeSessionLeasesControl;

namespace {

struct NoServices {
  core::EventLoop loop;
  core::WorkQueue work{loop};
  core::LoopPool pool{loop, work};
  dm::Modules modules;
  dm::RunningServices running{pool, modules, [](const std::string&, const mailroom::ipfilter::Block&) {}};
};

// The database families by name: (type, the one sample's value).
std::map<std::string, std::pair<metrics::MetricType, double>> database_families(const dm::DaemonInfo& info,
                                                                                const dm::RunningServices& running) {
  std::map<std::string, std::pair<metrics::MetricType, double>> out;
  for (const auto& f : dm::daemon_metric_families(running, info, "0.0.0")) {
    if (f.name.find("lease") == std::string::npos && f.name.find("change_feed") == std::string::npos) continue;
    REQUIRE(f.samples.size() == 1);
    CHECK(f.label_names.empty());
    out[f.name] = {f.type, f.samples[0].value};
  }
  return out;
}

}  // namespace

TEST_CASE("database_metrics: SQLite exports no change feed or lease families") {
  NoServices s;
  CHECK(database_families(dm::DaemonInfo{}, s.running).empty());
}

TEST_CASE("database_metrics: PostgreSQL exports the feed's state, the leases held and failed renewals") {
  NoServices s;
  auto control = std::make_shared<FakeSessionLeasesControl>();
  auto keeper = std::make_shared<st::LeaseKeeper>(std::make_unique<FakeSessionLeases>("node-m", control), 300);
  auto listening = std::make_shared<std::atomic<bool>>(true);
  dm::DaemonInfo info;
  info.database.postgresql = true;
  info.database.feed_listening = [listening] { return listening->load(); };
  info.database.leases = keeper;
  using T = metrics::MetricType;
  using Families = std::map<std::string, std::pair<T, double>>;
  CHECK(database_families(info, s.running) == Families{{"mailroom_change_feed_listening", {T::kGauge, 1}},
                                                       {"mailroom_lease_renewal_failures", {T::kCounter, 0}},
                                                       {"mailroom_mailbox_leases_held", {T::kGauge, 0}}});
  auto lease = keeper->acquire(3);
  REQUIRE(lease.ok());
  control->down = true;
  keeper->tick();
  listening->store(false);
  CHECK(database_families(info, s.running) == Families{{"mailroom_change_feed_listening", {T::kGauge, 0}},
                                                       {"mailroom_lease_renewal_failures", {T::kCounter, 1}},
                                                       {"mailroom_mailbox_leases_held", {T::kGauge, 1}}});
}
