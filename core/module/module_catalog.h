// A module's settings catalog, composed by the core: the network and TLS settings with the
// module's defaults applied, then the module's own settings.
#pragma once

#include "core/config/setting_spec.h"
#include "core/module/module_descriptor.h"

namespace mailroom::core {

// Throws std::logic_error for a descriptor that cannot be right (a default for a setting the
// core does not have, a default its setting refuses, an own key that repeats one): a built-in
// table is checked by the unit tests, so this never happens at run time.
config::SettingsCatalog compose_settings_catalog(const ModuleDescriptor& descriptor);

}  // namespace mailroom::core
