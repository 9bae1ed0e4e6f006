// Daemon: runs the services stored in the database and keeps them in step with it: mailctl
// writes settings, the daemon notices (PRAGMA data_version, polled off-loop; or SIGHUP) and
// applies them live. The owner that wires the parts: reload.h (read and apply the stored
// services), policy_sync.h (access rules, blocks and counters), status_file.h (run/status.json),
// control_server.h and control_actions.h (the control socket, run/control.sock).
// metrics_endpoint.h (GET /metrics, with daemon_metrics.h's families and the process registry's).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/module/service.h"
#include "daemon/control_actions.h"
#include "daemon/control_server.h"
#include "daemon/metrics_endpoint.h"
#include "daemon/policy_sync.h"
#include "daemon/reload.h"
#include "daemon/status_file.h"
#include "relay/relay.h"
#include "storage/account_store.h"
#include "storage/lease/lease_keeper.h"
#include "storage/mail_store.h"
#include "storage/policy_store.h"

namespace mailroom::daemon {

class Daemon {
 public:
  Daemon(core::EventLoop& loop, core::WorkQueue& work, storage::AccountStore& accounts,
         storage::PolicyStore& policy, storage::MailStore& mail, std::vector<core::ModuleInstance> modules,
         std::string data_dir);
  ~Daemon();

  // The user the daemon runs as, reported by `status` (call before start()).
  void set_run_user(std::string name) { info_.user = std::move(name); }
  // The cluster-wide session leases (PostgreSQL); each settings apply gives them
  // cluster_lease_seconds. Null: none (SQLite).
  void set_lease_keeper(std::shared_ptr<storage::LeaseKeeper> leases) {
    info_.database.leases = leases;
    leases_ = std::move(leases);
  }
  // mailroomd --log-level: the daemon's level until the stored log_level changes (call before start()).
  void set_log_level_override(std::string level) { log_level_override_ = std::move(level); }
  // The database is shared with other nodes (PostgreSQL): the blocks this node places reach them
  // (PolicySync::set_shared_with_other_nodes). Call before start().
  // `status` reports it as the database's kind (a shared database is PostgreSQL).
  void set_database_shared(bool shared) {
    info_.database.postgresql = shared;
    policy_sync_.set_shared_with_other_nodes(shared);
  }
  // From any thread (the database's change feed, storage/change_feed.h): another node committed a
  // change; checked at once instead of at the next poll. While `feed_live` says the feed listens,
  // the poll asks the database itself only every kFeedSafetyPollTicks seconds.
  void changed_elsewhere();
  // `feed_live` is also what `status` and the metrics report as the feed's state.
  void set_change_feed_state(std::function<bool()> feed_live) { info_.database.feed_listening = std::move(feed_live); }
  // Loads and starts the stored services, then opens the control socket (before the loop runs).
  // Fails if nothing is stored; a control socket that cannot be made is logged, not fatal.
  Status start();
  // Re-reads services and settings off the loop and applies what changed; `done` runs on the loop
  // once a reload that read the database after this call has finished (applied, or failed with
  // the error), not when the daemon stops first. One reload runs at a time: a request while one
  // runs starts one more after it (requests meanwhile share it), so a snapshot read earlier is
  // never applied over one read later.
  void reload(const char* why, std::function<void(const Status&)> done = {});
  // Stops listening, closes every connection and lets the loop end.
  void shutdown();

 private:
  // Once a second: expire sessions, retry failed binds, flush counters, refresh the status file
  // and probe (off the loop) whether the database, the certificate files or the node-local
  // settings (DATA/node.json) changed.
  void poll();
  void probe_database();
  void start_reload();
  void apply(Snapshot& snapshot);
  // Applies changed daemon-wide settings (logging, metrics endpoint, the relay); logs what changed.
  void apply_daemon_settings(std::shared_ptr<const config::ServiceSettings> settings);
  void write_status();
  // `loops`: the pool starts at the first apply; a later change waits for a restart (logged).
  void apply_loops(const config::ServiceSettings& settings);

  core::WorkQueue& work_;
  storage::AccountStore& accounts_;
  storage::PolicyStore& policy_;
  Modules modules_;
  std::string data_dir_;
  DaemonInfo info_;
  PolicySync policy_sync_;
  // The event loops serving sessions (`loops`, read at the first apply): outlives every service.
  core::LoopPool loops_;
  StatusFile status_file_;
  RunningServices running_;
  MetricsEndpoint metrics_endpoint_;  // metrics_listen
  std::shared_ptr<const config::ServiceSettings> daemon_settings_;  // as last applied
  // The outbound queue's relay to the smarthost: its own thread, started at the first apply.
  std::unique_ptr<relay::Relay> relay_;
  std::shared_ptr<storage::LeaseKeeper> leases_;  // null on SQLite
  ControlActions control_actions_;
  ControlServer control_server_;
  std::optional<std::string> log_level_override_;
  core::Timer poll_timer_;
  int64_t data_version_ = -1;
  std::string node_stamp_;  // node_settings_stamp() when last read
  std::optional<int64_t> policy_generation_;
  uint64_t ticks_ = 0;
  bool poll_in_flight_ = false;
  bool reload_in_flight_ = false;
  // The next reload to start (reload() while one runs): why, and who waits for it.
  std::vector<std::string> reload_reasons_;
  std::vector<std::function<void(const Status&)>> reload_waiters_;
  int64_t started_loops_setting_ = 0;  // `loops` as the pool was started with
  bool stopping_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool check_now_ = false;           // changed_elsewhere(): the next poll asks the database
};

}  // namespace mailroom::daemon
