// sd_notify: tells the service manager (systemd, Type=notify) what the daemon is doing, without
// libsystemd: one datagram of `KEY=VALUE` lines to the unix socket named by $NOTIFY_SOCKET (a
// path, or an abstract name written with a leading '@'). When $NOTIFY_SOCKET is unset (started
// by hand, by a test, by another supervisor) every call is a no-op.
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"

namespace mailroom::sd {

// Sends `state` (one or more `KEY=VALUE` lines, e.g. "READY=1") to $NOTIFY_SOCKET. Returns true
// when sent, false when $NOTIFY_SOCKET is unset; an error when the socket is named but the
// datagram cannot be sent. Never blocks (MSG_DONTWAIT): safe on the loop thread.
Result<bool> notify(std::string_view state);

// The same to an explicit socket name (`/path` or `@abstract`); what notify() uses.
Status notify_socket(std::string_view socket_name, std::string_view state);

// The messages the daemon sends (sd_notify(3)).
inline constexpr std::string_view kReady = "READY=1";
inline constexpr std::string_view kStopping = "STOPPING=1";
// RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC now), which systemd 253+ asks for with it.
std::string reloading_message();
// STATUS=<text>: a one-line status shown by `systemctl status` (a newline in `text` becomes a space).
std::string status_message(std::string_view text);

}  // namespace mailroom::sd
