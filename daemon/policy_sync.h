// Policy sync: keeps the stored access rules and blocks (PolicyStore) and the running services'
// policies in step: reads a service's rules and blocks for a reload, stores the blocks a service
// places, writes the hit counters back, and drops stale blocks at start.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/loop/event_loop.h"
#include "core/module/service.h"
#include "storage/policy_store.h"

namespace mailroom::daemon {

// Stored times are unix seconds; the policy runs on the steady clock. One pair of readings
// converts between them (good to a second, which is what is stored).
struct ClockPair {
  int64_t wall = static_cast<int64_t>(std::time(nullptr));
  ipfilter::TimePoint steady = ipfilter::Clock::now();
  ipfilter::TimePoint to_steady(int64_t unix_seconds) const { return steady + std::chrono::seconds(unix_seconds - wall); }
  int64_t to_unix(ipfilter::TimePoint t) const {
    return wall + std::chrono::duration_cast<std::chrono::seconds>(t - steady).count();
  }
};

// Reads one service's stored rules and blocks (worker thread). Rows that cannot be used are
// skipped and described in `warnings`.
Result<core::PolicyData> load_policy(storage::PolicyStore& store, const std::string& service, const ClockPair& clock,
                                     std::vector<std::string>& warnings);

// Writes what the running services' policies learn back to the store, off the loop.
class PolicySync {
 public:
  using Services = std::map<std::string, std::unique_ptr<core::Service>>;

  PolicySync(core::WorkQueue& work, storage::PolicyStore& store) : work_(work), store_(store) {}

  // Auto-deny entries last "until restart"; expired blocks are of no use either. Blocking: call
  // it before the loop runs.
  Status drop_stale_blocks(int64_t now);
  // A block the service placed itself: stored so it survives a restart and mailctl sees it.
  // `saved` runs on the loop when the write is done (also when it failed, which is logged).
  void store_block(const std::string& service, const ipfilter::Block& block, std::function<void()> saved);
  // On a database other nodes share (PostgreSQL): a stored block also moves the policy generation,
  // so every node reloads its policy and refuses the address too (this node reloads as well, once
  // per poll at most). On a single box's SQLite the block is only recorded.
  void set_shared_with_other_nodes(bool shared) { shared_ = shared; }
  // Writes the rule and block hit counters that changed since the last flush; one flush at a time.
  void flush_hits(const Services& services);

 private:
  core::WorkQueue& work_;
  storage::PolicyStore& store_;
  bool flush_in_flight_ = false;
  bool shared_ = false;
  // Counters as last written to the database: "service\tlist\trule" / "service\tnetwork" -> hits.
  std::map<std::string, uint64_t> flushed_rule_hits_, flushed_block_hits_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace mailroom::daemon
