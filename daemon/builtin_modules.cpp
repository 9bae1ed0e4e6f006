// The list of protocol modules built into Mailroom.
#include "daemon/builtin_modules.h"

#include "modules/pop3/pop3_settings.h"

namespace mailroom::builtin {

std::vector<std::string> module_names() { return {"pop3"}; }

const config::SettingsCatalog* settings_catalog(std::string_view module) {
  if (module == "pop3") return &pop3::pop3_settings_catalog();
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> default_services() { return {{"pop3", "pop3"}}; }

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
