// Account settings from the command line: validation against the catalog, storing, showing.
#include "admin-cli/account_settings_cli.h"

#include <memory>
#include <optional>
#include <vector>

#include "admin-cli/setting_text.h"
#include "admin-cli/suggest.h"
#include "core/config/account_settings.h"
#include "storage/address.h"

namespace mailroom::cli {

namespace {

const config::SettingsCatalog& catalog() { return config::account_settings_catalog(); }

Result<const config::SettingSpec*> find_spec(const std::string& key) {
  if (const auto* spec = catalog().find(key)) return spec;
  std::vector<std::string> keys;
  std::string listed;
  for (const auto& s : catalog().all()) {
    keys.push_back(s.key);
    listed += (listed.empty() ? "" : ", ") + s.key;
  }
  std::string hint;
  if (auto near = nearest_name(key, keys)) hint = " (did you mean '" + *near + "'?)";
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown setting '" + key + "'" + hint + "; the settings are " + listed);
}

// Stores (or removes) one value for a postoffice or a mailbox; returns the canonical name.
Result<std::string> store_value(storage::AccountStore& store, AccountSettingsOwner owner, const std::string& raw,
                                const std::string& key, const std::optional<std::string>& value) {
  if (owner == AccountSettingsOwner::kPostoffice) {
    auto name = storage::normalize_postoffice_name(raw);
    if (!name) return name.error();
    if (Status s = store.set_postoffice_setting(*name, key, value); !s) return s.error();
    return *name;
  }
  auto address = storage::parse_address(raw);
  if (!address) return address.error();
  if (Status s = store.set_mailbox_setting(*address, key, value); !s) return s.error();
  return address->str();
}

Status run_set(const Context& ctx, AccountSettingsOwner owner, const std::string& raw, const std::string& key,
               const std::optional<std::string>& value) {
  auto spec = find_spec(key);
  if (!spec) return spec.error();
  std::optional<std::string> canonical;
  if (value) {
    auto normalized = config::normalize_setting(**spec, *value);
    if (!normalized) return normalized.error();
    canonical = std::move(*normalized);
  }
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto name = store_value(**store, owner, raw, key, canonical);
  if (!name) return name.error();
  const bool is_postoffice = owner == AccountSettingsOwner::kPostoffice;
  nlohmann::ordered_json extra = {{is_postoffice ? "postoffice" : "address", *name},
                                  {"key", key},
                                  {"value", canonical ? json_setting_value(**spec, *canonical) : nullptr},
                                  {"set", canonical.has_value()}};
  const std::string fallback = is_postoffice ? "the service setting or default applies"
                                             : "its postoffice's value, else the service setting or default, applies";
  ctx.done(canonical ? "set " + *name + " " + key + " = " + shown_value(**spec, *canonical)
                     : "unset " + *name + " " + key + " (" + fallback + ")",
           std::move(extra));
  return {};
}

}  // namespace

void add_account_setting_commands(CLI::App* group, Context& ctx, AccountSettingsOwner owner) {
  const bool is_postoffice = owner == AccountSettingsOwner::kPostoffice;
  const std::string what = is_postoffice ? "NAME" : "ADDRESS";
  const std::string what_help = is_postoffice ? "Postoffice name" : "mailbox@postoffice";
  std::string keys;
  for (const auto& s : catalog().all()) keys += (keys.empty() ? "" : ", ") + s.key;

  struct Args {
    std::string name, key, value;
  };
  auto set_args = std::make_shared<Args>();
  CLI::App* set = group->add_subcommand(
      "set", is_postoffice ? "Set an account setting for every mailbox of a postoffice (a mailbox's own value wins)"
                           : "Set an account setting for one mailbox (wins over its postoffice's)");
  set->add_option(what, set_args->name, what_help)->required();
  set->add_option("KEY", set_args->key, keys)->required();
  set->add_option("VALUE", set_args->value, "The value (validated; see docs/settings.md)")->required();
  set->callback([&ctx, owner, set_args] {
    ctx.action = [&ctx, owner, set_args] {
      return run_set(ctx, owner, set_args->name, set_args->key, set_args->value);
    };
  });

  auto unset_args = std::make_shared<Args>();
  CLI::App* unset = group->add_subcommand("unset", "Remove an account setting (the next level's value applies)");
  unset->add_option(what, unset_args->name, what_help)->required();
  unset->add_option("KEY", unset_args->key, keys)->required();
  unset->callback([&ctx, owner, unset_args] {
    ctx.action = [&ctx, owner, unset_args] {
      return run_set(ctx, owner, unset_args->name, unset_args->key, std::nullopt);
    };
  });
}

nlohmann::ordered_json account_settings_json(const std::map<std::string, std::string>& stored) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& spec : catalog().all()) {
    if (auto it = stored.find(spec.key); it != stored.end()) out[spec.key] = json_setting_value(spec, it->second);
  }
  return out;
}

void print_account_settings(std::ostream& out, const std::string& label,
                            const std::map<std::string, std::string>& stored) {
  std::string text;
  for (const auto& spec : catalog().all()) {
    if (auto it = stored.find(spec.key); it != stored.end()) {
      text += (text.empty() ? "" : ", ") + spec.key + " " + shown_value(spec, it->second);
    }
  }
  out << label << (text.empty() ? "(none)" : text) << "\n";
}

}  // namespace mailroom::cli
