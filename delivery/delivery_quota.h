// Quotas at delivery (storage/quota.h has the rules): checked at RCPT with what is known then
// (a full mailbox; with SMTP's SIZE=, a message that would not fit), and again on the worker that
// commits the message, with its real size. Two deliveries to one mailbox at once may both pass
// the check: a mailbox ends over its quota by at most the messages delivered concurrently (one,
// unless several sessions deliver to it at the same moment); the next delivery is then refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "delivery/recipient_lookup.h"
#include "storage/mail_store.h"
#include "storage/quota.h"

namespace mailroom::delivery {

// For a kOk verdict with a quota: reads the Maildir's usage (MailStore::usage, on a worker) and
// turns the verdict into kOverQuota when storage::quota_refusal() refuses `incoming_bytes`
// (nullopt: the size is not known yet, so only a full mailbox is refused). A usage that cannot be
// read refuses nothing (logged): the delivery itself then meets the same Maildir.
void check_quota(storage::MailStore& mail, RecipientVerdict& verdict, std::optional<uint64_t> incoming_bytes);

// Per maildir, why a message of `wire_bytes` may not be stored there (nullopt: it may), from
// `quotas` (parallel to `maildirs`; a missing one is no limit). Without `per_copy` (SMTP: one
// reply for the whole message) a refusal stands only when every maildir is refused; otherwise
// every copy is made and a mailbox may end over its quota by this message. On a worker.
std::vector<std::optional<std::string>> quota_refusals(storage::MailStore& mail, const std::vector<std::string>& maildirs,
                                                       const std::vector<storage::Quota>& quotas, uint64_t wire_bytes,
                                                       bool per_copy);

}  // namespace mailroom::delivery
