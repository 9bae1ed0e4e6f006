// ModuleDescriptor: what a protocol module declares once (its name, its own settings, the
// defaults it wants for the core's settings, the fixed replies the core sends for it, its
// default services and a factory). The core composes the settings catalog from it
// (module_catalog.h); the built-in table (daemon/builtin_modules.h) lists one per module.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/config/setting_spec.h"
#include "core/module/module.h"

namespace mailroom::storage {
class AccountStore;
class LeaseKeeper;
class MailStore;
}  // namespace mailroom::storage

namespace mailroom::core {

// A core setting (network or TLS) as this module wants it: another default, and/or a note
// appended to its help text (e.g. the protocol's RFC on that limit).
struct SettingDefault {
  std::string key;
  std::optional<std::string> value;  // nullopt: the core's default stays
  std::string note;                  // empty: none
};

// Lines the core sends on the module's behalf, each with its line ending; empty sends nothing.
struct ModuleReplies {
  std::string busy;             // over max_connections / max_connections_per_ip, then closed
  std::string idle_timeout;     // idle_timeout passed, then closed
  std::string command_timeout;  // command_timeout passed, then closed
  std::string login_timeout;    // login_timeout passed, then closed
  std::string auto_denied;      // an over-long line put the client on the deny list, then closed
  // The administrator ended the session (mailctl sessions kill, service stop or restart), sent
  // once no command of it is running, then closed.
  std::string ended;
  // The reply for a deadline (kHandshake has none: nothing can be said before TLS is up).
  const std::string& for_timeout(Timeout which) const;
};

// What a module instance is wired to.
struct ModuleStores {
  storage::AccountStore& accounts;
  storage::MailStore& mail;
  // The password-derived secret kinds the enabled services want (auth/secrets.h names them),
  // read from the store now (blocking: call it on a worker). A module that changes passwords
  // (poppassd) derives these, as `mailctl mailbox passwd` does. Unset: none.
  std::function<Result<std::set<std::string>>()> wanted_secret_kinds;
  // The daemon's data directory ("" in tests): a module keeps its own files below it (POP3's
  // XTND XMIT queues remote mail in DATA/queue, storage/queue/outbound_queue.h).
  std::string data_dir;
  // The cluster-wide one-session-per-mailbox leases (storage/lease/lease_keeper.h); null where
  // the daemon runs alone on its database (SQLite) and in tests.
  std::shared_ptr<storage::LeaseKeeper> leases;
};

struct ModuleDescriptor {
  std::string name;  // the module name services are stored with
  int64_t port = 0;      // default plain port
  int64_t tls_port = 0;  // default implicit TLS port
  // Other core settings this protocol wants different (line limit, idle timeout, ...).
  std::vector<SettingDefault> core_defaults;
  // The module's own settings, after the core's in the catalog; no key may repeat a core one.
  std::vector<config::SettingSpec> settings;
  ModuleReplies replies;
  // The services `mailctl init` creates for this module (at least one), enabled or not.
  std::vector<std::string> default_services;
  bool default_services_enabled = true;
  std::function<std::unique_ptr<Module>(const ModuleStores&)> make;
  // The password-derived secret kinds a service of this module with these settings needs kept
  // (auth/secrets.h names them); unset for a module without logins.
  std::function<std::set<std::string>(const config::ServiceSettings&)> wanted_secret_kinds;
};

// A module ready to run services: its descriptor, its composed catalog and its instance.
struct ModuleInstance {
  const ModuleDescriptor* descriptor = nullptr;
  const config::SettingsCatalog* catalog = nullptr;
  std::unique_ptr<Module> module;
};

}  // namespace mailroom::core
