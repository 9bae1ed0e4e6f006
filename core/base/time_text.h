// Times as text: RFC 3339 UTC ("2026-12-05T17:56:00Z"), the one form of every time mailctl and
// the control socket print as JSON.
#pragma once

#include <cstdint>
#include <string>

namespace mailroom {

// "2026-12-05T17:56:00Z" for unix seconds.
std::string rfc3339_utc(int64_t unix_seconds);

// RFC 5322 date-time of the unix time `t` in local time, e.g. "Sat, 05 Dec 2026 12:37:21 +0000"
// (message headers: Date, Received). English names whatever the locale.
std::string rfc5322_date(long long t);

}  // namespace mailroom
