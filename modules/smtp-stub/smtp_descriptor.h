// What the smtp and lmtp modules declare to the core: one engine, two protocols.
#pragma once

#include "core/module/module_descriptor.h"

namespace mailroom::smtp {

core::ModuleDescriptor smtp_descriptor();  // RFC 5321 receiver: port 25
core::ModuleDescriptor lmtp_descriptor();  // RFC 2033: port 24, no TCP listener by default

}  // namespace mailroom::smtp
