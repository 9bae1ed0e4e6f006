// Daemon: starts the stored services, polls for changes and reloads, shuts down.
#include "daemon/daemon.h"

#include <algorithm>

#include <ctime>
#include <map>
#include <thread>

#include "core/config/daemon_settings.h"
#include "core/system/host_name.h"
#include "core/base/version.h"
#include "core/log/log_router.h"
#include "core/log/logger.h"
#include "core/metrics/registry.h"
#include "daemon/daemon_metrics.h"

namespace mailroom::daemon {

namespace {
constexpr uint64_t kPollIntervalMs = 1000;
// With a live change feed (PostgreSQL LISTEN/NOTIFY) the counters are still read this often, in
// case a notification was lost with a connection.
constexpr uint64_t kFeedSafetyPollTicks = 10;
constexpr uint64_t kFlushEveryTicks = 5;   // hit counters reach the database within ~5 s
constexpr uint64_t kStatusEveryTicks = 5;  // status file rewritten at least this often
constexpr uint64_t kRetryBindsEveryTicks = 30;  // failed binds are tried again every ~30 s
}  // namespace

Daemon::Daemon(core::EventLoop& loop, core::WorkQueue& work, storage::AccountStore& accounts,
               storage::PolicyStore& policy, storage::MailStore& mail, std::vector<core::ModuleInstance> modules,
               std::string data_dir)
    : work_(work),
      accounts_(accounts),
      policy_(policy),
      modules_(std::move(modules)),
      data_dir_(std::move(data_dir)),
      policy_sync_(work, policy),
      loops_(loop, work),
      status_file_(work, data_dir_),
      running_(loops_, modules_,
               [this](const std::string& service, const ipfilter::Block& block) {
                 policy_sync_.store_block(service, block, [this, service, block] {
                   if (core::Service* s = running_.find(service)) s->block_saved(block);
                 });
               }),
      metrics_endpoint_(loop, work,
                        [this] {
                          auto families = daemon_metric_families(running_, info_, kVersion);
                          for (auto& f : metrics::process_registry().collect()) families.push_back(std::move(f));
                          return families;
                        }),
      control_actions_(work, accounts, running_, info_,
                       [this](const char* why, std::function<void(const Status&)> done) {
                         reload(why, std::move(done));
                       }),
      control_server_(loop, work, data_dir_, control_actions_),
      poll_timer_(loop) {
  relay_ = std::make_unique<relay::Relay>(data_dir_ + "/queue", accounts, mail, core::system_host_name());
}

Daemon::~Daemon() { shutdown(); }

Status Daemon::start() {
  const auto started_at = static_cast<int64_t>(std::time(nullptr));
  info_.started_at = started_at;
  if (auto dropped = policy_sync_.drop_stale_blocks(started_at); !dropped) return dropped.error();
  auto version = accounts_.data_version();
  if (version) data_version_ = *version;
  node_stamp_ = node_settings_stamp(data_dir_);  // before the read: a change meanwhile is seen again
  auto snap = load_snapshot(accounts_, policy_, modules_, data_dir_, running_.tls(), std::nullopt);
  if (!snap) return snap.error();
  if (snap->records.empty()) {
    return make_error(ErrorCode::kNotFound, "no services are configured (run 'mailctl init')");
  }
  apply(*snap);
  poll_timer_.start(kPollIntervalMs, kPollIntervalMs, [this] { poll(); });
  if (Status s = control_server_.open(); !s) {
    log::error("control.listen_failed", {{"error", s.error().message},
                                         {"effect", "mailctl status, sessions, reload and service start|stop|restart "
                                                    "cannot reach this daemon"}});
  }
  return {};
}

void Daemon::changed_elsewhere() {
  std::weak_ptr<int> alive = alive_;
  loops_.loop(0).post([this, alive] {
    if (alive.expired()) return;
    check_now_ = true;
    probe_database();
  });
}

void Daemon::poll() {
  if (poll_in_flight_ || stopping_) return;
  ++ticks_;
  for (auto& [name, service] : running_.services()) {
    service->expire();
    if (ticks_ % kRetryBindsEveryTicks == 0 && service->has_failed_binds()) service->retry_failed_binds();
  }
  if (ticks_ % kRetryBindsEveryTicks == 0 && metrics_endpoint_.bind_failed()) metrics_endpoint_.retry_failed_bind();
  if (ticks_ % kFlushEveryTicks == 0) policy_sync_.flush_hits(running_.services());
  running_.warn_expiring_certificates(static_cast<int64_t>(std::time(nullptr)));
  write_status();
  probe_database();
}

// The database's change counters (unless a live change feed makes that needless this second),
// the certificate files and DATA/node.json: whatever moved is reloaded.
void Daemon::probe_database() {
  if (poll_in_flight_ || stopping_) return;
  poll_in_flight_ = true;
  const auto& feed_live = info_.database.feed_listening;  // set_change_feed_state()
  const bool ask_database = check_now_ || !feed_live || !feed_live() || ticks_ % kFeedSafetyPollTicks == 0;
  check_now_ = false;
  struct Probe {
    int64_t version = -1;
    int64_t generation = -1;
    bool files_changed = false;
    std::string node_stamp;
  };
  auto probe = std::make_shared<Probe>();
  std::map<std::string, std::string> stamps;  // certificate files to watch
  std::map<std::string, tls::TlsConfig> configs;
  for (const auto& [name, state] : running_.tls()) {
    stamps[name] = state.stamp;
    configs[name] = state.config;
  }
  std::weak_ptr<int> alive = alive_;
  storage::AccountStore& accounts = accounts_;
  storage::PolicyStore& policy = policy_;
  work_.submit(
      [probe, &accounts, &policy, stamps = std::move(stamps), configs = std::move(configs), data_dir = data_dir_,
       ask_database] {
        if (ask_database) {
          auto v = accounts.data_version();
          if (v) probe->version = *v;
          auto g = policy.generation();
          if (g) probe->generation = *g;
        }
        for (const auto& [name, stamp] : stamps) {
          if (tls_stamp(configs.at(name)) != stamp) probe->files_changed = true;
        }
        probe->node_stamp = node_settings_stamp(data_dir);
      },
      [this, alive, probe] {
        if (alive.expired()) return;
        poll_in_flight_ = false;
        if (probe->generation >= 0 && policy_generation_ && probe->generation != *policy_generation_) {
          data_version_ = probe->version;
          reload("access rules or blocks changed");
        } else if (probe->version >= 0 && probe->version != data_version_) {
          data_version_ = probe->version;
          reload("database changed");
        } else if (probe->files_changed) {
          reload("certificate files changed");
        }
        if (probe->node_stamp != node_stamp_) {
          node_stamp_ = probe->node_stamp;  // seen: a damaged file is reported once, not every second
          reload("node settings changed");
        }
        if (check_now_) probe_database();  // notified while this probe ran
      });
}

void Daemon::reload(const char* why, std::function<void(const Status&)> done) {
  if (stopping_) return;
  if (std::find(reload_reasons_.begin(), reload_reasons_.end(), why) == reload_reasons_.end()) {
    reload_reasons_.emplace_back(why);
  }
  if (done) reload_waiters_.push_back(std::move(done));
  if (!reload_in_flight_) start_reload();
}

void Daemon::start_reload() {
  reload_in_flight_ = true;
  // The first request names it; the others that came while the previous reload ran go in `also`.
  std::string reason = reload_reasons_.front(), also;
  for (std::size_t i = 1; i < reload_reasons_.size(); ++i) also += (also.empty() ? "" : ", ") + reload_reasons_[i];
  reload_reasons_.clear();
  auto waiters = std::make_shared<std::vector<std::function<void(const Status&)>>>(std::move(reload_waiters_));
  reload_waiters_.clear();
  auto snap = std::make_shared<Result<Snapshot>>(make_error(ErrorCode::kInternal, "not loaded"));
  std::weak_ptr<int> alive = alive_;
  storage::AccountStore& accounts = accounts_;
  storage::PolicyStore& policy = policy_;
  work_.submit(
      [snap, &accounts, &policy, &modules = modules_, data_dir = data_dir_, known = running_.tls(),
       generation = policy_generation_] {
        *snap = load_snapshot(accounts, policy, modules, data_dir, known, generation);
      },
      [this, alive, snap, reason, also, waiters] {
        if (alive.expired()) return;
        reload_in_flight_ = false;
        if (stopping_) return;
        Status outcome;
        if (!*snap) {
          if (also.empty()) {
            log::error("daemon.reload", {{"reason", reason}, {"result", "failed"}, {"error", snap->error().message}});
          } else {
            log::error("daemon.reload", {{"reason", reason}, {"result", "failed"}, {"error", snap->error().message}, {"also", also}});
          }
          outcome = snap->error();
        } else {
          apply(snap->value());
          if (also.empty()) {
            log::info("daemon.reload", {{"reason", reason}, {"result", "applied"}});
          } else {
            log::info("daemon.reload", {{"reason", reason}, {"result", "applied"}, {"also", also}});
          }
        }
        for (auto& done : *waiters) done(outcome);
        if (!reload_reasons_.empty() && !stopping_) start_reload();  // asked for while this one ran
      });
}

void Daemon::apply(Snapshot& snapshot) {
  if (snapshot.policy_generation) policy_generation_ = snapshot.policy_generation;
  // Logging first: what the services log while they apply goes to the new targets.
  if (snapshot.daemon_settings) apply_daemon_settings(std::move(snapshot.daemon_settings));
  if (!loops_.started()) loops_.start(core::resolve_loop_count(0, std::thread::hardware_concurrency()));
  running_.apply(snapshot);
  write_status();  // `mailctl service status` shows the new state without waiting for a tick
}

void Daemon::apply_daemon_settings(std::shared_ptr<const config::ServiceSettings> settings) {
  if (daemon_settings_ && *daemon_settings_ == *settings) return;
  for (const auto& [key, value] : settings->values()) {
    // At start, only what differs from the default; later, what changed.
    const std::string& before = daemon_settings_ ? daemon_settings_->values().at(key)
                                                 : config::daemon_settings_catalog().find(key)->default_value;
    if (before == value) continue;
    // Logged before it applies: a new target or a higher level would hide it.
    const config::SettingSpec* spec = config::daemon_settings_catalog().find(key);
    const bool secret = spec != nullptr && spec->secret;
    log::info("daemon.setting", {{"key", key}, {"value", secret ? std::string(config::kSecretShown) : value}});
  }
  std::string level = settings->get_string("log_level");
  if (log_level_override_) {  // mailroomd --log-level wins until the stored level changes
    if (daemon_settings_ && daemon_settings_->get_string("log_level") != level) {
      log_level_override_.reset();
    } else {
      level = *log_level_override_;
    }
  }
  log::router().configure_daemon({settings->get_string("log_target"), level, settings->get_string("log_format")});
  metrics_endpoint_.apply(settings->get_string("metrics_listen"));
  apply_loops(*settings);
  if (leases_) leases_->set_ttl(settings->get_int("cluster_lease_seconds"));
  if (!stopping_) {
    relay_->apply(relay::RelaySettings::from(*settings));
    relay_->start();  // once; later applies only hand it the new settings
  }
  daemon_settings_ = std::move(settings);
}

void Daemon::apply_loops(const config::ServiceSettings& settings) {
  const int64_t wanted = settings.get_int("loops");
  if (!loops_.started()) {
    loops_.start(core::resolve_loop_count(static_cast<int>(wanted), std::thread::hardware_concurrency()));
    started_loops_setting_ = wanted;
    return;
  }
  if (wanted != started_loops_setting_) {
    log::warn("daemon.restart_needed", {{"key", "loops"}, {"value", std::to_string(wanted)},
                                        {"running", std::to_string(loops_.size())},
                                        {"reason", "the event loops are started once: restart mailroomd"}});
  }
}

void Daemon::write_status() {
  if (stopping_) return;
  info_.metrics = metrics_endpoint_.state();
  status_file_.write(info_, running_, ticks_ % kStatusEveryTicks == 0);
}

void Daemon::shutdown() {
  if (stopping_) return;
  policy_sync_.flush_hits(running_.services());  // best effort: queued before the loop ends
  stopping_ = true;
  control_server_.close();
  status_file_.remove();
  poll_timer_.close();
  metrics_endpoint_.stop();
  relay_->stop();  // joins its thread: every wait there is cut within a 200 ms poll slice
  running_.stop_all();
  loops_.stop();  // every service has closed its connections on their own loops
}

}  // namespace mailroom::daemon
