// The poppassd module's own settings (banner, allow_password_change, max_bad_commands) and its
// whole catalog (the core's network and TLS settings with poppassd's defaults, then its own).
#pragma once

#include <vector>

#include "core/config/setting_spec.h"

namespace mailroom::poppassd {

std::vector<config::SettingSpec> poppassd_setting_specs();
const config::SettingsCatalog& poppassd_settings_catalog();

}  // namespace mailroom::poppassd
