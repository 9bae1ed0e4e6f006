// The delivery families and their series.
#include "modules/smtp-stub/delivery_metrics.h"

namespace mailroom::smtp {

namespace {
metrics::CounterFamily& deliveries_family() {
  static metrics::CounterFamily& f = metrics::process_registry().counter(
      "mailroom_deliveries", "Messages received by SMTP/LMTP by outcome.", {"service", "outcome"});
  return f;
}
metrics::CounterFamily& delivered_bytes_family() {
  static metrics::CounterFamily& f = metrics::process_registry().counter(
      "mailroom_delivered_bytes", "Data octets of the messages delivered (once per message).", {"service"});
  return f;
}
}  // namespace

DeliveryMetrics::DeliveryMetrics(std::string service) : service_(std::move(service)) {}

void DeliveryMetrics::count(std::string_view outcome) const { deliveries_family().with({service_, outcome}).inc(); }

void DeliveryMetrics::committed(std::size_t copies, std::size_t copies_failed, uint64_t octets) const {
  if (copies == 0 || copies_failed == copies) {
    count("failed");
    return;
  }
  count(copies_failed == 0 ? "delivered" : "partial");
  delivered_bytes_family().with({service_}).inc(octets);
}

void DeliveryMetrics::refused() const { count("refused"); }

}  // namespace mailroom::smtp
