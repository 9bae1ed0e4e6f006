// The password policy's checks (pure).
#include "auth/password_policy.h"

#include <cctype>

#include "core/base/ascii.h"
#include "storage/password/password_hash.h"

namespace mailroom::auth {

std::optional<std::string> password_refusal(const PasswordPolicy& policy, std::string_view password,
                                            const storage::Address& address,
                                            std::optional<std::string_view> old_password) {
  if (Status s = storage::password::check_password(password); !s) return s.error().message;
  if (static_cast<int64_t>(password.size()) < policy.min_length) {
    return "The new password is too short: at least " + std::to_string(policy.min_length) + " characters.";
  }
  if (old_password && password == *old_password) return std::string("The new password is the same as the old one.");
  if (ascii_iequals(password, address.mailbox) || ascii_iequals(password, address.str())) {
    return std::string("The new password must not be the mailbox name.");
  }
  return std::nullopt;
}

}  // namespace mailroom::auth
