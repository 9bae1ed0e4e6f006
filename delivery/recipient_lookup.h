// Recipient lookup: what the account store says about a local@domain recipient (a postoffice?
// a mailbox? enabled?). Shared by SMTP/LMTP's RCPT and XTND XMIT. look_up_recipient() queries
// SQLite: call it on a worker, never on the loop thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/quota.h"

namespace mailroom::storage {
class AccountStore;
}

namespace mailroom::delivery {

// What a recipient lookup found.
enum class RecipientStatus {
  kOk,              // a mailbox, enabled, with its maildir
  kUnknownMailbox,  // the postoffice exists, the mailbox does not
  kForeignDomain,   // no such postoffice: delivering would be relaying
  kDisabled,        // the mailbox or its postoffice is disabled
  kTemporary,       // the store failed: try later
  kOverQuota,       // check_quota() (delivery_quota.h): the mailbox is full, or the message would not fit
};
struct RecipientVerdict {
  RecipientStatus status = RecipientStatus::kTemporary;
  std::string maildir;  // kOk (and kOverQuota)
  std::string mailbox;  // kOk (and kOverQuota): the canonical address (for the log and LMTP replies)
  storage::Quota quota;  // kOk: the mailbox's effective quota
  std::string detail;    // kOverQuota: which limit (storage::quota_refusal())
};

// Looks `local`@`domain` up. A domain that is no postoffice (or not a valid postoffice name: an
// address literal) is kForeignDomain; a store failure is kTemporary.
RecipientVerdict look_up_recipient(storage::AccountStore& accounts, std::string_view local, std::string_view domain);

}  // namespace mailroom::delivery
