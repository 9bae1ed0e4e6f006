// What SMTP and LMTP sessions count for the metrics endpoint (docs/metrics.md), per service:
// mailroom_deliveries_total{service,outcome} (one per message whose data arrived: delivered,
// partial (LMTP: some recipients' copies failed), failed (nothing stored) or refused (the data
// broke a limit: size, line length, bare line endings, Received: loop)) and
// mailroom_delivered_bytes_total{service} (the data octets of delivered messages, once per message).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/metrics/registry.h"

namespace mailroom::smtp {

class DeliveryMetrics {
 public:
  explicit DeliveryMetrics(std::string service);
  // `copies_failed` of `copies` recipient copies could not be stored.
  void committed(std::size_t copies, std::size_t copies_failed, uint64_t octets) const;
  void refused() const;

 private:
  void count(std::string_view outcome) const;
  std::string service_;
};

}  // namespace mailroom::smtp
