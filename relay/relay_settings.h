// RelaySettings: the daemon-wide settings the relay uses (smarthost, TLS, credentials, queue
// timing), typed, taken from the daemon's settings snapshot at each reload.
#pragma once

#include <cstdint>
#include <string>

#include "core/config/setting_spec.h"

namespace mailroom::relay {

struct RelaySettings {
  std::string host;  // the smarthost's host (a name or an IP address, no brackets); empty = none
  int port = 0;
  bool starttls = true;  // smarthost_tls starttls (required) or none
  bool tls_verify = true;
  std::string ca_file;
  std::string user;
  std::string password;
  int64_t queue_lifetime = 432000;
  int64_t retry_min = 60;
  int64_t retry_max = 3600;
  int64_t timeout_seconds = 120;

  bool has_smarthost() const { return !host.empty(); }
  bool operator==(const RelaySettings&) const = default;

  // From the daemon-wide settings (config::daemon_settings_catalog(), already validated).
  static RelaySettings from(const config::ServiceSettings& daemon_settings);
};

// Seconds to wait after the `attempts`-th failed attempt: retry_min doubled per earlier attempt,
// at most retry_max.
int64_t retry_delay(const RelaySettings& settings, uint32_t attempts);

}  // namespace mailroom::relay
