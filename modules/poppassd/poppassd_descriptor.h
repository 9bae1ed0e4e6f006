// The poppassd module's descriptor: its name, ports, defaults, settings, fixed replies, default
// service (created disabled) and factory, as the built-in table (daemon/builtin_modules.cpp) lists it.
#pragma once

#include "core/module/module_descriptor.h"

namespace mailroom::poppassd {

core::ModuleDescriptor poppassd_descriptor();

}  // namespace mailroom::poppassd
