// The daemon's state as one JSON document: the control socket's `status` reply and
// DATA/run/status.json are both built here (docs/control.md lists the fields).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/module/service.h"
#include "daemon/metrics_endpoint.h"
#include "daemon/reload.h"
#include "storage/lease/lease_keeper.h"

namespace mailroom::daemon {

// The database the daemon runs on and the cluster parts it has there (set at start-up; read live).
struct DatabaseState {
  bool postgresql = false;                  // else SQLite
  std::function<bool()> feed_listening;     // the change feed's state; empty: no feed (SQLite)
  std::shared_ptr<const storage::LeaseKeeper> leases;  // null: no session leases (SQLite)
};

// Who the daemon is (set at start-up) and the state of what it runs besides the services.
struct DaemonInfo {
  std::string user;        // the user it runs as
  int64_t started_at = 0;  // unix seconds
  MetricsEndpoint::State metrics;  // bind empty: metrics_listen is off
  DatabaseState database;
};

// {"kind": "sqlite"|"postgresql", "change_feed": null or {"listening"}, "leases": null or
// {"node", "ttl_seconds", "held", "renewal_failures", "last_renewed_at" (RFC 3339 or null)}}.
nlohmann::ordered_json database_report(const DatabaseState& database);

// {"pid", "version", "user", "started_at", "services": {NAME: {"module", "enabled",
// "connections", "listeners", "tls", "counters", "active_blocks"}}, "metrics": null or
// {"bind", "listening", "error"}, "database": database_report()}. Nothing in it moves with
// the clock: the caller adds "uptime_seconds" or "updated_at".
nlohmann::ordered_json status_report(const DaemonInfo& info, const RunningServices& running);

// One bind result: {"bind", "kind", "listening", "superseded", "error"}.
nlohmann::ordered_json bind_report(const core::BindStatus& bind);

}  // namespace mailroom::daemon
