// account_setting(): how a mailbox's account settings resolve (storage/account_store.h).
#include "storage/account_store.h"

namespace mailroom::storage {

std::optional<std::string> account_setting(const MailboxInfo& mailbox, std::string_view key) {
  if (auto it = mailbox.settings.find(std::string(key)); it != mailbox.settings.end()) return it->second;
  if (auto it = mailbox.postoffice_settings.find(std::string(key)); it != mailbox.postoffice_settings.end()) {
    return it->second;
  }
  return std::nullopt;
}

}  // namespace mailroom::storage
