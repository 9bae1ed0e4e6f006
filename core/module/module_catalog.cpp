// Composition of a module's settings catalog from the core's settings and its descriptor.
#include "core/module/module_catalog.h"

#include <stdexcept>

#include "core/config/network_settings.h"
#include "core/config/service_log_settings.h"
#include "core/config/tls_settings.h"

namespace mailroom::core {

config::SettingsCatalog compose_settings_catalog(const ModuleDescriptor& descriptor) {
  std::vector<config::SettingSpec> specs = config::network_setting_specs(descriptor.port);
  for (auto& spec : config::tls_setting_specs(descriptor.tls_port)) specs.push_back(std::move(spec));
  for (auto& spec : config::service_log_setting_specs()) specs.push_back(std::move(spec));
  auto find = [&specs](const std::string& key) -> config::SettingSpec* {
    for (auto& spec : specs) {
      if (spec.key == key) return &spec;
    }
    return nullptr;
  };
  const std::string module = "module " + descriptor.name + ": ";
  for (const auto& wanted : descriptor.core_defaults) {
    config::SettingSpec* spec = find(wanted.key);
    if (spec == nullptr) throw std::logic_error(module + "no core setting '" + wanted.key + "' to set a default for");
    if (wanted.value) {
      auto canonical = config::normalize_setting(*spec, *wanted.value);
      if (!canonical) throw std::logic_error(module + "default refused: " + canonical.error().message);
      spec->default_value = std::move(canonical).value();
    }
    if (!wanted.note.empty()) spec->doc += " " + wanted.note;
  }
  for (const auto& own : descriptor.settings) {
    if (find(own.key) != nullptr) throw std::logic_error(module + "setting '" + own.key + "' declared twice");
    specs.push_back(own);
  }
  return config::SettingsCatalog(std::move(specs));
}

}  // namespace mailroom::core
