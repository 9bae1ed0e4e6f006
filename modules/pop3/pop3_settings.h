// The pop3 module's settings: the core's network settings plus the protocol's own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "auth/secrets.h"
#include "core/config/setting_spec.h"

namespace mailroom::pop3 {

const config::SettingsCatalog& pop3_settings_catalog();

// "plain, LOGIN" -> {"PLAIN", "LOGIN"}: upper-cased, separated by spaces or commas, no repeats.
std::vector<std::string> split_mechanisms(std::string_view text);

// What a service with these settings offers for logins (auth_mechanisms, apop), in the terms of
// the secret-kind policy (auth/secrets.h).
auth::LoginOffer login_offer(const config::ServiceSettings& settings);

}  // namespace mailroom::pop3
