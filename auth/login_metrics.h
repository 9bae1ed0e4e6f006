// Logins counted for the metrics endpoint: mailroom_logins_total{service,mechanism,outcome}
// (docs/metrics.md). The mechanism is the login's own name in lower case (`user` for USER/PASS,
// `apop`, `plain`, `scram-sha-256`, ...: names the code chose, never client text); the outcome is
// the `result` of the login log line (ok, auth_failed, in_use, temporary_failure, login_delay,
// blocked, abandoned, gone).
#pragma once

#include <string>
#include <string_view>

#include "core/metrics/registry.h"

namespace mailroom::auth {

class LoginMetrics {
 public:
  explicit LoginMetrics(std::string service);
  void count(std::string_view mechanism, std::string_view outcome) const;

 private:
  std::string service_;
  metrics::CounterFamily& family_;
};

}  // namespace mailroom::auth
