// The list of protocol modules built into Mailroom.
#include "daemon/builtin_modules.h"

#include "modules/pop3/pop3_settings.h"
#include "modules/pop3/secrets.h"

namespace mailroom::builtin {

std::vector<std::string> module_names() { return {"pop3"}; }

const config::SettingsCatalog* settings_catalog(std::string_view module) {
  if (module == "pop3") return &pop3::pop3_settings_catalog();
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> default_services() { return {{"pop3", "pop3"}}; }

std::set<std::string> wanted_secret_kinds(const std::vector<storage::ServiceRecord>& services) {
  std::set<std::string> kinds;
  for (const auto& s : services) {
    if (!s.enabled || s.module != "pop3") continue;
    auto settings = config::ServiceSettings::build(pop3::pop3_settings_catalog(), s.settings);
    if (!settings) continue;
    auto k = pop3::wanted_secret_kinds(*settings);
    kinds.insert(k.begin(), k.end());
  }
  return kinds;
}

std::vector<storage::StoredSecret> derive_secrets(std::string_view password, const std::set<std::string>& kinds) {
  return pop3::derive_secrets(password, kinds);
}

std::vector<std::string> mechanisms_for_secrets(const std::vector<std::string>& kinds) {
  return pop3::mechanisms_for_secrets(kinds);
}

std::vector<std::string> plaintext_equivalent_secret_kinds() {
  std::vector<std::string> kinds;
  for (std::string_view kind : {pop3::kSecretCramMd5, pop3::kSecretNtHash, pop3::kSecretPlaintext}) {
    if (pop3::is_plaintext_equivalent(kind)) kinds.emplace_back(kind);
  }
  return kinds;
}

}  // namespace mailroom::builtin

#include "modules/pop3/pop3_module.h"

namespace mailroom::builtin {

std::vector<std::unique_ptr<core::Module>> make_modules(storage::AccountStore& accounts,
                                                        storage::MailStore& mail) {
  std::vector<std::unique_ptr<core::Module>> modules;
  modules.push_back(pop3::make_pop3_module(accounts, mail));
  return modules;
}

}  // namespace mailroom::builtin
