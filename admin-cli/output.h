// mailctl output: human tables or --json, the one error -> exit-code mapping, and the shared
// command context (data directory, output mode). Everything a command prints goes through here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>  // the full json.hpp only in the .cpp files that build JSON

#include "core/base/result.h"
#include "core/config/setting_spec.h"
#include "storage/account_store.h"

namespace mailroom::cli {

// Exit codes (docs/mailctl.md lists them; scripts depend on them).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // any other failure: a bad value, disk or database trouble
inline constexpr int kExitUsage = 2;    // bad command line (CLI11 parse errors, missing options)
inline constexpr int kExitNotRunning = 3;     // ErrorCode::kUnavailable: the daemon is not running
inline constexpr int kExitNotFound = 4;       // ErrorCode::kNotFound: no such postoffice, mailbox, ...
inline constexpr int kExitAlreadyExists = 5;  // ErrorCode::kAlreadyExists
inline constexpr int kExitOverQuota = 6;      // mailctl deliver: the mailbox is full or the message would not fit

// A command line that parsed but cannot be acted on (no password option, no data directory).
// Thrown by commands; main() turns it into one line on stderr and kExitUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failure with an exit code of its own (mailctl deliver over quota: kExitOverQuota). Thrown by
// the command; main() prints what() as the one error line and exits with `code`.
class ExitCodeError : public std::runtime_error {
 public:
  ExitCodeError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// The one mapping from a store/config error to the process exit code.
int exit_code_for(const Error& error);

// Writes "mailctl: <message>" as exactly one line on stderr, through escape_control().
void print_error(std::string_view message);

// `text` safe to show on a terminal: control characters (C0 including CR, LF and TAB, DEL, the
// C1 controls U+0080-U+009F, bidirectional overrides) and bytes that are not valid UTF-8 become
// \xNN, one per byte; everything else, other UTF-8 included, is kept. Messages echo arguments
// and stored names, and an ESC sequence in one must not reach the admin's terminal.
std::string escape_control(std::string_view text);

// JSON to stdout, pretty-printed, one trailing newline.
void print_json(const nlohmann::ordered_json& value);

// A plain line to stdout.
void print_line(std::string_view line);

// Left-aligned columns separated by two spaces, with a header row.
std::string format_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows);

// "2024-05-01 12:00:00Z" for unix seconds (UTC); "-" for 0.
std::string format_time(int64_t unix_seconds);
// "2024-05-01T12:00:00Z" (RFC 3339, UTC): every time in JSON, under a key ending in _at.
std::string format_time_iso(int64_t unix_seconds);
// The same as a JSON value: the string, or null when unset (nullopt, or 0 meaning "never").
nlohmann::ordered_json json_time(std::optional<int64_t> unix_seconds);

// A setting's canonical text as a JSON value typed by its spec: an int a number, a bool
// true/false, a string a string (a stored value that does not read as its type stays a string).
// A secret setting is "(set)", or null when empty: never its value.
nlohmann::ordered_json json_setting_value(const config::SettingSpec& spec, const std::string& text);

inline const char* yes_no(bool b) { return b ? "yes" : "no"; }

// Shared by every command: the global options and the store opener.
struct Context {
  std::string data_option;  // --data, else MAILROOM_DATA ("" when neither)
  // --database, else MAILROOM_DATABASE ("" when neither: DATA/database.url, else SQLite).
  std::string database_option;
  bool json = false;
  // The command chosen on the command line, run after parsing succeeded.
  std::function<Status()> action;
  // Run as root, mailctl acts as the data directory's owner before the action (so every file it
  // creates belongs to the daemon's user); an action that must first read files only root can read
  // (cert import) sets this and calls act_as_data_owner() itself once it has read them.
  bool owner_switch_deferred = false;

  // Absolute, normalised data directory; UsageError when neither --data nor MAILROOM_DATA.
  std::string data_dir() const;
  // DATA_DIR/mail: the root under which mailbox Maildirs live.
  std::string mail_root() const;
  // Opens the existing store (never creates it): a clear "run mailctl init" error otherwise.
  Result<std::unique_ptr<storage::AccountStore>> open_store() const;
  // Run as root on a data directory owned by another user: becomes that user (its groups, the
  // directory's group), for good. Does nothing otherwise (not root, a root-owned or missing
  // directory, no --data). admin-cli/data_owner.cpp.
  Status act_as_data_owner() const;

  // Prints the outcome of an action: `message` as a line, or {"ok":true, ...extra} with --json.
  void done(const std::string& message) const;
  void done(const std::string& message, nlohmann::ordered_json extra) const;
  // --if-exists / --if-not-exists found nothing to do: "nothing to do: <why>" as a line, or
  // {"ok":true,"changed":false,...extra}; the command succeeds (exit 0).
  void nothing_done(const Error& why, nlohmann::ordered_json extra) const;
};

}  // namespace mailroom::cli
