// change_password() and load_password_policy(): the store side of a password change.
#include "auth/password_change.h"

#include "auth/secrets.h"
#include "core/config/daemon_settings.h"

namespace mailroom::auth {

Result<std::vector<storage::StoredSecret>> change_password(storage::AccountStore& accounts,
                                                           const storage::Address& address,
                                                           const std::string& password, storage::PasswordKind kind,
                                                           const std::set<std::string>& wanted_kinds) {
  std::vector<storage::StoredSecret> secrets;
  if (kind == storage::PasswordKind::kPlaintext) secrets = derive_secrets(password, wanted_kinds);
  if (Status s = accounts.set_password(address, password, kind, secrets); !s) return s.error();
  return secrets;
}

Result<PasswordPolicy> load_password_policy(storage::AccountStore& accounts) {
  auto stored = accounts.daemon_settings();
  if (!stored) return stored.error();
  auto settings = config::ServiceSettings::build(config::daemon_settings_catalog(), *stored);
  if (!settings) return settings.error();
  return PasswordPolicy{settings->get_int(kPasswordMinLengthKey)};
}

}  // namespace mailroom::auth
