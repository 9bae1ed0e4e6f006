// Mailbox quotas (quota_bytes, quota_messages: config/account_settings.h) and the pure checks
// made at delivery. A mailbox's own value wins over its postoffice's (a default for each of its
// mailboxes, not a limit on their sum); 0 or unset is no limit. Usage is what MailStore::usage()
// counts: the messages in new/ and cur/ and their wire octets (what POP3 STAT shows), messages
// an open POP3 session marked deleted included until its UPDATE.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "storage/account_store.h"
#include "storage/mail_store.h"

namespace mailroom::storage {

struct Quota {
  std::optional<uint64_t> bytes;     // nullopt: no limit
  std::optional<uint64_t> messages;  // nullopt: no limit
  bool limited() const { return bytes.has_value() || messages.has_value(); }
  bool operator==(const Quota&) const = default;
};

// The effective quota of a mailbox (its own values, else its postoffice's).
Quota mailbox_quota(const MailboxInfo& mailbox);
// A postoffice's defaults for its mailboxes, from its stored settings.
Quota quota_from_settings(const std::map<std::string, std::string>& settings);

// Why a delivery of `incoming_bytes` (wire octets; nullopt: not known yet) is refused, or
// nullopt when it fits: a mailbox already at or over a limit is full, and one the message would
// take past quota_bytes, or past quota_messages, is refused too. The text names the limit
// ("mailbox full: 1000 of 1000 messages", "message of 600 octets exceeds the mailbox quota:
// 500 of 1000 octets used").
std::optional<std::string> quota_refusal(const Quota& quota, const MailboxUsage& usage,
                                         std::optional<uint64_t> incoming_bytes);

}  // namespace mailroom::storage
