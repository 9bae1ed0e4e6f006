// `mailctl postoffice|mailbox set|unset NAME KEY [VALUE]` and how show/list print account settings
// (config::account_settings_catalog(): login_delay, expire_days, quota_bytes, quota_messages).
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "admin-cli/output.h"

namespace mailroom::cli {

// Whose settings a set/unset command changes.
enum class AccountSettingsOwner { kPostoffice, kMailbox };

// Adds `set NAME KEY VALUE` and `unset NAME KEY` to `group` (the postoffice or mailbox group).
void add_account_setting_commands(CLI::App* group, Context& ctx, AccountSettingsOwner owner);

// {"login_delay": 30, ...}: the stored values, typed by their spec (absent keys are not listed).
nlohmann::ordered_json account_settings_json(const std::map<std::string, std::string>& stored);

// "settings:   login_delay 30, quota_bytes 1048576" (or "(none; the service defaults apply)").
void print_account_settings(std::ostream& out, const std::string& label,
                            const std::map<std::string, std::string>& stored);

}  // namespace mailroom::cli
