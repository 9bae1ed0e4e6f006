// What POP3 sessions count for the metrics endpoint (docs/metrics.md), per service:
// mailroom_messages_retrieved_total (RETRs served whole) and mailroom_messages_deleted_total
// (messages removed by a committed UPDATE).
#pragma once

#include <string>

#include "core/metrics/registry.h"

namespace mailroom::pop3 {

struct Pop3Metrics {
  // The series of `service`, looked up once (per session).
  explicit Pop3Metrics(const std::string& service);
  metrics::Counter& retrieved;
  metrics::Counter& deleted;
};

}  // namespace mailroom::pop3
