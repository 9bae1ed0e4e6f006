// The APOP timestamp of a POP3 greeting (RFC 1939 section 7): "<pid.microseconds.counter@host>",
// made short enough that the longest banner and it share one 512-octet reply line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailroom::pop3 {

// The host name made fit for the timestamp (a msg-id): spaces, control bytes, '<', '>', '@' and
// non-ASCII bytes become '-'.
std::string msg_id_safe_host(std::string_view host_name);

// "<pid.micros.counter@host>", the host cut so that the whole is at most
// kMaxApopTimestampLength octets (a long host name never cuts the banner).
std::string apop_timestamp(std::string_view pid, int64_t micros, uint64_t counter, std::string_view host);

}  // namespace mailroom::pop3
