// Daemon: services from the database, live reload (settings, certificates), shutdown.
#include "daemon/daemon.h"

#include "core/config/tls_settings.h"
#include "core/log/logger.h"

namespace mailroom::daemon {

namespace {
constexpr uint64_t kPollIntervalMs = 1000;

std::string tls_stamp(const tls::TlsConfig& c) {
  return tls::file_stamp(c.cert_file) + "|" + tls::file_stamp(c.key_file);
}
}  // namespace

Daemon::Daemon(core::EventLoop& loop, core::WorkQueue& work, storage::AccountStore& accounts,
               std::vector<std::unique_ptr<core::Module>> modules, std::string data_dir)
    : loop_(loop),
      work_(work),
      accounts_(accounts),
      modules_(std::move(modules)),
      data_dir_(std::move(data_dir)),
      poll_timer_(loop) {}

Daemon::~Daemon() { shutdown(); }

core::Module* Daemon::find_module(const std::string& name) {
  for (auto& m : modules_) {
    if (m->name() == name) return m.get();
  }
  return nullptr;
}

Result<Daemon::Snapshot> Daemon::load(storage::AccountStore& accounts,
                                      const std::vector<std::unique_ptr<core::Module>>& modules,
                                      const std::string& data_dir, std::map<std::string, TlsState> known) {
  auto records = accounts.list_services();
  if (!records) return records.error();
  Snapshot snap;
  for (const auto& record : *records) {
    const core::Module* module = nullptr;
    for (const auto& m : modules) {
      if (m->name() == record.module) module = m.get();
    }
    if (module == nullptr) continue;
    auto settings = config::ServiceSettings::build(module->settings_catalog(), record.settings);
    if (!settings) continue;  // reported by apply()
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
  return snap;
}

Status Daemon::start() {
  auto version = accounts_.data_version();
  if (version) data_version_ = *version;
  auto snap = load(accounts_, modules_, data_dir_, tls_);
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
  struct Probe {
    int64_t version = -1;
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
  work_.submit(
      [probe, &accounts, stamps = std::move(stamps), configs = std::move(configs)] {
        auto v = accounts.data_version();
        if (v) probe->version = *v;
        for (const auto& [name, stamp] : stamps) {
          if (tls_stamp(configs.at(name)) != stamp) probe->files_changed = true;
        }
      },
      [this, alive, probe] {
        if (alive.expired()) return;
        poll_in_flight_ = false;
        if (probe->version >= 0 && probe->version != data_version_) {
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
  std::string reason = why;
  work_.submit(
      [snap, &accounts, &modules = modules_, data_dir = data_dir_, known = tls_] {
        *snap = load(accounts, modules, data_dir, known);
      },
      [this, alive, snap, reason] {
        if (alive.expired() || stopping_) return;
        if (!*snap) {
          log::error("config.reload", {{"reason", reason}, {"error", snap->error().message}});
          return;
        }
        log::info("config.reload", {{"reason", reason}});
        apply(snap->value());
      });
}

void Daemon::apply(const Snapshot& snapshot) {
  std::map<std::string, bool> seen;
  for (const auto& record : snapshot.records) {
    seen[record.name] = true;
    core::Module* module = find_module(record.module);
    if (module == nullptr) {
      log::error("config.unknown_module", {{"service", record.name}, {"module", record.module}});
      continue;
    }
    auto settings = config::ServiceSettings::build(module->settings_catalog(), record.settings);
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
    auto prev = applied_.find(record.name);
    if (prev != applied_.end() && prev->second.settings == *settings && prev->second.enabled == record.enabled &&
        prev->second.tls == tls) {
      continue;
    }
    auto& service = services_[record.name];
    if (!service) service = std::make_unique<core::Service>(loop_, work_, record.name, *module);
    service->apply(std::make_shared<const config::ServiceSettings>(*settings), record.enabled, tls);
    log::info("config.applied", {{"service", record.name}, {"enabled", record.enabled ? "yes" : "no"}});
    applied_[record.name] = Applied{std::move(settings).value(), record.enabled, tls};
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
}

void Daemon::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  poll_timer_.close();
  for (auto& [name, service] : services_) service->stop();
  services_.clear();
}

}  // namespace mailroom::daemon
