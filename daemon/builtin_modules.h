// The table of protocol modules built into Mailroom: the only place that names them.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/setting_spec.h"
#include "core/module/module_descriptor.h"

namespace mailroom::builtin {

// The table of built-in modules: one descriptor per module, names unique. A new module adds
// its descriptor here.
std::span<const core::ModuleDescriptor> builtin_modules();
// The descriptor of a module; nullptr for an unknown module.
const core::ModuleDescriptor* find_module(std::string_view module);

// Module names known to this build, e.g. {"pop3"}.
std::vector<std::string> module_names();
// The settings catalog of a module (composed once by the core); nullptr for an unknown module.
const config::SettingsCatalog* settings_catalog(std::string_view module);
// The services `mailctl init` creates: {service name, module name}, each module's defaults.
std::vector<std::pair<std::string, std::string>> default_services();

}  // namespace mailroom::builtin

#include <memory>
#include <set>

#include "core/module/module.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"

namespace mailroom::builtin {

// The password-derived secret kinds the enabled services need (each module says what its
// settings offer, auth/secrets.h decides the kinds); services whose settings do not build are
// skipped. Deriving them: auth::derive_secrets().
std::set<std::string> wanted_secret_kinds(const std::vector<storage::ServiceRecord>& services);
// The same for the services stored now (blocking: reads the store). A password change derives
// these: `mailctl mailbox add|passwd` and poppassd (through core::ModuleStores).
Result<std::set<std::string>> wanted_secret_kinds(storage::AccountStore& accounts);

// Creates one instance of every built-in module, wired to the stores, with its descriptor and
// catalog. `data_dir`: the daemon's (ModuleStores::data_dir); `leases`: ModuleStores::leases.
std::vector<core::ModuleInstance> make_modules(storage::AccountStore& accounts, storage::MailStore& mail,
                                               const std::string& data_dir,
                                               std::shared_ptr<storage::LeaseKeeper> leases = nullptr);

}  // namespace mailroom::builtin
