// One declaration per setting: key, type, default, bounds and doc line. Used by mailctl
// validation, the daemon's snapshot and the docs table alike.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace mailroom::config {

enum class SettingType { kInt, kBool, kString };

struct SettingSpec {
  std::string key;
  SettingType type = SettingType::kString;
  std::string default_value;
  int64_t min = 0;  // kInt only
  int64_t max = 0;  // kInt only
  std::size_t max_length = 1024;  // kString only
  std::string doc;
  // Extra check for strings (and ints); returns an error message, or nullopt when fine.
  std::function<std::optional<std::string>(std::string_view)> validate;
  // A plaintext-equivalent secret (smarthost_password): stored sealed with the SecretBox, never
  // shown by `show` (only "(set)") and never logged.
  bool secret = false;
};

// Builders that keep declarations short and complete.
SettingSpec int_setting(std::string key, int64_t default_value, int64_t min, int64_t max, std::string doc);
SettingSpec bool_setting(std::string key, bool default_value, std::string doc);
SettingSpec string_setting(std::string key, std::string default_value, std::size_t max_length, std::string doc,
                           std::function<std::optional<std::string>(std::string_view)> validate = {});

// Validates `value` for `spec` and returns its canonical text ("on"/"off" for bools,
// decimal for ints). The error message names the key and says what is allowed.
Result<std::string> normalize_setting(const SettingSpec& spec, std::string_view value);

const char* setting_type_name(SettingType type);

// What a secret setting's value looks like wherever values are shown or logged.
inline constexpr std::string_view kSecretShown = "(set)";

// The settings of one module, in declaration order.
class SettingsCatalog {
 public:
  SettingsCatalog() = default;
  explicit SettingsCatalog(std::vector<SettingSpec> specs) : specs_(std::move(specs)) {}
  void add(SettingSpec spec) { specs_.push_back(std::move(spec)); }
  const SettingSpec* find(std::string_view key) const;
  const std::vector<SettingSpec>& all() const { return specs_; }

 private:
  std::vector<SettingSpec> specs_;
};

// A service's effective settings: stored values over catalog defaults, validated.
class ServiceSettings {
 public:
  ServiceSettings() = default;
  // Builds from stored key/values. Unknown keys or invalid values are errors.
  static Result<ServiceSettings> build(const SettingsCatalog& catalog,
                                       const std::map<std::string, std::string>& stored);
  int64_t get_int(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  const std::map<std::string, std::string, std::less<>>& values() const { return values_; }
  bool operator==(const ServiceSettings& other) const { return values_ == other.values_; }

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace mailroom::config
