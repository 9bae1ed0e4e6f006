// APOP (RFC 1939 section 7): MD5 of the banner timestamp followed by the shared secret.
#pragma once

#include <string>
#include <string_view>

namespace mailroom::auth::sasl {

// The digest a client sends: 32 lowercase hex digits of MD5(timestamp + password).
std::string apop_digest(std::string_view timestamp, std::string_view password);

// True if `digest_hex` (upper or lower case) is MD5(timestamp + password); constant-time in the
// digest. `timestamp` is the whole "<...>" token from the greeting, brackets included.
bool apop_verify(std::string_view timestamp, std::string_view password, std::string_view digest_hex);

}  // namespace mailroom::auth::sasl
