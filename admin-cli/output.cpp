// mailctl output helpers, the error -> exit-code mapping and the command context.
#include "admin-cli/output.h"

#include <ctime>
#include <filesystem>
#include <iostream>

namespace mailroom::cli {

namespace fs = std::filesystem;

int exit_code_for(const Error& error) {
  // Every failure an admin can cause or fix (bad input, unknown names, duplicates, disk or
  // database trouble) is 1; 2 is reserved for a command line that does not parse.
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound:
    case ErrorCode::kAlreadyExists:
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

void print_error(std::string_view message) {
  std::string line = "mailctl: ";
  for (char c : message) line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  while (!line.empty() && line.back() == ' ') line.pop_back();
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

std::string format_time_iso(int64_t unix_seconds) { return strftime_utc(unix_seconds, "%Y-%m-%dT%H:%M:%SZ"); }

std::string Context::data_dir() const {
  if (data_option.empty()) {
    throw UsageError("no data directory: pass --data DIR or set MAILROOM_DATA");
  }
  return fs::absolute(fs::path(data_option)).lexically_normal().string();
}

std::string Context::mail_root() const { return (fs::path(data_dir()) / "mail").string(); }

Result<std::unique_ptr<storage::AccountStore>> Context::open_store() const {
  const std::string dir = data_dir();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return make_error(ErrorCode::kNotFound, "data directory " + dir +
                                                " does not exist (run 'mailctl --data " + dir +
                                                " init' first)");
  }
  return storage::open_sqlite_account_store(dir, /*create=*/false);
}

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
