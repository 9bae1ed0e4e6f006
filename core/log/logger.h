// Structured logging: one `key=value` line per event on stderr (thread-safe). Never pass secrets.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace mailroom::log {

enum class Level { kDebug, kInfo, kWarn, kError };

using Field = std::pair<std::string_view, std::string>;

void set_min_level(Level level);
bool enabled(Level level);
// e.g. event(Level::kInfo, "pop3.login", {{"sid", "12"}, {"ip", "127.0.0.1"}, {"result", "ok"}})
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

// Quotes a value when it holds spaces, quotes, '=' or control bytes (escaped), so lines stay parseable.
std::string quote(std::string_view value);

}  // namespace mailroom::log
