// Maildir usage (internal to storage/maildir): MailStore::usage(), with a process-wide memory of
// each Maildir's last usage keyed by the stamps of new/ and cur/, so quota checks on a busy
// mailbox (every RCPT and every end of DATA) cost two lstat()s while nothing changed.
#pragma once

#include <string>

#include "storage/mail_store.h"
#include "storage/maildir/maildir_store.h"

namespace mailroom::storage::maildir {

// DIR absolute, without a trailing '/'. Blocking: on a worker.
Result<MailboxUsage> maildir_usage(const std::string& dir, const StoreOptions& options);

// Forgets every remembered usage (tests).
void forget_usage_cache();

}  // namespace mailroom::storage::maildir
