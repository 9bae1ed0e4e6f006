// Settings every network service has, handled by the core (listeners, connections, limits).
#pragma once

#include <cstdint>
#include <vector>

#include "core/config/setting_spec.h"

namespace mailroom::config {

// port, binds, idle_timeout, max_command_length, max_connections, output_buffer_size.
std::vector<SettingSpec> network_setting_specs(int64_t default_port);

}  // namespace mailroom::config
