// Log line formats (pure): `kv` (key=value pairs, today's form) and `json` (one JSON object per
// line). Both start with the time (RFC 3339 UTC with milliseconds), the level and the event name,
// then the event's fields in order.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace mailroom::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kKv, kJson };

using Field = std::pair<std::string_view, std::string>;

const char* level_name(Level level);
// "debug", "info", "warn", "error"; nullopt otherwise.
std::optional<Level> parse_level(std::string_view text);
// "kv", "json"; nullopt otherwise.
std::optional<Format> parse_format(std::string_view text);

// "2026-12-05T17:56:00.123Z"
std::string format_time(std::chrono::system_clock::time_point when);

struct LineParts {
  std::chrono::system_clock::time_point time;
  Level level = Level::kInfo;
  std::string_view event;
  std::span<const Field> fields;
};

// One line, ending with '\n'. kv: "TIME level=L event=E k=v ..." (values quoted by quote());
// without `with_time` the time is left out (syslog stamps its own). json: {"time": ..., "level":
// ..., "event": ..., "k": "v", ...} always with the time; invalid UTF-8 becomes U+FFFD.
std::string format_line(Format format, const LineParts& parts, bool with_time = true);

// Quotes a value when it holds spaces, quotes, '=' or control bytes (escaped), so kv lines stay parseable.
std::string quote(std::string_view value);
// `value` as a JSON string literal, quotes included.
std::string json_string(std::string_view value);

}  // namespace mailroom::log
