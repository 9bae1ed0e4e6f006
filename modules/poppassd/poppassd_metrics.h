// What poppassd counts for the metrics endpoint (docs/metrics.md), per service:
// mailroom_password_changes_total{outcome="changed|refused|failed"}. Old-password checks are
// logins: auth/login_metrics counts them (mechanism USER).
#pragma once

#include <string>

#include "core/metrics/registry.h"

namespace mailroom::poppassd {

struct PoppassdMetrics {
  explicit PoppassdMetrics(const std::string& service);  // the series of `service`, looked up once
  metrics::Counter& changed;
  metrics::Counter& refused;  // the password policy said no
  metrics::Counter& failed;   // the store failed
};

}  // namespace mailroom::poppassd
