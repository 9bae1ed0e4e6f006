// How mailctl shows a setting from its SettingSpec (service settings and daemon settings alike).
#pragma once

#include <string>

#include "core/config/setting_spec.h"

namespace mailroom::cli {

// "int, 1-65535", "bool, on|off", "string, at most 400 chars".
std::string type_text(const config::SettingSpec& spec);
// A value as `show` prints it: strings quoted, ints and bools bare.
std::string shown_value(const config::SettingSpec& spec, const std::string& value);

}  // namespace mailroom::cli
