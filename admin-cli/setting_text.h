// How mailctl shows a setting from its SettingSpec (service settings and daemon settings alike).
#pragma once

#include <map>
#include <ostream>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/config/setting_spec.h"

namespace mailroom::cli {

// "int, 1-65535", "bool, on|off", "string, at most 400 chars".
std::string type_text(const config::SettingSpec& spec);
// A value as `show` prints it: strings quoted, ints and bools bare.
std::string shown_value(const config::SettingSpec& spec, const std::string& value);

// Every setting of `catalog` with its effective value (`stored` over the default) as `show --json`
// prints them: [{"key", "value", "default", "set", "type", "doc"}], values typed by their spec.
// With `local` (a service's node-local settings, valid ones only), those win, and every entry has
// "local": true|false; a local one also "cluster_value" (what the cluster's stored value or the
// default would be).
nlohmann::ordered_json settings_json(const config::SettingsCatalog& catalog,
                                     const std::map<std::string, std::string>& stored,
                                     const std::map<std::string, std::string>* local = nullptr);
// The same for people: one block per setting (a local one says so, with the cluster's value), then
// the stored keys the catalog does not know, each with the command that removes it
// (`unset_command` + " KEY").
void print_settings(std::ostream& out, const config::SettingsCatalog& catalog,
                    const std::map<std::string, std::string>& stored, const std::string& unset_command,
                    const std::map<std::string, std::string>* local = nullptr);

}  // namespace mailroom::cli
