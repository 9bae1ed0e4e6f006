// mailctl output helpers, the error -> exit-code mapping and the command context.
#include "admin-cli/output.h"

#include <charconv>
#include <ctime>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/base/time_text.h"
#include "storage/store_factory.h"

namespace mailroom::cli {

namespace fs = std::filesystem;

int exit_code_for(const Error& error) {
  // Scripts branch on these (docs/mailctl.md, `mailctl help exit-codes`): a missing name, an
  // existing one and a daemon that is not running each have their own code; every other
  // failure (bad value, disk or database trouble) is 1; 2 is a command line that does not parse.
  switch (error.code) {
    case ErrorCode::kNotFound:
      return kExitNotFound;
    case ErrorCode::kAlreadyExists:
      return kExitAlreadyExists;
    case ErrorCode::kUnavailable:
      return kExitNotRunning;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kAuthFailed:
    case ErrorCode::kInUse:
    case ErrorCode::kTemporary:
    case ErrorCode::kPermanent:
    case ErrorCode::kIo:
    case ErrorCode::kDatabase:
    case ErrorCode::kInternal:
      return kExitFailure;
  }
  return kExitFailure;
}

namespace {

// The length of the valid UTF-8 sequence at the start of `s` (1-4), or 0 if it is not one
// (overlong forms, surrogates and code points above U+10FFFF are not valid).
size_t utf8_sequence_length(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < len || byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return len;
}

// Valid UTF-8 that still moves the cursor or reorders text: the C1 controls (U+0080-U+009F, a
// terminal may take U+009B for CSI) and the bidirectional embeddings, overrides and isolates
// (U+202A-U+202E, U+2066-U+2069).
bool is_invisible_control(std::string_view seq) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(seq[i]); };
  if (seq.size() == 2) return byte(0) == 0xC2 && byte(1) <= 0x9F;
  if (seq.size() == 3 && byte(0) == 0xE2) {
    return (byte(1) == 0x80 && byte(2) >= 0xAA && byte(2) <= 0xAE) ||
           (byte(1) == 0x81 && byte(2) >= 0xA6 && byte(2) <= 0xA9);
  }
  return false;
}

void append_escaped(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += "\\x";
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
}

}  // namespace

std::string escape_control(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t len = utf8_sequence_length(text.substr(i));
    if (len == 0) {  // not UTF-8: one byte at a time, so the next one gets its own chance
      append_escaped(out, text.substr(i, 1));
      ++i;
      continue;
    }
    const std::string_view seq = text.substr(i, len);
    const auto first = static_cast<unsigned char>(seq[0]);
    if ((len == 1 && (first < 0x20 || first == 0x7F)) || is_invisible_control(seq)) {
      append_escaped(out, seq);
    } else {
      out.append(seq);
    }
    i += len;
  }
  return out;
}

void print_error(std::string_view message) {
  // The whole message is escaped, not only the arguments in it: every command's errors go
  // through here, whatever they quote (CLI11's own messages echo what was typed too).
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.remove_suffix(1);
  std::string line = "mailctl: " + escape_control(message);
  std::cerr << line << '\n' << std::flush;
}

void print_json(const nlohmann::ordered_json& value) {
  // Invalid UTF-8 in a stored name must not abort the dump: replace it.
  std::cout << value.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n'
            << std::flush;
}

void print_line(std::string_view line) { std::cout << line << '\n' << std::flush; }

std::string format_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(headers.size(), 0);
  for (std::size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      line += cell;
      if (i + 1 < width.size()) line += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  emit(headers);
  for (const auto& row : rows) emit(row);
  return out;
}

namespace {
std::string strftime_utc(int64_t unix_seconds, const char* format) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}
}  // namespace

std::string format_time(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "-";
  return strftime_utc(unix_seconds, "%Y-%m-%d %H:%M:%SZ");
}

std::string format_time_iso(int64_t unix_seconds) { return rfc3339_utc(unix_seconds); }

nlohmann::ordered_json json_time(std::optional<int64_t> unix_seconds) {
  if (!unix_seconds || *unix_seconds <= 0) return nullptr;
  return format_time_iso(*unix_seconds);
}

nlohmann::ordered_json json_setting_value(const config::SettingSpec& spec, const std::string& text) {
  if (spec.secret) {  // never the value: "(set)" or null
    if (text.empty()) return nullptr;
    return std::string(config::kSecretShown);
  }
  switch (spec.type) {
    case config::SettingType::kInt: {
      int64_t n = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec == std::errc() && end == text.data() + text.size()) return n;
      return text;
    }
    case config::SettingType::kBool:
      if (text == "on") return true;
      if (text == "off") return false;
      return text;
    case config::SettingType::kString:
      return text;
  }
  return text;
}

std::string Context::data_dir() const {
  if (data_option.empty()) {
    throw UsageError("no data directory: pass --data DIR or set MAILROOM_DATA");
  }
  return fs::absolute(fs::path(data_option)).lexically_normal().string();
}

std::string Context::mail_root() const { return storage::mail_root(data_dir()); }

Result<std::unique_ptr<storage::AccountStore>> Context::open_store() const {
  const std::string dir = data_dir();
  std::error_code ec;
  // A missing or uninitialised data directory is exit 1, not 4: 4 says the named postoffice,
  // mailbox or service does not exist, which a script must not conclude from a wrong --data.
  if (!fs::is_directory(dir, ec)) {
    return make_error(ErrorCode::kPermanent, "data directory " + dir +
                                                 " does not exist (run 'mailctl --data " + dir +
                                                 " init' first)");
  }
  auto store = storage::open_account_store(dir, /*create=*/false, database_option);
  if (!store && store.error().code == ErrorCode::kNotFound) {
    return Error{ErrorCode::kPermanent, store.error().message};
  }
  return store;
}

void Context::nothing_done(const Error& why, nlohmann::ordered_json extra) const {
  nlohmann::ordered_json out = {{"changed", false}};
  for (auto& [k, v] : extra.items()) out[k] = v;
  done("nothing to do: " + why.message, std::move(out));
}

void Context::done(const std::string& message) const { done(message, nlohmann::ordered_json::object()); }

void Context::done(const std::string& message, nlohmann::ordered_json extra) const {
  if (json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    out["ok"] = true;
    for (auto& [k, v] : extra.items()) out[k] = v;
    print_json(out);
  } else {
    print_line(message);
  }
}

}  // namespace mailroom::cli
