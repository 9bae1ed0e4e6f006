// Mailbox quotas: resolving the settings, and the delivery check.
#include "storage/quota.h"

#include <charconv>
#include <string_view>

#include "core/config/account_settings.h"

namespace mailroom::storage {

namespace {

// A stored canonical value: 0 (or anything that does not read as a positive number) is no limit.
std::optional<uint64_t> limit_of(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || ptr != text->data() + text->size() || v == 0) return std::nullopt;
  return v;
}

std::optional<std::string> find(const std::map<std::string, std::string>& settings, std::string_view key) {
  auto it = settings.find(std::string(key));
  if (it == settings.end()) return std::nullopt;
  return it->second;
}

}  // namespace

Quota mailbox_quota(const MailboxInfo& mailbox) {
  return Quota{limit_of(account_setting(mailbox, config::kQuotaBytes)),
               limit_of(account_setting(mailbox, config::kQuotaMessages))};
}

Quota quota_from_settings(const std::map<std::string, std::string>& settings) {
  return Quota{limit_of(find(settings, config::kQuotaBytes)), limit_of(find(settings, config::kQuotaMessages))};
}

std::optional<std::string> quota_refusal(const Quota& quota, const MailboxUsage& usage,
                                         std::optional<uint64_t> incoming_bytes) {
  if (quota.messages && usage.messages >= *quota.messages) {
    return "mailbox full: " + std::to_string(usage.messages) + " of " + std::to_string(*quota.messages) + " messages";
  }
  if (quota.bytes && usage.bytes >= *quota.bytes) {
    return "mailbox full: " + std::to_string(usage.bytes) + " of " + std::to_string(*quota.bytes) + " octets used";
  }
  if (quota.bytes && incoming_bytes && *incoming_bytes > *quota.bytes - usage.bytes) {
    return "message of " + std::to_string(*incoming_bytes) + " octets exceeds the mailbox quota: " +
           std::to_string(usage.bytes) + " of " + std::to_string(*quota.bytes) + " octets used";
  }
  return std::nullopt;
}

}  // namespace mailroom::storage
