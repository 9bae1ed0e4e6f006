// Quotas at delivery: the RCPT check and the per-copy check at commit.
#include "delivery/delivery_quota.h"

#include "core/log/logger.h"

namespace mailroom::delivery {

namespace {

// Why `quota` refuses `incoming_bytes` into `maildir`; nullopt when it fits or the usage cannot be
// read (logged with `who`).
std::optional<std::string> refusal_for(storage::MailStore& mail, const std::string& maildir, const storage::Quota& quota,
                                       std::optional<uint64_t> incoming_bytes, const std::string& who) {
  if (!quota.limited()) return std::nullopt;
  auto usage = mail.usage(maildir);
  if (!usage) {
    log::warn("quota.usage_failed", {{"mailbox", who}, {"error", usage.error().message}});
    return std::nullopt;
  }
  return storage::quota_refusal(quota, *usage, incoming_bytes);
}

}  // namespace

void check_quota(storage::MailStore& mail, RecipientVerdict& verdict, std::optional<uint64_t> incoming_bytes) {
  if (verdict.status != RecipientStatus::kOk) return;
  if (auto why = refusal_for(mail, verdict.maildir, verdict.quota, incoming_bytes, verdict.mailbox)) {
    verdict.status = RecipientStatus::kOverQuota;
    verdict.detail = std::move(*why);
  }
}

std::vector<std::optional<std::string>> quota_refusals(storage::MailStore& mail, const std::vector<std::string>& maildirs,
                                                       const std::vector<storage::Quota>& quotas, uint64_t wire_bytes,
                                                       bool per_copy) {
  std::vector<std::optional<std::string>> out(maildirs.size());
  bool every = !maildirs.empty();
  for (std::size_t i = 0; i < maildirs.size(); ++i) {
    if (i < quotas.size()) out[i] = refusal_for(mail, maildirs[i], quotas[i], wire_bytes, maildirs[i]);
    every = every && out[i].has_value();
  }
  if (!per_copy && !every) out.assign(out.size(), std::nullopt);
  return out;
}

}  // namespace mailroom::delivery
