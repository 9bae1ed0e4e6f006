// The list of protocol modules built into Mailroom: the only place that names them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/setting_spec.h"

namespace mailroom::builtin {

// Module names known to this build, e.g. {"pop3"}.
std::vector<std::string> module_names();
// The settings catalog of a module; nullptr for an unknown module.
const config::SettingsCatalog* settings_catalog(std::string_view module);
// The services `mailctl init` creates: {service name, module name}.
std::vector<std::pair<std::string, std::string>> default_services();

}  // namespace mailroom::builtin

#include <memory>
#include <set>

#include "core/module/module.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"

namespace mailroom::builtin {

// The password-derived secret kinds the enabled services need (see modules/pop3/secrets.h);
// services whose settings do not build are skipped.
std::set<std::string> wanted_secret_kinds(const std::vector<storage::ServiceRecord>& services);
// Derives them from a plaintext password (slow: off the event loop).
std::vector<storage::StoredSecret> derive_secrets(std::string_view password, const std::set<std::string>& kinds);
// The extra login mechanisms secrets of these kinds allow (for 'mailctl mailbox show').
std::vector<std::string> mechanisms_for_secrets(const std::vector<std::string>& kinds);
// The plaintext-equivalent kinds any built-in module can store (what mailctl deletes when no
// service wants them any more).
std::vector<std::string> plaintext_equivalent_secret_kinds();

// Creates one instance of every built-in module, wired to the stores.
std::vector<std::unique_ptr<core::Module>> make_modules(storage::AccountStore& accounts,
                                                        storage::MailStore& mail);

}  // namespace mailroom::builtin
