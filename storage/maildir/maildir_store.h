// The Maildir implementation of MailStore (created by make_maildir_store() in mail_store.h).
// Files it keeps next to cur/ new/ tmp/, named here so tests and tools agree on them.
#pragma once

namespace mailroom::storage::maildir {

// Durable list of files to delete (one "new/NAME" or "cur/NAME" per line); its presence means
// a deletion was promised and must be completed, by the next open() if we crashed.
inline constexpr const char* kDeleteIntentFile = ".mailroom-delete";
inline constexpr const char* kDeleteIntentTmpFile = ".mailroom-delete.tmp";
// flock()ed while a session holds the mailbox.
inline constexpr const char* kLockFile = ".mailroom-lock";

}  // namespace mailroom::storage::maildir
