// Validation and typed access for declared settings.
#include "core/config/setting_spec.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace mailroom::config {

const char* setting_type_name(SettingType type) {
  switch (type) {
    case SettingType::kInt: return "int";
    case SettingType::kBool: return "bool";
    case SettingType::kString: return "string";
  }
  return "string";
}

SettingSpec int_setting(std::string key, int64_t default_value, int64_t min, int64_t max, std::string doc) {
  SettingSpec s;
  s.key = std::move(key);
  s.type = SettingType::kInt;
  s.default_value = std::to_string(default_value);
  s.min = min;
  s.max = max;
  s.doc = std::move(doc);
  return s;
}

SettingSpec bool_setting(std::string key, bool default_value, std::string doc) {
  SettingSpec s;
  s.key = std::move(key);
  s.type = SettingType::kBool;
  s.default_value = default_value ? "on" : "off";
  s.doc = std::move(doc);
  return s;
}

SettingSpec string_setting(std::string key, std::string default_value, std::size_t max_length, std::string doc,
                           std::function<std::optional<std::string>(std::string_view)> validate) {
  SettingSpec s;
  s.key = std::move(key);
  s.type = SettingType::kString;
  s.default_value = std::move(default_value);
  s.max_length = max_length;
  s.doc = std::move(doc);
  s.validate = std::move(validate);
  return s;
}

Result<std::string> normalize_setting(const SettingSpec& spec, std::string_view value) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument,
                      (spec.secret ? std::string("invalid value") : "invalid value '" + std::string(value) + "'") +
                          " for " + spec.key + ": " + why);
  };
  std::string canonical;
  switch (spec.type) {
    case SettingType::kBool: {
      if (value == "on" || value == "true" || value == "yes" || value == "1") {
        canonical = "on";
      } else if (value == "off" || value == "false" || value == "no" || value == "0") {
        canonical = "off";
      } else {
        return bad("expected on or off");
      }
      break;
    }
    case SettingType::kInt: {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
        return bad("expected a whole number from " + std::to_string(spec.min) + " to " +
                   std::to_string(spec.max));
      }
      if (n < spec.min || n > spec.max) {
        return bad("must be from " + std::to_string(spec.min) + " to " + std::to_string(spec.max));
      }
      canonical = std::to_string(n);
      break;
    }
    case SettingType::kString: {
      if (value.size() > spec.max_length) {
        // A near miss of a word list ("warning" for log_level, "never!" for expire_days) is answered
        // by the setting's own check naming the valid values; anything longer only by its length,
        // as the value itself may be huge.
        constexpr std::size_t kNearMissLength = 64;
        const bool printable = std::none_of(value.begin(), value.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
        if (spec.validate && !spec.secret && printable && value.size() <= kNearMissLength) {
          if (auto why = spec.validate(value)) return bad(*why);
        }
        return make_error(ErrorCode::kInvalidArgument, "invalid value for " + spec.key + ": " +
                                                           std::to_string(value.size()) + " characters, longer than " +
                                                           std::to_string(spec.max_length) + " characters (the limit)");
      }
      for (unsigned char c : value) {
        if (c < 0x20 || c == 0x7f) return bad("control characters are not allowed");
      }
      canonical = std::string(value);
      break;
    }
  }
  if (spec.validate) {
    if (auto why = spec.validate(canonical)) return bad(*why);
  }
  return canonical;
}

const SettingSpec* SettingsCatalog::find(std::string_view key) const {
  for (const auto& s : specs_) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

Result<ServiceSettings> ServiceSettings::build(const SettingsCatalog& catalog,
                                               const std::map<std::string, std::string>& stored) {
  ServiceSettings out;
  for (const auto& spec : catalog.all()) out.values_[spec.key] = spec.default_value;
  for (const auto& [key, value] : stored) {
    const SettingSpec* spec = catalog.find(key);
    if (spec == nullptr) return make_error(ErrorCode::kInvalidArgument, "unknown setting '" + key + "'");
    auto norm = normalize_setting(*spec, value);
    if (!norm) return norm.error();
    out.values_[key] = std::move(norm).value();
  }
  return out;
}

int64_t ServiceSettings::get_int(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("undeclared setting " + std::string(key));
  return std::stoll(it->second);
}

bool ServiceSettings::get_bool(std::string_view key) const { return get_string(key) == "on"; }

const std::string& ServiceSettings::get_string(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("undeclared setting " + std::string(key));
  return it->second;
}

}  // namespace mailroom::config
