// Structured logging: one line per event (kv or json), routed to the daemon's or a service's
// target (log_router.h; an event with a `service` field belongs to that service). Thread-safe.
// Never pass secrets.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "core/log/log_format.h"

namespace mailroom::log {

// Some route logs this level (lets callers skip building the fields of a debug event).
bool enabled(Level level);
// e.g. event(Level::kInfo, "pop3.login", {{"service", "pop3"}, {"sid", "12"}, {"result", "ok"}})
void event(Level level, std::string_view name, std::initializer_list<Field> fields = {});

inline void info(std::string_view name, std::initializer_list<Field> fields = {}) {
  event(Level::kInfo, name, fields);
}
inline void warn(std::string_view name, std::initializer_list<Field> fields = {}) {
  event(Level::kWarn, name, fields);
}
inline void error(std::string_view name, std::initializer_list<Field> fields = {}) {
  event(Level::kError, name, fields);
}
inline void debug(std::string_view name, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kDebug)) event(Level::kDebug, name, fields);
}

}  // namespace mailroom::log
