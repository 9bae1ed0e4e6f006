// What a Service counts of each session as it ends, for the metrics endpoint (docs/metrics.md):
// octets received and sent (mailroom_bytes_received_total, mailroom_bytes_sent_total) and the
// session's length (mailroom_session_duration_seconds), with the service's name as the label.
#pragma once

#include <chrono>
#include <string>

#include "core/metrics/registry.h"
#include "core/net/connection.h"

namespace mailroom::core {

class SessionMetrics {
 public:
  // The series of `service` in the process registry, looked up once.
  explicit SessionMetrics(const std::string& service);
  void session_ended(const Connection& connection, std::chrono::steady_clock::duration length);

 private:
  metrics::Counter& received_;
  metrics::Counter& sent_;
  metrics::Histogram& duration_;
};

}  // namespace mailroom::core
