// The pop3 module's settings: its own, and its whole catalog (the core's network and TLS
// settings with pop3's defaults, then its own).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/secrets.h"
#include "core/config/setting_spec.h"

namespace mailroom::pop3 {

// The settings only pop3 has (banner, auth_mechanisms, apop, ...), for its descriptor.
std::vector<config::SettingSpec> pop3_setting_specs();
// The composed catalog (core::compose_settings_catalog of pop3_descriptor()).
const config::SettingsCatalog& pop3_settings_catalog();

// "plain, LOGIN" -> {"PLAIN", "LOGIN"}: upper-cased, separated by spaces or commas, no repeats.
std::vector<std::string> split_mechanisms(std::string_view text);

// The byte a NUL becomes under the nul_bytes setting ("0x80", "space"); nullopt for "keep".
std::optional<char> nul_replacement(std::string_view nul_bytes);

// What a service with these settings offers for logins (auth_mechanisms, apop), in the terms of
// the secret-kind policy (auth/secrets.h).
auth::LoginOffer login_offer(const config::ServiceSettings& settings);

}  // namespace mailroom::pop3
