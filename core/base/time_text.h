// Times as text: RFC 3339 UTC ("2026-12-05T17:56:00Z"), the one form of every time mailctl and
// the control socket print as JSON.
#pragma once

#include <cstdint>
#include <string>

namespace mailroom {

// "2026-12-05T17:56:00Z" for unix seconds.
std::string rfc3339_utc(int64_t unix_seconds);

}  // namespace mailroom
