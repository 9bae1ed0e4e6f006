// ControlActions: the daemon's answers to control requests.
#include "daemon/control_actions.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "core/base/time_text.h"
#include "core/ipfilter/ip_address.h"
#include "core/log/logger.h"
#include "storage/address.h"

namespace mailroom::daemon {

namespace {

const char* action_name(ServiceAction action) {
  switch (action) {
    case ServiceAction::kStart: return "service-start";
    case ServiceAction::kStop: return "service-stop";
    case ServiceAction::kRestart: return "service-restart";
  }
  return "service";
}

// "127.0.0.1:5310", "[::1]:5310", or "local" for a unix socket client.
std::string peer_text(const core::SessionSummary& s) {
  if (s.ip == core::Connection::kUnixPeer) return s.ip;
  const bool v6 = s.ip.find(':') != std::string::npos;
  return (v6 ? "[" + s.ip + "]" : s.ip) + ":" + std::to_string(s.port);
}

Json session_report(const std::string& service, const core::SessionSummary& s, int64_t now) {
  const int64_t connected = std::chrono::system_clock::to_time_t(s.connected_at);
  auto text_or_null = [](const std::string& text) { return text.empty() ? Json(nullptr) : Json(text); };
  return {{"id", s.id},
          {"service", service},
          {"ip", s.ip},
          {"peer", peer_text(s)},
          {"address", text_or_null(s.info.mailbox)},
          {"state", s.info.state},
          {"tls", text_or_null(s.tls)},
          {"connected_at", rfc3339_utc(connected)},
          {"age_seconds", std::max<int64_t>(0, now - connected)},
          {"received_bytes", s.bytes_in},
          {"sent_bytes", s.bytes_out},
          {"loop", s.loop}};
}

// The service's listeners, or an error naming every bind that failed.
Result<Json> listening_report(const std::string& name, const core::Service& service) {
  Json listeners = Json::array();
  std::string failed;
  int failures = 0;
  for (const auto& b : service.bind_status()) {
    listeners.push_back(bind_report(b));
    if (b.listening) continue;
    ++failures;
    // Most errors name the bind already ("bind 127.0.0.1:110 failed: ...").
    const bool named = b.error.find(b.spec.str()) != std::string::npos;
    failed += (failed.empty() ? "" : "; ") + (named ? b.error : b.spec.str() + ": " + b.error);
  }
  if (failures > 0) {
    return make_error(ErrorCode::kIo, "service " + name + " is started, but " + std::to_string(failures) +
                                          (failures == 1 ? " bind" : " binds") + " failed: " + failed);
  }
  return Json{{"service", name}, {"enabled", true}, {"listeners", std::move(listeners)}};
}

}  // namespace

ControlActions::ControlActions(core::WorkQueue& work, storage::AccountStore& accounts, RunningServices& running,
                               const DaemonInfo& info, Reload reload)
    : work_(work), accounts_(accounts), running_(running), info_(info), reload_(std::move(reload)) {}

Json ControlActions::status() {
  Json report = status_report(info_, running_);
  report["uptime_seconds"] = std::max<int64_t>(0, static_cast<int64_t>(std::time(nullptr)) - info_.started_at);
  return report;
}

Result<Json> ControlActions::sessions(const std::string& service) {
  if (!service.empty() && running_.find(service) == nullptr) {
    return make_error(ErrorCode::kNotFound, "the running daemon has no service '" + service + "'");
  }
  const auto now = static_cast<int64_t>(std::time(nullptr));
  Json list = Json::array();
  std::vector<std::pair<core::ConnectionId, Json>> rows;
  for (const auto& [name, running] : running_.services()) {
    if (!service.empty() && name != service) continue;
    for (const auto& s : running->sessions()) rows.emplace_back(s.id, session_report(name, s, now));
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [id, row] : rows) list.push_back(std::move(row));
  return Json{{"sessions", std::move(list)}};
}

Result<Json> ControlActions::kill(const KillTarget& target) {
  std::function<bool(const core::Connection&)> pick;
  std::string what;
  if (target.id) {
    pick = [id = *target.id](const core::Connection& c) { return c.id() == id; };
    what = "with id " + std::to_string(*target.id);
  } else if (!target.address.empty()) {
    auto address = storage::parse_address(target.address);
    if (!address) return address.error();
    pick = [mailbox = address->str()](const core::Connection& c) {
      return c.session() != nullptr && c.session()->describe().mailbox == mailbox;
    };
    what = "of mailbox " + address->str();
  } else {
    auto ip = ipfilter::IpAddress::parse(target.ip);
    if (!ip) return make_error(ErrorCode::kInvalidArgument, "not an IP address: '" + target.ip + "'");
    pick = [ip = *ip](const core::Connection& c) {
      auto peer = ipfilter::IpAddress::parse(c.peer_ip());
      return peer && *peer == ip;
    };
    what = "from " + target.ip;
  }
  Json ids = Json::array();
  for (const auto& [name, service] : running_.services()) {
    for (core::ConnectionId id : service->end_sessions(pick)) ids.push_back(id);
  }
  if (ids.empty()) return make_error(ErrorCode::kNotFound, "no session " + what);
  const std::size_t count = ids.size();
  return Json{{"ids", std::move(ids)}, {"sessions_ended", count}};
}

void ControlActions::service(ServiceAction action, const std::string& name, ControlDone done) {
  std::weak_ptr<int> alive = alive_;
  auto reload_then_finish = [this, alive, action, name, done]() mutable {
    reload_(action_name(action), [this, alive, action, name, done](const Status& reloaded) {
      if (alive.expired()) return;
      done(reloaded ? finish(action, name) : Result<Json>(reloaded.error()));
    });
  };
  if (action == ServiceAction::kRestart) {
    reload_then_finish();
    return;
  }
  const bool enabled = action == ServiceAction::kStart;
  auto stored = std::make_shared<Status>();
  storage::AccountStore& accounts = accounts_;
  work_.submit([stored, &accounts, name, enabled] { *stored = accounts.set_service_enabled(name, enabled); },
               [alive, stored, done, reload_then_finish]() mutable {
                 if (alive.expired()) return;
                 if (!*stored) {
                   done(stored->error());
                   return;
                 }
                 reload_then_finish();
               });
}

Result<Json> ControlActions::finish(ServiceAction action, const std::string& name) {
  core::Service* service = running_.find(name);
  auto applied = running_.applied().find(name);
  if (service == nullptr || applied == running_.applied().end()) {
    return make_error(ErrorCode::kNotFound, "the running daemon has no service '" + name +
                                                "' (an unknown module or invalid settings: see the daemon log)");
  }
  const bool enabled = applied->second.enabled;
  switch (action) {
    case ServiceAction::kStop: {
      if (enabled) {
        return make_error(ErrorCode::kInternal, "service " + name + " is stored as stopped, but the daemon could "
                                                "not apply it (see the daemon log)");
      }
      const auto ended = service->end_sessions([](const core::Connection&) { return true; });
      log::info("control.service_stopped", {{"service", name}, {"sessions_ended", std::to_string(ended.size())}});
      return Json{{"service", name}, {"enabled", false}, {"sessions_ended", ended.size()}};
    }
    case ServiceAction::kStart:
      if (!enabled) {
        return make_error(ErrorCode::kInternal, "service " + name + " is stored as started, but the daemon could "
                                                "not apply it (invalid settings? see the daemon log)");
      }
      return listening_report(name, *service);
    case ServiceAction::kRestart: {
      if (!enabled) {
        return make_error(ErrorCode::kInvalidArgument, "service " + name + " is stopped (start it with 'mailctl "
                                                       "service start " + name + "')");
      }
      const std::size_t ended = service->restart().size();
      auto report = listening_report(name, *service);
      if (report) (*report)["sessions_ended"] = ended;
      return report;
    }
  }
  return make_error(ErrorCode::kInternal, "unknown service action");
}

void ControlActions::reload(ControlDone done) {
  std::weak_ptr<int> alive = alive_;
  reload_("control", [alive, done](const Status& reloaded) {
    if (alive.expired()) return;
    done(reloaded ? Result<Json>(Json::object()) : Result<Json>(reloaded.error()));
  });
}

}  // namespace mailroom::daemon
