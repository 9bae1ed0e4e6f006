// rehash_after_login(): the daemon-wide switch, the store's compare-and-swap, the log line.
#include "auth/password_rehash.h"

#include "core/config/daemon_settings.h"
#include "core/log/logger.h"
#include "storage/password/password_hash.h"

namespace mailroom::auth {

bool rehash_after_login(storage::AccountStore& accounts, const storage::MailboxInfo& mailbox,
                        const std::string& password) {
  if (mailbox.password_scheme == storage::password::kSchemeArgon2id) return false;
  const std::string address = mailbox.address.str();
  auto stored = accounts.daemon_settings();
  if (!stored) {
    log::error("auth.rehash", {{"mailbox", address}, {"from", mailbox.password_scheme}, {"error", stored.error().message}});
    return false;
  }
  auto settings = config::ServiceSettings::build(config::daemon_settings_catalog(), *stored);
  if (!settings) {
    log::error("auth.rehash", {{"mailbox", address}, {"from", mailbox.password_scheme}, {"error", settings.error().message}});
    return false;
  }
  if (!settings->get_bool(kRehashOnLoginKey)) return false;
  auto from = accounts.upgrade_password_hash(mailbox.address, password);
  if (!from) {
    log::error("auth.rehash", {{"mailbox", address}, {"from", mailbox.password_scheme}, {"error", from.error().message}});
    return false;
  }
  if (from->empty()) {  // changed meanwhile (or already argon2id): nothing to do
    log::info("auth.rehash", {{"mailbox", address}, {"from", mailbox.password_scheme}, {"result", "skipped"},
                              {"reason", "the password changed meanwhile"}});
    return false;
  }
  log::info("auth.rehash", {{"mailbox", address}, {"from", *from}, {"to", std::string(storage::password::kSchemeArgon2id)},
                            {"result", "ok"}});
  return true;
}

}  // namespace mailroom::auth
