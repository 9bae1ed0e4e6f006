// kv and json log lines.
#include "core/log/log_format.h"

#include <cstdio>
#include <ctime>

#include "core/base/utf8.h"

namespace mailroom::log {

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

std::optional<Level> parse_level(std::string_view text) {
  for (Level level : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == level_name(level)) return level;
  }
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view text) {
  if (text == "kv") return Format::kKv;
  if (text == "json") return Format::kJson;
  return std::nullopt;
}

std::string format_time(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms < 0 ? 0 : ms));
  return ts;
}

std::string quote(std::string_view value) {
  bool needs = value.empty();
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) {
      needs = true;
      break;
    }
  }
  if (!needs) return std::string(value);
  std::string out = "\"";
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < ' ' || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::string json_string(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out += '"';
  for (std::size_t i = 0; i < value.size();) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence(value, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
    } else {
      out.append(value.substr(i, n));
      i += n;
    }
  }
  out += '"';
  return out;
}

std::string format_line(Format format, const LineParts& parts, bool with_time) {
  std::string line;
  line.reserve(160);
  if (format == Format::kJson) {
    line += "{\"time\":";
    line += json_string(format_time(parts.time));
    line += ",\"level\":\"";
    line += level_name(parts.level);
    line += "\",\"event\":";
    line += json_string(parts.event);
    for (const auto& [key, value] : parts.fields) {
      line += ',';
      line += json_string(key);
      line += ':';
      line += json_string(value);
    }
    line += "}\n";
    return line;
  }
  if (with_time) {
    line += format_time(parts.time);
    line += ' ';
  }
  line += "level=";
  line += level_name(parts.level);
  line += " event=";
  line += parts.event;
  for (const auto& [key, value] : parts.fields) {
    line += ' ';
    line += key;
    line += '=';
    line += quote(value);
  }
  line += '\n';
  return line;
}

}  // namespace mailroom::log
