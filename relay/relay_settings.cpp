// The relay's settings from the daemon-wide snapshot, and the backoff.
#include "relay/relay_settings.h"

#include <algorithm>

#include "core/net/bind_spec.h"

namespace mailroom::relay {

RelaySettings RelaySettings::from(const config::ServiceSettings& daemon_settings) {
  RelaySettings s;
  const std::string& smarthost = daemon_settings.get_string("smarthost");
  if (!smarthost.empty()) {
    auto binds = net::parse_bind_list(smarthost, 0);  // validated by check_smarthost()
    if (binds && binds->size() == 1) {
      s.host = binds->front().address;
      s.port = binds->front().port;
    }
  }
  s.starttls = daemon_settings.get_string("smarthost_tls") != "none";
  s.tls_verify = daemon_settings.get_bool("smarthost_tls_verify");
  s.ca_file = daemon_settings.get_string("smarthost_ca_file");
  s.user = daemon_settings.get_string("smarthost_user");
  s.password = daemon_settings.get_string("smarthost_password");
  s.queue_lifetime = daemon_settings.get_int("queue_lifetime");
  s.retry_min = daemon_settings.get_int("queue_retry_min");
  s.retry_max = std::max(daemon_settings.get_int("queue_retry_max"), s.retry_min);
  s.timeout_seconds = daemon_settings.get_int("relay_timeout");
  return s;
}

int64_t retry_delay(const RelaySettings& settings, uint32_t attempts) {
  int64_t delay = settings.retry_min;
  for (uint32_t i = 1; i < attempts && delay < settings.retry_max; ++i) delay *= 2;
  return std::min(delay, settings.retry_max);
}

}  // namespace mailroom::relay
