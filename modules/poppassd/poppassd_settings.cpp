// Declarations of the poppassd module's own settings with their defaults and doc lines.
#include "modules/poppassd/poppassd_settings.h"

#include "core/module/module_catalog.h"
#include "modules/poppassd/poppassd_descriptor.h"
#include "modules/poppassd/session.h"

namespace mailroom::poppassd {

std::vector<config::SettingSpec> poppassd_setting_specs() {
  std::vector<config::SettingSpec> specs;
  specs.push_back(config::bool_setting(
      "allow_password_change", false,
      "Let mailbox owners change their password with the poppassd protocol (older Eudora versions). Off: "
      "USER is answered '500 Password changes are not allowed on this server.' and no password is ever "
      "checked. A new password must pass the password policy (daemon setting password_min_length)."));
  specs.push_back(config::string_setting("banner", std::string(kDefaultBanner), kMaxBannerLength,
                                         "Text of the greeting after '200 <host name> '."));
  specs.push_back(config::int_setting("max_bad_commands", 10, 1, 1000,
                                      "Unknown or out-of-order commands and refused new passwords allowed in "
                                      "one session before it is ended."));
  return specs;
}

const config::SettingsCatalog& poppassd_settings_catalog() {
  static const config::SettingsCatalog catalog = core::compose_settings_catalog(poppassd_descriptor());
  return catalog;
}

}  // namespace mailroom::poppassd
