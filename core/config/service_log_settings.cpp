// Declarations of the per-service logging settings.
#include "core/config/service_log_settings.h"

#include "core/config/daemon_settings.h"

namespace mailroom::config {

namespace {
// A daemon-wide validator that also takes "" (follow the daemon's value).
std::function<std::optional<std::string>(std::string_view)> or_empty(
    std::optional<std::string> (*check)(std::string_view)) {
  return [check](std::string_view text) -> std::optional<std::string> {
    if (text.empty()) return std::nullopt;
    return check(text);
  };
}
}  // namespace

std::vector<SettingSpec> service_log_setting_specs() {
  std::vector<SettingSpec> specs;
  specs.push_back(string_setting("log_target", "", 1024,
                                 "Where this service's events go: '' (the daemon's 'log_target'), 'stderr', "
                                 "'file:/absolute/path' or 'syslog' / 'syslog:FACILITY' (see docs/logging.md).",
                                 or_empty(check_log_target)));
  specs.push_back(string_setting("log_level", "", kMaxLogWordLength,
                                 "Least severe level of this service's events logged: '' (the daemon's "
                                 "'log_level'), debug, info, warn or error.",
                                 or_empty(check_log_level)));
  specs.push_back(string_setting("log_format", "", kMaxLogWordLength,
                                 "Format of this service's log lines: '' (the daemon's 'log_format'), 'kv' or "
                                 "'json'.",
                                 or_empty(check_log_format)));
  specs.push_back(bool_setting(
      "debug_transcript", false,
      "Log every command line and reply of this service's sessions as 'transcript' events (level info): "
      "the arguments of PASS, APOP, AUTH, NEWPASS (poppassd) and of every line of a SASL exchange are "
      "redacted, message data is summarised as '[N octets]'. Costly, and the log then holds mail metadata "
      "(user names, addresses, commands): for debugging only. Applies to sessions that start after the change."));
  return specs;
}

}  // namespace mailroom::config
