// Daemon: services from the database, live reload, shutdown.
#include "daemon/daemon.h"

#include "core/log/logger.h"

namespace mailroom::daemon {

namespace {
constexpr uint64_t kPollIntervalMs = 1000;
}

Daemon::Daemon(core::EventLoop& loop, core::WorkQueue& work, storage::AccountStore& accounts,
               std::vector<std::unique_ptr<core::Module>> modules)
    : loop_(loop), work_(work), accounts_(accounts), modules_(std::move(modules)), poll_timer_(loop) {}

Daemon::~Daemon() { shutdown(); }

core::Module* Daemon::find_module(const std::string& name) {
  for (auto& m : modules_) {
    if (m->name() == name) return m.get();
  }
  return nullptr;
}

Status Daemon::start() {
  auto version = accounts_.data_version();
  if (version) data_version_ = *version;
  auto records = accounts_.list_services();
  if (!records) return records.error();
  if (records->empty()) {
    return make_error(ErrorCode::kNotFound, "no services are configured (run 'mailctl init')");
  }
  apply(*records);
  poll_timer_.start(kPollIntervalMs, kPollIntervalMs, [this] { poll(); });
  return {};
}

void Daemon::poll() {
  if (poll_in_flight_ || stopping_) return;
  poll_in_flight_ = true;
  auto version = std::make_shared<int64_t>(-1);
  std::weak_ptr<int> alive = alive_;
  storage::AccountStore& accounts = accounts_;
  work_.submit(
      [version, &accounts] {
        auto v = accounts.data_version();
        if (v) *version = *v;
      },
      [this, alive, version] {
        if (alive.expired()) return;
        poll_in_flight_ = false;
        if (*version >= 0 && *version != data_version_) {
          data_version_ = *version;
          reload("database changed");
        }
      });
}

void Daemon::reload(const char* why) {
  if (stopping_) return;
  auto records = std::make_shared<Result<std::vector<storage::ServiceRecord>>>(
      make_error(ErrorCode::kInternal, "not loaded"));
  std::weak_ptr<int> alive = alive_;
  storage::AccountStore& accounts = accounts_;
  std::string reason = why;
  work_.submit([records, &accounts] { *records = accounts.list_services(); },
               [this, alive, records, reason] {
                 if (alive.expired() || stopping_) return;
                 if (!*records) {
                   log::error("config.reload", {{"reason", reason}, {"error", records->error().message}});
                   return;
                 }
                 log::debug("config.reload", {{"reason", reason}});
                 apply(records->value());
               });
}

void Daemon::apply(const std::vector<storage::ServiceRecord>& records) {
  std::map<std::string, bool> seen;
  for (const auto& record : records) {
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
    auto prev = applied_.find(record.name);
    if (prev != applied_.end() && prev->second.first == *settings && prev->second.second == record.enabled) {
      continue;
    }
    auto& service = services_[record.name];
    if (!service) service = std::make_unique<core::Service>(loop_, work_, record.name, *module);
    service->apply(std::make_shared<const config::ServiceSettings>(*settings), record.enabled);
    log::info("config.applied", {{"service", record.name}, {"enabled", record.enabled ? "yes" : "no"}});
    applied_[record.name] = {std::move(settings).value(), record.enabled};
  }
  for (auto it = services_.begin(); it != services_.end();) {
    if (!seen.count(it->first)) {
      log::info("service.removed", {{"service", it->first}});
      applied_.erase(it->first);
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
