// The logging settings every service has (composed into each module's catalog beside the
// network and TLS settings): where its events go, from which level, in which format (each ""
// = the daemon-wide value, see daemon_settings.h) and whether its sessions are transcribed.
#pragma once

#include <vector>

#include "core/config/setting_spec.h"

namespace mailroom::config {

std::vector<SettingSpec> service_log_setting_specs();

}  // namespace mailroom::config
