// Account settings: what an admin may set per postoffice and per mailbox (`mailctl postoffice set
// NAME KEY VALUE`, `mailctl mailbox set ADDRESS KEY VALUE`). A mailbox's own value wins over its
// postoffice's; without either, the service setting of the same name applies (login_delay,
// expire_days on the pop3 service) or the built-in default (quotas: no limit).
// The postoffice value is a default for each of its mailboxes, not a limit on their sum.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/setting_spec.h"

namespace mailroom::config {

inline constexpr std::string_view kLoginDelay = "login_delay";      // int seconds, 0 = none
inline constexpr std::string_view kExpireDays = "expire_days";      // "never" or days (0..36500)
inline constexpr std::string_view kQuotaBytes = "quota_bytes";      // int, 0 = no limit
inline constexpr std::string_view kQuotaMessages = "quota_messages";  // int, 0 = no limit

// The catalog, in documentation order. Values are validated and canonicalised with
// normalize_setting() like service settings.
const SettingsCatalog& account_settings_catalog();

// expire_days: "never" or a whole number of days 0..36500 (0: removed at the UPDATE after the
// session that retrieved it). nullopt when valid, else the error text.
std::optional<std::string> check_expire_days(std::string_view text);
// A canonical expire_days value as days; nullopt for "never".
std::optional<int64_t> expire_days_value(std::string_view canonical);

}  // namespace mailroom::config
