// Reload: stored services read off the loop, then applied (settings, TLS contexts, binds, policy).
#include "daemon/reload.h"

#include <sys/resource.h>

#include <algorithm>
#include <ctime>

#include "core/config/daemon_settings.h"
#include "core/config/network_settings.h"
#include "core/config/tls_settings.h"
#include "core/log/logger.h"
#include "core/tls/certificate.h"
#include "daemon/policy_sync.h"
#include "storage/node/node_settings_file.h"

namespace mailroom::daemon {

std::string node_settings_stamp(const std::string& data_dir) {
  return tls::file_stamp(storage::node_settings_path(data_dir));
}

std::string tls_stamp(const tls::TlsConfig& config) {
  return tls::file_stamp(config.cert_file) + "|" + tls::file_stamp(config.key_file);
}

Result<Snapshot> load_snapshot(storage::AccountStore& accounts, storage::PolicyStore& policy, const Modules& modules,
                               const std::string& data_dir, std::map<std::string, TlsState> known,
                               std::optional<int64_t> known_generation) {
  // The generation first: a change landing while we read is seen again at the next poll.
  auto generation = policy.generation();
  if (!generation) return generation.error();
  auto records = accounts.list_services();
  if (!records) return records.error();
  // A damaged node file fails the reload (the running listeners are kept) rather than moving this
  // node's listeners to the cluster's values.
  auto node = storage::read_node_settings(data_dir);
  if (!node) return node.error();
  Snapshot snap;
  bool read_policy = !known_generation || *known_generation != *generation;
  ClockPair clock;
  for (const auto& [service, keys] : node->services) {
    bool known = false;
    for (const auto& record : *records) known = known || record.name == service;
    if (!known) snap.node_warnings.push_back("node.json: no service is named '" + service + "' (its settings are unused)");
  }
  for (auto& record : *records) {
    const core::ModuleInstance* module = nullptr;
    for (const auto& m : modules) {
      if (m.descriptor->name == record.module) module = &m;
    }
    if (module == nullptr) continue;
    if (auto local = node->services.find(record.name); local != node->services.end()) {
      record.settings = storage::merge_node_settings(*module->catalog, record.name, record.settings, local->second,
                                                     snap.node_warnings);
    }
    auto settings = config::ServiceSettings::build(*module->catalog, record.settings);
    if (!settings) continue;  // reported by apply()
    snap.binds[record.name] = core::plan_binds(config::network_settings_from(*settings), data_dir);
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
  auto stored_daemon = accounts.daemon_settings();
  if (!stored_daemon) return stored_daemon.error();
  auto daemon_settings = config::ServiceSettings::build(config::daemon_settings_catalog(), *stored_daemon);
  if (daemon_settings) {
    snap.daemon_settings = std::make_shared<const config::ServiceSettings>(std::move(daemon_settings).value());
  } else {
    snap.warnings.push_back("daemon settings: " + daemon_settings.error().message);
  }
  if (read_policy) snap.policy_generation = *generation;
  return snap;
}

core::Service* RunningServices::find(const std::string& name) const {
  auto it = services_.find(name);
  return it == services_.end() ? nullptr : it->second.get();
}

const core::ModuleInstance* RunningServices::find_module(const std::string& name) const {
  for (const auto& m : modules_) {
    if (m.descriptor->name == name) return &m;
  }
  return nullptr;
}

void RunningServices::warn_if_too_few_descriptors() {
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

std::optional<RunningServices::CertificateExpiry> RunningServices::certificate_expiry(const std::string& name,
                                                                                     int64_t now) const {
  auto state = tls_.find(name);
  auto applied = applied_.find(name);
  if (state == tls_.end() || !state->second.context || applied == applied_.end()) return std::nullopt;
  const int64_t not_after = state->second.context->not_after();
  return CertificateExpiry{not_after, tls::days_left(not_after, now),
                           tls::expiry_warning(not_after, now, applied->second.settings.get_int("cert_warn_days"))};
}

void RunningServices::warn_expiring_certificates(int64_t now) {
  constexpr int64_t kWarnEverySeconds = 24 * 3600;
  for (const auto& [name, state] : tls_) {
    auto applied = applied_.find(name);
    auto expiry = certificate_expiry(name, now);
    if (!expiry || !expiry->warning || applied == applied_.end() || !applied->second.enabled) {
      expiry_warned_.erase(name);
      continue;
    }
    ExpiryWarned& last = expiry_warned_[name];
    if (last.context == state.context && now - last.at < kWarnEverySeconds) continue;
    last = ExpiryWarned{state.context, now};
    log::warn("tls.cert_expiring", {{"service", name},
                                    {"not_after", rfc3339_utc(expiry->not_after)},
                                    {"days_left", std::to_string(expiry->days_left)},
                                    {"certificate", state.context->summary()},
                                    {"warning", *expiry->warning}});
  }
}

void RunningServices::apply(Snapshot& snapshot) {
  for (const auto& w : snapshot.warnings) log::warn("policy.invalid", {{"what", w}});
  for (const auto& w : snapshot.node_warnings) log::warn("config.node_setting", {{"what", w}});
  std::map<std::string, bool> seen;
  for (const auto& record : snapshot.records) {
    seen[record.name] = true;
    const core::ModuleInstance* module = find_module(record.module);
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
      const auto [rules, blocks] = service.with_policy([](const ipfilter::AccessPolicy& policy) {
        return std::pair(policy.rules(ipfilter::AccessList::kAllow).size() + policy.rules(ipfilter::AccessList::kDeny).size() +
                             policy.rules(ipfilter::AccessList::kSafe).size(),
                         policy.guard().block_count());
      });
      log::info("policy.applied", {{"service", record.name}, {"rules", std::to_string(rules)}, {"blocks", std::to_string(blocks)}});
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
      expiry_warned_.erase(it->first);
      it = services_.erase(it);
    } else {
      ++it;
    }
  }
  warn_if_too_few_descriptors();
  warn_expiring_certificates(static_cast<int64_t>(std::time(nullptr)));
}

core::Service& RunningServices::make_service(const std::string& name, const core::ModuleInstance& module) {
  auto& service = services_[name];
  if (!service) {
    service = std::make_unique<core::Service>(loops_, name, *module.descriptor, *module.module);
    service->set_block_listener([this, name](const ipfilter::Block& block) { on_block_(name, block); });
  }
  return *service;
}

void RunningServices::stop_all() {
  for (auto& [name, service] : services_) service->stop();
  services_.clear();
}

}  // namespace mailroom::daemon
