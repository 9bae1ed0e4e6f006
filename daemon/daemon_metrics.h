// The metric families the daemon adds to the process registry's when scraped: its own (up, start
// time, build info) and each running service's core::ServiceStats and current state, exported
// as they are kept (nothing is counted twice). Names and meanings: docs/metrics.md.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/metrics/exposition.h"
#include "daemon/reload.h"
#include "daemon/status_report.h"

namespace mailroom::daemon {

// `info`: the daemon's start (unix seconds) and its database's change feed and session leases
// (their families only where they exist: PostgreSQL); `version`: mailroomd's.
std::vector<metrics::Family> daemon_metric_families(const RunningServices& running, const DaemonInfo& info,
                                                    std::string_view version);

}  // namespace mailroom::daemon
