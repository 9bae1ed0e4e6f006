// RFC 2449 EXPIRE at a POP3 UPDATE, pure: which messages have been kept long enough since their
// first retrieval (RETR; TOP is a look, not a retrieval), and the retrieval record to keep.
#pragma once

#include <cstdint>
#include <vector>

#include "storage/mail_store.h"

namespace mailroom::pop3 {

inline constexpr int64_t kSecondsPerDay = 86400;

struct ExpiryPlan {
  std::vector<std::size_t> expired;  // indexes (not marked deleted) to remove with the DELEs
  storage::Retrievals record;        // first retrievals of the messages that stay
};

// `before`: the record read at login; `deleted`/`retrieved`: per index of `listing`, this session's
// DELE marks and RETRs. A message retrieved for the first time now is stamped `now`; one whose
// first retrieval is `expire_days` days or more ago expires (0: at the end of the session that
// retrieved it). Messages no longer listed, or deleted now, leave the record.
ExpiryPlan plan_expiry(const storage::Retrievals& before, const std::vector<storage::MessageInfo>& listing,
                       const std::vector<bool>& deleted, const std::vector<bool>& retrieved, int64_t now,
                       int64_t expire_days);

}  // namespace mailroom::pop3
