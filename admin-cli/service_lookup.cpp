// Service lookup shared by the service, access and block commands, and the purge of derived
// secrets no service needs (service set/unset, apply).
#include "admin-cli/service_lookup.h"

#include <set>

#include "auth/secrets.h"
#include "daemon/builtin_modules.h"

namespace mailroom::cli {

config::ServiceSettings ServiceView::effective() const {
  std::map<std::string, std::string> usable;
  for (const auto& [key, value] : record.settings) {
    const config::SettingSpec* spec = catalog->find(key);
    if (spec != nullptr && config::normalize_setting(*spec, value)) usable.emplace(key, value);
  }
  auto built = config::ServiceSettings::build(*catalog, usable);
  return built ? std::move(built).value() : config::ServiceSettings{};
}

Result<ServiceView> load_service(storage::AccountStore& store, const std::string& name) {
  auto record = store.get_service(name);
  if (!record) {
    if (record.error().code == ErrorCode::kNotFound) {
      return make_error(ErrorCode::kNotFound, "unknown service '" + name + "' (see 'mailctl service list')");
    }
    return record.error();
  }
  const config::SettingsCatalog* catalog = builtin::settings_catalog(record->module);
  if (catalog == nullptr) {
    return make_error(ErrorCode::kPermanent, "service " + name + " uses module '" + record->module +
                                                "', which this build of Mailroom does not have");
  }
  return ServiceView{std::move(record).value(), catalog};
}

// Deletes the stored plaintext equivalents that no service's settings ask for any more (a
// legacy mechanism was switched off). Disabled services count as if enabled, so disabling one
// for a while loses nothing; a stored value the catalog rejects counts as its default.
Result<int64_t> purge_unwanted_secrets(storage::AccountStore& store) {
  auto services = store.list_services();
  if (!services) return services.error();
  for (auto& rec : *services) {
    rec.enabled = true;
    const config::SettingsCatalog* catalog = builtin::settings_catalog(rec.module);
    if (catalog == nullptr) continue;
    std::map<std::string, std::string> usable;
    for (const auto& [key, value] : rec.settings) {
      const config::SettingSpec* spec = catalog->find(key);
      if (spec != nullptr && config::normalize_setting(*spec, value)) usable.emplace(key, value);
    }
    rec.settings = std::move(usable);
  }
  const std::set<std::string> wanted = builtin::wanted_secret_kinds(*services);
  std::vector<std::string> unwanted;
  for (std::string& kind : auth::plaintext_equivalent_kinds()) {
    if (wanted.count(kind) == 0) unwanted.push_back(std::move(kind));
  }
  return store.purge_secrets(unwanted);
}

}  // namespace mailroom::cli
