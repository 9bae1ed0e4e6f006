// The table of protocol modules built into Mailroom.
#include "daemon/builtin_modules.h"

#include <array>

#include "core/module/module_catalog.h"
#include "modules/pop3/pop3_descriptor.h"
#include "modules/poppassd/poppassd_descriptor.h"
#include "modules/smtp-stub/smtp_descriptor.h"

namespace mailroom::builtin {

std::span<const core::ModuleDescriptor> builtin_modules() {
  static const std::array table{
      pop3::pop3_descriptor(),
      smtp::smtp_descriptor(),
      smtp::lmtp_descriptor(),
      poppassd::poppassd_descriptor(),
  };
  return table;
}

namespace {

// The composed catalogs, in table order (built once; thread-safe static initialisation).
const std::vector<config::SettingsCatalog>& catalogs() {
  static const std::vector<config::SettingsCatalog> all = [] {
    std::vector<config::SettingsCatalog> out;
    for (const auto& d : builtin_modules()) out.push_back(core::compose_settings_catalog(d));
    return out;
  }();
  return all;
}

std::ptrdiff_t index_of(std::string_view module) {
  const auto table = builtin_modules();
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (table[i].name == module) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

}  // namespace

const core::ModuleDescriptor* find_module(std::string_view module) {
  const auto i = index_of(module);
  return i < 0 ? nullptr : &builtin_modules()[static_cast<std::size_t>(i)];
}

std::vector<std::string> module_names() {
  std::vector<std::string> names;
  for (const auto& d : builtin_modules()) names.push_back(d.name);
  return names;
}

const config::SettingsCatalog* settings_catalog(std::string_view module) {
  const auto i = index_of(module);
  return i < 0 ? nullptr : &catalogs()[static_cast<std::size_t>(i)];
}

std::vector<std::pair<std::string, std::string>> default_services() {
  std::vector<std::pair<std::string, std::string>> services;
  for (const auto& d : builtin_modules()) {
    for (const auto& service : d.default_services) services.emplace_back(service, d.name);
  }
  return services;
}

std::set<std::string> wanted_secret_kinds(const std::vector<storage::ServiceRecord>& services) {
  std::set<std::string> kinds;
  for (const auto& s : services) {
    const core::ModuleDescriptor* module = find_module(s.module);
    if (!s.enabled || module == nullptr || !module->wanted_secret_kinds) continue;
    auto settings = config::ServiceSettings::build(*settings_catalog(s.module), s.settings);
    if (!settings) continue;
    auto k = module->wanted_secret_kinds(*settings);
    kinds.insert(k.begin(), k.end());
  }
  return kinds;
}

Result<std::set<std::string>> wanted_secret_kinds(storage::AccountStore& accounts) {
  auto services = accounts.list_services();
  if (!services) return services.error();
  return wanted_secret_kinds(*services);
}

}  // namespace mailroom::builtin

namespace mailroom::builtin {

std::vector<core::ModuleInstance> make_modules(storage::AccountStore& accounts, storage::MailStore& mail,
                                               const std::string& data_dir,
                                               std::shared_ptr<storage::LeaseKeeper> leases) {
  const core::ModuleStores stores{accounts, mail, [&accounts] { return wanted_secret_kinds(accounts); }, data_dir,
                                  std::move(leases)};
  std::vector<core::ModuleInstance> modules;
  for (const auto& d : builtin_modules()) modules.push_back({&d, settings_catalog(d.name), d.make(stores)});
  return modules;
}

}  // namespace mailroom::builtin
