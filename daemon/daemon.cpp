// Daemon: services from the database, live reload (settings, certificates), shutdown.
#include "daemon/daemon.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "core/config/network_settings.h"
#include "core/config/tls_settings.h"
#include "core/ipfilter/address_rule.h"
#include "core/log/logger.h"

namespace mailroom::daemon {

namespace {
constexpr uint64_t kPollIntervalMs = 1000;
constexpr uint64_t kFlushEveryTicks = 5;   // hit counters reach the database within ~5 s
constexpr uint64_t kStatusEveryTicks = 5;  // status file rewritten at least this often
constexpr uint64_t kRetryBindsEveryTicks = 30;  // failed binds are tried again every ~30 s
constexpr const char* kStatusFile = "run/status.json";

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

std::optional<ipfilter::AccessList> list_from_name(const std::string& name) {
  if (name == "allow") return ipfilter::AccessList::kAllow;
  if (name == "deny") return ipfilter::AccessList::kDeny;
  if (name == "safe") return ipfilter::AccessList::kSafe;
  return std::nullopt;
}

// Reads one service's stored rules and blocks (worker thread).
Result<core::PolicyData> load_policy(storage::PolicyStore& store, const std::string& service, const ClockPair& clock,
                                     std::vector<std::string>& warnings) {
  core::PolicyData data;
  auto rules = store.list_access_rules(service, std::nullopt);
  if (!rules) return rules.error();
  for (auto& r : *rules) {
    auto list = list_from_name(r.list);
    auto parsed = ipfilter::parse_address_rule(r.rule);
    if (!list || !parsed) {
      warnings.push_back("service " + service + ": ignoring stored " + r.list + " rule '" + r.rule + "'");
      continue;
    }
    ipfilter::PolicyRule pr;
    pr.list = *list;
    pr.rule = std::move(parsed).value();
    pr.hits = static_cast<uint64_t>(r.hits);
    if (r.last_hit) pr.last_hit = clock.to_steady(*r.last_hit);
    data.rules[static_cast<std::size_t>(*list)].push_back(std::move(pr));
  }
  auto blocks = store.list_blocks(service, clock.wall);
  if (!blocks) return blocks.error();
  for (auto& b : *blocks) {
    auto prefix = ipfilter::parse_prefix_text(b.network);
    if (!prefix) {
      warnings.push_back("service " + service + ": ignoring stored block '" + b.network + "'");
      continue;
    }
    ipfilter::Block block;
    block.network = prefix->network;
    block.prefix = prefix->bits;
    block.cause = ipfilter::parse_block_cause(b.cause);
    block.reason = b.reason;
    block.since = clock.to_steady(b.since);
    if (b.expires) block.expires = clock.to_steady(*b.expires);
    block.hits = static_cast<uint64_t>(b.hits);
    if (b.last_hit) block.last_hit = clock.to_steady(*b.last_hit);
    data.blocks.push_back(std::move(block));
  }
  return data;
}

std::string tls_stamp(const tls::TlsConfig& c) {
  return tls::file_stamp(c.cert_file) + "|" + tls::file_stamp(c.key_file);
}
}  // namespace

Daemon::Daemon(core::EventLoop& loop, core::WorkQueue& work, storage::AccountStore& accounts,
               storage::PolicyStore& policy, std::vector<core::ModuleInstance> modules, std::string data_dir)
    : loop_(loop),
      work_(work),
      accounts_(accounts),
      policy_(policy),
      modules_(std::move(modules)),
      data_dir_(std::move(data_dir)),
      poll_timer_(loop) {}

Daemon::~Daemon() { shutdown(); }

core::ModuleInstance* Daemon::find_module(const std::string& name) {
  for (auto& m : modules_) {
    if (m.descriptor->name == name) return &m;
  }
  return nullptr;
}

Result<Daemon::Snapshot> Daemon::load(storage::AccountStore& accounts, storage::PolicyStore& policy,
                                      const std::vector<core::ModuleInstance>& modules,
                                      const std::string& data_dir, std::map<std::string, TlsState> known,
                                      std::optional<int64_t> known_generation) {
  // The generation first: a change landing while we read is seen again at the next poll.
  auto generation = policy.generation();
  if (!generation) return generation.error();
  auto records = accounts.list_services();
  if (!records) return records.error();
  Snapshot snap;
  bool read_policy = !known_generation || *known_generation != *generation;
  ClockPair clock;
  for (const auto& record : *records) {
    const core::ModuleInstance* module = nullptr;
    for (const auto& m : modules) {
      if (m.descriptor->name == record.module) module = &m;
    }
    if (module == nullptr) continue;
    auto settings = config::ServiceSettings::build(*module->catalog, record.settings);
    if (!settings) continue;  // reported by apply()
    snap.binds[record.name] = core::plan_binds(config::network_settings_from(*settings));
    if (read_policy) {
      auto data = load_policy(policy, record.name, clock, snap.warnings);
      if (!data) return data.error();
      snap.policies[record.name] = std::move(data).value();
    }
    TlsState state;
    state.config = config::tls_config_from(*settings, data_dir);
    state.stamp = tls_stamp(state.config);
    auto prev = known.find(record.name);
    if (prev != known.end() && prev->second.config == state.config && prev->second.stamp == state.stamp) {
      state = prev->second;  // unchanged: keep the context (and any earlier error)
    } else {
      auto ctx = tls::TlsContext::create(state.config);
      if (ctx) {
        state.context = std::move(ctx).value();
      } else {
        state.error = ctx.error().message;
        // A broken new certificate never takes a running service down: keep the old context.
        if (prev != known.end()) state.context = prev->second.context;
      }
    }
    snap.tls[record.name] = std::move(state);
  }
  snap.records = std::move(records).value();
  if (read_policy) snap.policy_generation = *generation;
  return snap;
}

Status Daemon::start() {
  started_at_ = static_cast<int64_t>(std::time(nullptr));
  // Auto-deny entries last "until restart"; expired blocks are of no use either.
  auto dropped = policy_.drop_stale_blocks(started_at_);
  if (!dropped) return dropped.error();
  if (*dropped > 0) log::info("policy.blocks_dropped", {{"count", std::to_string(*dropped)}, {"why", "expired or until restart"}});
  auto version = accounts_.data_version();
  if (version) data_version_ = *version;
  auto snap = load(accounts_, policy_, modules_, data_dir_, tls_, std::nullopt);
  if (!snap) return snap.error();
  if (snap->records.empty()) {
    return make_error(ErrorCode::kNotFound, "no services are configured (run 'mailctl init')");
  }
  apply(*snap);
  poll_timer_.start(kPollIntervalMs, kPollIntervalMs, [this] { poll(); });
  return {};
}

void Daemon::poll() {
  if (poll_in_flight_ || stopping_) return;
  poll_in_flight_ = true;
  ++ticks_;
  for (auto& [name, service] : services_) {
    service->expire();
    if (ticks_ % kRetryBindsEveryTicks == 0 && service->has_failed_binds()) service->retry_failed_binds();
  }
  if (ticks_ % kFlushEveryTicks == 0) flush_hits();
  write_status();
  struct Probe {
    int64_t version = -1;
    int64_t generation = -1;
    bool files_changed = false;
  };
  auto probe = std::make_shared<Probe>();
  std::map<std::string, std::string> stamps;  // certificate files to watch
  std::map<std::string, tls::TlsConfig> configs;
  for (const auto& [name, state] : tls_) {
    stamps[name] = state.stamp;
    configs[name] = state.config;
  }
  std::weak_ptr<int> alive = alive_;
  storage::AccountStore& accounts = accounts_;
  storage::PolicyStore& policy = policy_;
  work_.submit(
      [probe, &accounts, &policy, stamps = std::move(stamps), configs = std::move(configs)] {
        auto v = accounts.data_version();
        if (v) probe->version = *v;
        auto g = policy.generation();
        if (g) probe->generation = *g;
        for (const auto& [name, stamp] : stamps) {
          if (tls_stamp(configs.at(name)) != stamp) probe->files_changed = true;
        }
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
      });
}

void Daemon::reload(const char* why) {
  if (stopping_) return;
  auto snap = std::make_shared<Result<Snapshot>>(make_error(ErrorCode::kInternal, "not loaded"));
  std::weak_ptr<int> alive = alive_;
  storage::AccountStore& accounts = accounts_;
  storage::PolicyStore& policy = policy_;
  std::string reason = why;
  work_.submit(
      [snap, &accounts, &policy, &modules = modules_, data_dir = data_dir_, known = tls_,
       generation = policy_generation_] { *snap = load(accounts, policy, modules, data_dir, known, generation); },
      [this, alive, snap, reason] {
        if (alive.expired() || stopping_) return;
        if (!*snap) {
          log::error("config.reload", {{"reason", reason}, {"error", snap->error().message}});
          return;
        }
        log::debug("config.reload", {{"reason", reason}});
        apply(snap->value());
      });
}

void Daemon::warn_if_too_few_descriptors() {
  int64_t sessions = 0;  // what the enabled services may hold at once
  std::string services;
  for (const auto& [name, applied] : applied_) {
    if (!applied.enabled) continue;
    sessions += applied.settings.get_int("max_connections");
    services += (services.empty() ? "" : ",") + name;
  }
  if (sessions == warned_sessions_) return;  // said already (or fine) for this total
  warned_sessions_ = sessions;
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY) return;
  // A session holds its socket, and a second descriptor while one of its messages is read; keep
  // some for listeners, the database, logs and maildir scans.
  const auto limit = static_cast<int64_t>(nofile.rlim_cur);
  if (2 * sessions + kReservedDescriptors <= limit) return;
  log::warn("limits.descriptors",
            {{"services", services},
             {"max_connections", std::to_string(sessions)},
             {"fd_limit", std::to_string(limit)},
             {"sessions_possible", std::to_string(std::max<int64_t>(0, (limit - kReservedDescriptors) / 2))},
             {"advice", "a session needs up to 2 descriptors (its socket, a message being read): raise the "
                        "limit (LimitNOFILE= in the systemd unit, ulimit -Hn) or lower max_connections"}});
}

void Daemon::apply(Snapshot& snapshot) {
  for (const auto& w : snapshot.warnings) log::warn("policy.invalid", {{"what", w}});
  if (snapshot.policy_generation) policy_generation_ = snapshot.policy_generation;
  std::map<std::string, bool> seen;
  for (const auto& record : snapshot.records) {
    seen[record.name] = true;
    core::ModuleInstance* module = find_module(record.module);
    if (module == nullptr) {
      log::error("config.unknown_module", {{"service", record.name}, {"module", record.module}});
      continue;
    }
    auto settings = config::ServiceSettings::build(*module->catalog, record.settings);
    if (!settings) {  // keep the running configuration; say exactly what is wrong
      log::error("config.invalid", {{"service", record.name}, {"error", settings.error().message}});
      continue;
    }
    std::shared_ptr<const tls::TlsContext> tls;
    if (auto it = snapshot.tls.find(record.name); it != snapshot.tls.end()) {
      const TlsState& state = it->second;
      auto old = tls_.find(record.name);
      bool changed = old == tls_.end() || old->second.stamp != state.stamp || !(old->second.config == state.config);
      if (changed) {
        if (!state.error.empty()) {
          log::error("tls.context_failed", {{"service", record.name},
                                            {"error", state.error},
                                            {"kept", state.context ? "previous certificate" : "none"}});
        } else if (state.context) {
          log::info("tls.context", {{"service", record.name}, {"certificate", state.context->summary()},
                                    {"min_version", state.config.min_version}});
        }
      }
      tls_[record.name] = state;
      tls = state.context;
    }
    core::BindPlan binds = snapshot.binds[record.name];
    core::Service& service = make_service(record.name, *module);
    if (auto p = snapshot.policies.find(record.name); p != snapshot.policies.end()) {
      service.set_policy(std::move(p->second));
      log::info("policy.applied", {{"service", record.name},
                                   {"rules", std::to_string(service.policy().rules(ipfilter::AccessList::kAllow).size() +
                                                            service.policy().rules(ipfilter::AccessList::kDeny).size() +
                                                            service.policy().rules(ipfilter::AccessList::kSafe).size())},
                                   {"blocks", std::to_string(service.policy().guard().block_count())}});
    }
    auto prev = applied_.find(record.name);
    if (prev != applied_.end() && prev->second.settings == *settings && prev->second.enabled == record.enabled &&
        prev->second.tls == tls && prev->second.binds == binds) {
      continue;
    }
    service.apply(std::make_shared<const config::ServiceSettings>(*settings), record.enabled, tls, binds);
    log::info("config.applied", {{"service", record.name}, {"enabled", record.enabled ? "yes" : "no"}});
    applied_[record.name] = Applied{std::move(settings).value(), record.enabled, tls, std::move(binds)};
  }
  for (auto it = services_.begin(); it != services_.end();) {
    if (!seen.count(it->first)) {
      log::info("service.removed", {{"service", it->first}});
      applied_.erase(it->first);
      tls_.erase(it->first);
      it = services_.erase(it);
    } else {
      ++it;
    }
  }
  warn_if_too_few_descriptors();
  write_status();  // `mailctl service status` shows the new state without waiting for a tick
}

core::Service& Daemon::make_service(const std::string& name, core::ModuleInstance& module) {
  auto& service = services_[name];
  if (!service) {
    service = std::make_unique<core::Service>(loop_, work_, name, *module.descriptor, *module.module);
    service->set_block_listener([this, name](const ipfilter::Block& block) { store_block(name, block); });
  }
  return *service;
}

// A block the service placed itself: stored so it survives a restart and mailctl sees it.
void Daemon::store_block(const std::string& service, const ipfilter::Block& block) {
  ClockPair clock;
  storage::BlockRecord rec;
  rec.service = service;
  rec.network = block.key_text();
  rec.cause = ipfilter::block_cause_name(block.cause);
  rec.reason = block.reason;
  rec.since = clock.to_unix(block.since);
  if (block.expires) rec.expires = clock.to_unix(*block.expires);
  rec.until_restart = !block.expires;  // the daemon's open-ended blocks end with it
  rec.hits = static_cast<int64_t>(block.hits);
  if (block.last_hit) rec.last_hit = clock.to_unix(*block.last_hit);
  auto status = std::make_shared<Status>();
  std::weak_ptr<int> alive = alive_;
  storage::PolicyStore& policy = policy_;
  work_.submit([&policy, rec, status] { *status = policy.put_block(rec, false); },
               [this, alive, status, service, block] {
                 if (alive.expired()) return;
                 if (!*status) {
                   log::error("policy.store_block", {{"service", service}, {"block", block.key_text()},
                                                     {"error", status->error().message}});
                 }
                 if (auto it = services_.find(service); it != services_.end()) it->second->block_saved(block);
               });
}

void Daemon::flush_hits() {
  if (flush_in_flight_) return;
  ClockPair clock;
  auto rules = std::make_shared<std::vector<storage::RuleHits>>();
  auto blocks = std::make_shared<std::vector<storage::BlockHits>>();
  std::map<std::string, uint64_t> rule_marks, block_marks;
  for (const auto& [name, service] : services_) {
    const auto& policy = service->policy();
    for (auto list : {ipfilter::AccessList::kAllow, ipfilter::AccessList::kDeny, ipfilter::AccessList::kSafe}) {
      for (const auto& r : policy.rules(list)) {
        if (r.hits == 0) continue;
        std::string key = name + "\t" + ipfilter::access_list_name(list) + "\t" + r.rule.canonical;
        auto it = flushed_rule_hits_.find(key);
        if (it != flushed_rule_hits_.end() && it->second == r.hits) continue;
        rule_marks[key] = r.hits;
        storage::RuleHits h{name, ipfilter::access_list_name(list), r.rule.canonical, static_cast<int64_t>(r.hits),
                            std::nullopt};
        if (r.last_hit) h.last_hit = clock.to_unix(*r.last_hit);
        rules->push_back(std::move(h));
      }
    }
    for (const auto& b : policy.guard().blocks(clock.steady)) {
      if (b.hits == 0) continue;
      std::string key = name + "\t" + b.key_text();
      auto it = flushed_block_hits_.find(key);
      if (it != flushed_block_hits_.end() && it->second == b.hits) continue;
      block_marks[key] = b.hits;
      storage::BlockHits h{name, b.key_text(), static_cast<int64_t>(b.hits), std::nullopt};
      if (b.last_hit) h.last_hit = clock.to_unix(*b.last_hit);
      blocks->push_back(std::move(h));
    }
  }
  if (rules->empty() && blocks->empty()) return;
  flush_in_flight_ = true;
  auto status = std::make_shared<Status>();
  std::weak_ptr<int> alive = alive_;
  storage::PolicyStore& policy = policy_;
  work_.submit([&policy, rules, blocks, status] { *status = policy.record_hits(*rules, *blocks); },
               [this, alive, status, rule_marks = std::move(rule_marks), block_marks = std::move(block_marks)] {
                 if (alive.expired()) return;
                 flush_in_flight_ = false;
                 if (!*status) {
                   log::warn("policy.flush_hits", {{"error", status->error().message}});
                   return;
                 }
                 for (const auto& [k, v] : rule_marks) flushed_rule_hits_[k] = v;
                 for (const auto& [k, v] : block_marks) flushed_block_hits_[k] = v;
               });
}

// DATA/run/status.json: what `mailctl service status` shows (listeners, failed binds, counters).
void Daemon::write_status() {
  if (status_in_flight_ || stopping_) return;
  nlohmann::ordered_json services = nlohmann::ordered_json::object();
  for (const auto& [name, service] : services_) {
    nlohmann::ordered_json listeners = nlohmann::ordered_json::array();
    for (const auto& b : service->bind_status()) {
      listeners.push_back({{"bind", b.spec.str()}, {"kind", b.tls ? "tls" : "plain"}, {"listening", b.listening},
                           {"superseded", b.superseded}, {"error", b.error}});
    }
    const auto& st = service->stats();
    const auto& counters = service->policy().counters();
    auto applied = applied_.find(name);
    nlohmann::ordered_json tls = nullptr;
    if (auto t = tls_.find(name); t != tls_.end()) {
      tls = {{"certificate", t->second.context ? t->second.context->summary() : ""}, {"error", t->second.error}};
    }
    services[name] = {{"module", service->descriptor().name},
                      {"enabled", applied != applied_.end() && applied->second.enabled},
                      {"connections", service->connection_count()},
                      {"listeners", std::move(listeners)},
                      {"tls", std::move(tls)},
                      {"counters",
                       {{"accepted", st.accepted},
                        {"denied", st.denied},
                        {"over_limit", st.over_limit},
                        {"over_ip_limit", st.over_ip_limit},
                        {"login_failures", st.login_failures},
                        {"blocks_placed", st.blocks_placed},
                        {"auto_denied", st.auto_denied},
                        {"policy_checks", counters.checks}}},
                      {"active_blocks", service->policy().guard().block_count()}};
  }
  nlohmann::ordered_json doc = {{"pid", static_cast<int64_t>(getpid())}, {"started_at", started_at_},
                                {"services", std::move(services)}};
  std::string body = doc.dump(2);
  if (body == last_status_ && ticks_ % kStatusEveryTicks != 0) return;
  last_status_ = body;
  doc["updated_at"] = static_cast<int64_t>(std::time(nullptr));
  status_in_flight_ = true;
  std::weak_ptr<int> alive = alive_;
  auto path = std::filesystem::path(data_dir_) / kStatusFile;
  work_.submit(
      [path, text = doc.dump(2) + "\n"] {
        std::error_code ec;
        std::filesystem::create_directories(path.parent_path(), ec);
        auto tmp = path;
        tmp += ".tmp";
        {
          std::ofstream out(tmp, std::ios::trunc);
          out << text;
          if (!out) return;
        }
        std::filesystem::rename(tmp, path, ec);
      },
      [this, alive] {
        if (!alive.expired()) status_in_flight_ = false;
      });
}

void Daemon::shutdown() {
  if (stopping_) return;
  flush_hits();  // best effort: queued before the loop ends
  stopping_ = true;
  std::error_code ec;
  std::filesystem::remove(std::filesystem::path(data_dir_) / kStatusFile, ec);
  poll_timer_.close();
  for (auto& [name, service] : services_) service->stop();
  services_.clear();
}

}  // namespace mailroom::daemon
