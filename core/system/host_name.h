// The machine's host name (gethostname), for the names a process gives itself on the wire.
#pragma once

#include <string>

namespace mailroom::core {

// gethostname(), or "localhost" when it fails, is empty or holds spaces or control characters.
std::string system_host_name();

}  // namespace mailroom::core
