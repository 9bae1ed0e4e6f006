// Setting a mailbox's password the one way every caller does it (`mailctl mailbox passwd`,
// poppassd's NEWPASS): the password and ALL its derived secrets replaced together, the secrets
// derived for the kinds the enabled services want, so the next login of any mechanism uses the new
// password. Blocking (argon2id, PBKDF2, SQLite): call it off the event loop.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "auth/password_policy.h"
#include "core/base/result.h"
#include "storage/account_store.h"

namespace mailroom::auth {

// Replaces the password (plaintext or an imported hash) and the derived secrets: those of
// `wanted_kinds` derived from a plaintext password, none for a hash (a login with the password
// fills them in later). Returns the secrets stored. Errors as AccountStore::set_password().
Result<std::vector<storage::StoredSecret>> change_password(storage::AccountStore& accounts,
                                                           const storage::Address& address,
                                                           const std::string& password, storage::PasswordKind kind,
                                                           const std::set<std::string>& wanted_kinds);

// The policy as the daemon-wide settings stored now say (password_min_length).
Result<PasswordPolicy> load_password_policy(storage::AccountStore& accounts);

}  // namespace mailroom::auth
