// Service lookup shared by the service, access and block commands.
#include "admin-cli/service_lookup.h"

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

}  // namespace mailroom::cli
