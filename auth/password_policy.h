// The password policy every password change obeys (poppassd's NEWPASS, `mailctl mailbox passwd`
// unless --force): a minimum length (the daemon-wide `password_min_length`), the storage's upper
// bound, not the old password, not the mailbox's name. Pure: no I/O; loading the setting is
// load_password_policy() (auth/password_change.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/address.h"

namespace mailroom::auth {

// The daemon-wide setting's name and default (core/config/daemon_settings.cpp declares it).
inline constexpr std::string_view kPasswordMinLengthKey = "password_min_length";
inline constexpr int64_t kDefaultPasswordMinLength = 8;

struct PasswordPolicy {
  int64_t min_length = kDefaultPasswordMinLength;  // in octets
};

// Why `password` may not become the password of `address`, as one sentence a client or an admin
// can act on (no password in it), or nullopt when it may. `old_password`: the one it replaces,
// when the caller knows it (poppassd does; mailctl does not). The checks, in this order: the
// storage's own rules (not empty, at most storage::password::kMaxPasswordBytes, no NUL/CR/LF),
// the minimum length, the old password, the mailbox's local part or full address (compared
// case-insensitively).
std::optional<std::string> password_refusal(const PasswordPolicy& policy, std::string_view password,
                                            const storage::Address& address,
                                            std::optional<std::string_view> old_password = std::nullopt);

}  // namespace mailroom::auth
