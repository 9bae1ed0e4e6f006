// mailctl's quota and usage fields.
#include "core/base/count_text.h"
#include "admin-cli/quota_usage.h"

#include <nlohmann/json.hpp>

namespace mailroom::cli {

namespace {

nlohmann::ordered_json number_or_null(const std::optional<uint64_t>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

}  // namespace

std::optional<storage::MailboxUsage> read_usage(storage::MailStore& mail, const std::string& maildir) {
  auto usage = mail.usage(maildir);
  if (!usage) return std::nullopt;
  return *usage;
}

PostofficeUsage postoffice_usage(storage::MailStore& mail, const std::vector<storage::MailboxInfo>& mailboxes) {
  PostofficeUsage out;
  for (const auto& m : mailboxes) {
    auto usage = read_usage(mail, m.maildir);
    if (!usage) {
      ++out.unreadable;
      continue;
    }
    out.total.messages += usage->messages;
    out.total.bytes += usage->bytes;
  }
  return out;
}

void add_quota_json(nlohmann::ordered_json& out, const storage::Quota& quota,
                    const std::optional<storage::MailboxUsage>& usage) {
  out["quota_bytes"] = number_or_null(quota.bytes);
  out["quota_messages"] = number_or_null(quota.messages);
  out["used_bytes"] = number_or_null(usage ? std::optional<uint64_t>(usage->bytes) : std::nullopt);
  out["used_messages"] = number_or_null(usage ? std::optional<uint64_t>(usage->messages) : std::nullopt);
}

std::string usage_text(const std::optional<storage::MailboxUsage>& usage) {
  if (!usage) return "?";
  return std::to_string(usage->bytes) + " bytes in " + counted(usage->messages, "message", "messages");
}

std::string quota_text(const storage::Quota& quota) {
  std::string out;
  if (quota.bytes) out = std::to_string(*quota.bytes) + " bytes";
  if (quota.messages) out += (out.empty() ? "" : ", ") + counted(*quota.messages, "message", "messages");
  return out.empty() ? "none" : out;
}

}  // namespace mailroom::cli
