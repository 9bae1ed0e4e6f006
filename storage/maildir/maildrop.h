// Maildrop (internal to storage/maildir): one opened Maildir as a session sees it: the listing
// taken at open, messages opened by number (found again if another client moved them), and
// deletions committed at the end; and the one-session-per-maildrop lock.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/mail_store.h"

namespace mailroom::storage::maildir {

// The maildrop of DIR (absolute, no trailing '/') with this listing.
std::unique_ptr<Maildrop> make_maildrop(std::string dir, std::vector<MessageInfo> messages);

// Takes the maildrop of DIR for one session (kInUse while another holds it).
Result<std::unique_ptr<MaildropLock>> lock_maildrop(const std::string& dir);

}  // namespace mailroom::storage::maildir
