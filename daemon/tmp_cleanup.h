// At start: removes what interrupted deliveries left in the mailboxes' tmp/ folders (a crash or
// a kill during SMTP DATA or `mailctl deliver`), on a worker, and logs how many.
#pragma once

#include <chrono>

#include "core/loop/event_loop.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"

namespace mailroom::daemon {

// Files older than this in tmp/ are removed whoever wrote them (the Maildir convention);
// younger ones only when their writer on this host is gone (MailStore::remove_stale_tmp).
inline constexpr std::chrono::hours kStaleTmpAge{36};

void clean_delivery_leftovers(core::WorkQueue& work, storage::AccountStore& accounts, storage::MailStore& mail);

}  // namespace mailroom::daemon
