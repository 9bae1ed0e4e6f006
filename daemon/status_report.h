// The daemon's state as one JSON document: the control socket's `status` reply and
// DATA/run/status.json are both built here (docs/control.md lists the fields).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/module/service.h"
#include "daemon/metrics_endpoint.h"
#include "daemon/reload.h"

namespace mailroom::daemon {

// Who the daemon is (set at start-up) and the state of what it runs besides the services.
struct DaemonInfo {
  std::string user;        // the user it runs as
  int64_t started_at = 0;  // unix seconds
  MetricsEndpoint::State metrics;  // bind empty: metrics_listen is off
};

// {"pid", "version", "user", "started_at", "services": {NAME: {"module", "enabled",
// "connections", "listeners", "tls", "counters", "active_blocks"}}, "metrics": null or
// {"bind", "listening", "error"}}. Nothing in it moves with
// the clock: the caller adds "uptime_seconds" or "updated_at".
nlohmann::ordered_json status_report(const DaemonInfo& info, const RunningServices& running);

// One bind result: {"bind", "kind", "listening", "superseded", "error"}.
nlohmann::ordered_json bind_report(const core::BindStatus& bind);

}  // namespace mailroom::daemon
