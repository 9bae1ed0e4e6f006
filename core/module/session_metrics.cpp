// The session metrics' families and their series of one service.
#include "core/module/session_metrics.h"

namespace mailroom::core {

namespace {
struct Families {
  metrics::CounterFamily& received;
  metrics::CounterFamily& sent;
  metrics::HistogramFamily& duration;
};

const Families& families() {
  static const Families f{
      metrics::process_registry().counter("mailroom_bytes_received",
                                          "Octets read from clients' connections (TLS records included), "
                                          "counted when the connection closes.",
                                          {"service"}),
      metrics::process_registry().counter("mailroom_bytes_sent",
                                          "Octets written to clients' connections (TLS records included), "
                                          "counted when the connection closes.",
                                          {"service"}),
      metrics::process_registry().histogram(
          "mailroom_session_duration_seconds", "Length of the sessions that ended, from accept to close.",
          {"service"}, {0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600})};
  return f;
}
}  // namespace

SessionMetrics::SessionMetrics(const std::string& service)
    : received_(families().received.with({service})),
      sent_(families().sent.with({service})),
      duration_(families().duration.with({service})) {}

void SessionMetrics::session_ended(const Connection& connection, std::chrono::steady_clock::duration length) {
  received_.inc(connection.bytes_in());
  sent_.inc(connection.bytes_out());
  duration_.observe(std::chrono::duration<double>(length).count());
}

}  // namespace mailroom::core
