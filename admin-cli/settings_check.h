// Settings checked against each other before `service set|unset|enable` stores them: the
// listeners a service would open must not collide with its own or another enabled service's, an
// implicit TLS listener needs a usable certificate, a bind address should be the machine's, and
// proxy_protocol needs someone in proxy_trusted.
// Pure: what needs the file system or the network interfaces is passed in.
// tests/unit/cli/settings_check_test.cpp.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/network_settings.h"

namespace mailroom::cli {

// A stored service as it would be after the change.
struct CheckedService {
  std::string name;
  bool enabled = true;
  config::NetworkSettings network;
};

struct SettingsCheckInput {
  CheckedService changed;               // the service being changed, with the new value
  std::vector<CheckedService> others;   // every other stored service
  // The setting being set or unset; "" when the service is being enabled.
  std::string key;
  // Why the changed service's certificate and key cannot be used (nullopt: they can). Asked only
  // when a TLS setting changed and the service has an implicit TLS listener.
  std::function<std::optional<std::string>()> certificate_problem;
  // Whether this machine has the numeric address (never asked for "*" or a host name).
  std::function<bool(std::string_view)> has_address;
};

struct SettingsCheck {
  std::vector<std::string> errors;    // refused: nothing is stored
  std::vector<std::string> warnings;  // stored, with a warning on stderr
};

SettingsCheck check_settings(const SettingsCheckInput& input);

}  // namespace mailroom::cli
