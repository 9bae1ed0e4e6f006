// The metric families the daemon adds to the process registry's when scraped: its own (up, start
// time, build info) and each running service's core::ServiceStats and current state, exported
// as they are kept (nothing is counted twice). Names and meanings: docs/metrics.md.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/metrics/exposition.h"
#include "daemon/reload.h"

namespace mailroom::daemon {

// `started_at`: the daemon's start (unix seconds); `version`: mailroomd's.
std::vector<metrics::Family> daemon_metric_families(const RunningServices& running, int64_t started_at,
                                                    std::string_view version);

}  // namespace mailroom::daemon
