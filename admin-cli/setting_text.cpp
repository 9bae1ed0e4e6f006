// Setting display helpers shared by `service show` and `daemon show`.
#include "admin-cli/setting_text.h"

namespace mailroom::cli {

std::string type_text(const config::SettingSpec& spec) {
  std::string t = config::setting_type_name(spec.type);
  if (spec.type == config::SettingType::kInt) {
    t += ", " + std::to_string(spec.min) + "-" + std::to_string(spec.max);
  } else if (spec.type == config::SettingType::kBool) {
    t += ", on|off";
  } else {
    t += ", at most " + std::to_string(spec.max_length) + " chars";
  }
  return t;
}

std::string shown_value(const config::SettingSpec& spec, const std::string& value) {
  return spec.type == config::SettingType::kString ? "\"" + value + "\"" : value;
}

}  // namespace mailroom::cli
