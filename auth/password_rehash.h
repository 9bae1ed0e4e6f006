// rehash_on_login: after a successful password login with an imported hash (bcrypt, {SSHA512},
// SHA512-CRYPT, ...), the store keeps argon2id of the password instead. Blocking (SQLite, two
// hashes): call it on a worker, in the login's job.
#pragma once

#include <string>
#include <string_view>

#include "storage/account_store.h"

namespace mailroom::auth {

inline constexpr std::string_view kRehashOnLoginKey = "rehash_on_login";

// Upgrades the hash of `mailbox` (just verified with `password`) when its scheme is not argon2id
// and the daemon-wide rehash_on_login is on; logs auth.rehash (mailbox, from scheme, or the
// error). Never fails: a login does not depend on it. Returns whether the hash was replaced.
bool rehash_after_login(storage::AccountStore& accounts, const storage::MailboxInfo& mailbox,
                        const std::string& password);

}  // namespace mailroom::auth
