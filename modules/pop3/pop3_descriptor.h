// The pop3 module's descriptor: its name, ports, defaults, settings, fixed replies, default
// service and factory, as the built-in table (daemon/builtin_modules.cpp) lists it.
#pragma once

#include "core/module/module_descriptor.h"

namespace mailroom::pop3 {

core::ModuleDescriptor pop3_descriptor();

}  // namespace mailroom::pop3
