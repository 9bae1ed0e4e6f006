// The pop3 module's settings: the core's network settings plus the protocol's own.
#pragma once

#include "core/config/setting_spec.h"

namespace mailroom::pop3 {

const config::SettingsCatalog& pop3_settings_catalog();

}  // namespace mailroom::pop3
