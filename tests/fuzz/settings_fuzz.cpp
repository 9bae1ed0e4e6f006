// Fuzzes settings validation (core/config/setting_spec.h) with every built-in module's composed
// catalog (daemon/builtin_modules.h): byte 0 picks the module, byte 1 the setting, the rest is
// the value, validated as `mailctl service set` does and then read as the daemon reads it.
// Invariants: an accepted value's canonical text is accepted again unchanged, holds no control
// byte, is "on"/"off" for a bool and a decimal in bounds for an int; the service's settings
// build with it and the typed readers (network settings, the module's secret kinds) take them.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/config/network_settings.h"
#include "core/config/setting_spec.h"
#include "daemon/builtin_modules.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailroom;
  if (size < 2) return 0;
  const auto modules = builtin::builtin_modules();
  const core::ModuleDescriptor& module = modules[data[0] % modules.size()];
  const config::SettingsCatalog* catalog = builtin::settings_catalog(module.name);
  FUZZ_CHECK(catalog != nullptr && !catalog->all().empty());
  const config::SettingSpec& spec = catalog->all()[data[1] % catalog->all().size()];
  const std::string_view value(reinterpret_cast<const char*>(data) + 2, size - 2);

  auto canonical = config::normalize_setting(spec, value);
  if (!canonical) {
    FUZZ_CHECK_DATA(!canonical.error().message.empty(), value);
    return 0;
  }
  FUZZ_CHECK_DATA(fuzz::no_control_bytes(*canonical), *canonical);
  switch (spec.type) {
    case config::SettingType::kBool: FUZZ_CHECK_DATA(*canonical == "on" || *canonical == "off", value); break;
    case config::SettingType::kInt: {
      const long long n = std::stoll(*canonical);
      FUZZ_CHECK_DATA(n >= spec.min && n <= spec.max && std::to_string(n) == *canonical, value);
      break;
    }
    case config::SettingType::kString: FUZZ_CHECK_DATA(canonical->size() <= spec.max_length, value); break;
  }
  auto again = config::normalize_setting(spec, *canonical);
  FUZZ_CHECK_DATA(again.ok() && *again == *canonical, *canonical);

  auto settings = config::ServiceSettings::build(*catalog, {{spec.key, std::string(value)}});
  FUZZ_CHECK_DATA(settings.ok(), value);
  FUZZ_CHECK_DATA(settings->values().at(spec.key) == *canonical, value);
  (void)config::network_settings_from(*settings);
  if (module.wanted_secret_kinds) (void)module.wanted_secret_kinds(*settings);
  return 0;
}
