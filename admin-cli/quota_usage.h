// mailctl's quota and usage fields (mailbox show/list, postoffice show): the effective quota and
// what the Maildir holds, read through MailStore::usage() (the .mailroom-index when current).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "storage/mail_store.h"
#include "storage/quota.h"

namespace mailroom::cli {

// The usage of `maildir`, nullopt when it cannot be read (a missing or broken Maildir).
std::optional<storage::MailboxUsage> read_usage(storage::MailStore& mail, const std::string& maildir);

// The sum over a postoffice's mailboxes; a Maildir that cannot be read is counted apart.
struct PostofficeUsage {
  storage::MailboxUsage total;
  std::size_t unreadable = 0;
};
PostofficeUsage postoffice_usage(storage::MailStore& mail, const std::vector<storage::MailboxInfo>& mailboxes);

// Adds quota_bytes, quota_messages (null: no limit), used_bytes, used_messages (null: unreadable).
void add_quota_json(nlohmann::ordered_json& out, const storage::Quota& quota,
                    const std::optional<storage::MailboxUsage>& usage);

// "1200 bytes in 3 messages" ("?" when unreadable).
std::string usage_text(const std::optional<storage::MailboxUsage>& usage);
// "1000000 bytes, 100 messages", "1000000 bytes", or "none".
std::string quota_text(const storage::Quota& quota);

}  // namespace mailroom::cli
