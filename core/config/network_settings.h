// Settings every network service has, handled by the core (listeners, connections, limits).
#pragma once

#include <cstdint>
#include <vector>

#include "core/config/setting_spec.h"
#include "core/ipfilter/access_policy.h"
#include "core/ipfilter/hammer_guard.h"

namespace mailroom::config {

// port, binds, alt_port, limits, timeouts, the IP policy and anti-hammering settings.
std::vector<SettingSpec> network_setting_specs(int64_t default_port);

// The anti-hammering part of a service's settings (max_login_failures, failure_window, ...).
ipfilter::HammerSettings hammer_settings_from(const ServiceSettings& settings);
// access_mode (validated on write; an unreadable value means the default, deny).
ipfilter::AccessMode access_mode_from(const ServiceSettings& settings);

}  // namespace mailroom::config
