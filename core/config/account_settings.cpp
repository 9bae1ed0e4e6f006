// The account settings catalog (per postoffice and per mailbox) and its validators.
#include "core/config/account_settings.h"

#include <charconv>

namespace mailroom::config {

namespace {

constexpr int64_t kMaxExpireDays = 36500;

SettingsCatalog build_catalog() {
  SettingsCatalog c;
  c.add(int_setting(std::string(kLoginDelay), 0, 0, 7 * 24 * 3600,
                    "Least seconds between two POP3 logins to the mailbox (RFC 2449 LOGIN-DELAY); a "
                    "login that comes too early is refused with [LOGIN-DELAY]. 0 = none. Unset: the pop3 "
                    "service's login_delay."));
  c.add(string_setting(std::string(kExpireDays), "never", 5,
                       "Days a message is kept after it was first retrieved (RFC 2449 EXPIRE): 'never', or "
                       "0-36500 (0: removed at the end of the session that retrieved it). Unset: the pop3 "
                       "service's expire_days.",
                       check_expire_days));
  c.add(int_setting(std::string(kQuotaBytes), 0, 0, int64_t{1} << 50,
                    "Most octets the mailbox may hold (wire size, as POP3 STAT counts); a delivery that "
                    "would exceed it is refused (SMTP/LMTP 552 5.2.2). 0 = no limit."));
  c.add(int_setting(std::string(kQuotaMessages), 0, 0, 1'000'000'000,
                    "Most messages the mailbox may hold; a delivery beyond it is refused (552 5.2.2). "
                    "0 = no limit."));
  return c;
}

std::optional<int64_t> parse_days(std::string_view text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty() || v < 0 || v > kMaxExpireDays) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

const SettingsCatalog& account_settings_catalog() {
  static const SettingsCatalog catalog = build_catalog();
  return catalog;
}

std::optional<std::string> check_expire_days(std::string_view text) {
  if (text == "never" || parse_days(text)) return std::nullopt;
  return "expected 'never' or a number of days from 0 to " + std::to_string(kMaxExpireDays);
}

std::optional<int64_t> expire_days_value(std::string_view canonical) {
  if (canonical == "never") return std::nullopt;
  return parse_days(canonical);
}

}  // namespace mailroom::config
