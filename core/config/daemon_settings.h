// Daemon-wide settings: what belongs to mailroomd as a whole rather than to one service (where
// its own events are logged and how, the metrics endpoint). Stored in the daemon_settings table,
// set with `mailctl daemon set KEY VALUE`, applied live by the running daemon like service
// settings. Per-service logging settings override the logging ones for that service's events.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/setting_spec.h"

namespace mailroom::config {

// The catalog (log_target, log_level, log_format, metrics_listen, then the relay's smarthost and
// queue settings), in documentation order.
const SettingsCatalog& daemon_settings_catalog();

// Validators shared with the per-service logging settings: nullopt when `text` is valid.
// log_target: "stderr", "file:/absolute/path" or "syslog" / "syslog:FACILITY" (daemon, mail,
// user, local0-local7).
std::optional<std::string> check_log_target(std::string_view text);
// log_level: debug, info, warn, error.
std::optional<std::string> check_log_level(std::string_view text);
// log_format: kv (key=value) or json (one JSON object per line).
std::optional<std::string> check_log_format(std::string_view text);
// The length limit of log_level and log_format values: roomy enough that a near miss ("warning",
// "verbose", "keyvalue") is answered by the check naming the valid words, not by the length.
inline constexpr std::size_t kMaxLogWordLength = 16;

// metrics_listen: "off", "on" (= kDefaultMetricsListen) or an address and port
// ("127.0.0.1:9154", "[::1]:9154").
inline constexpr std::string_view kDefaultMetricsListen = "127.0.0.1:9154";
std::optional<std::string> check_metrics_listen(std::string_view text);
// Where a metrics_listen value listens: nothing for "off", kDefaultMetricsListen for "on", else
// the value itself.
std::optional<std::string_view> metrics_listen_address(std::string_view setting);

// smarthost: empty or one "host:port" (a name, an IPv4 address or a bracketed IPv6 address).
std::optional<std::string> check_smarthost(std::string_view text);
// smarthost_tls: "starttls" or "none".
std::optional<std::string> check_smarthost_tls(std::string_view text);
// Empty or an absolute path (smarthost_ca_file).
std::optional<std::string> check_optional_absolute_path(std::string_view text);

}  // namespace mailroom::config
