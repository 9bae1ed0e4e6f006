// mailctl daemon show|set|unset: the daemon-wide settings (config::daemon_settings_catalog():
// logging of the daemon's own events, the metrics endpoint). Checked against the catalog before
// they are stored; the running daemon applies them live, as it does service settings.
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "admin-cli/commands.h"
#include "admin-cli/setting_text.h"
#include "core/config/daemon_settings.h"

namespace mailroom::cli {

namespace {

const config::SettingSpec* find_spec(const std::string& key) {
  return config::daemon_settings_catalog().find(key);
}

Error unknown_key(const std::string& key) {
  return make_error(ErrorCode::kNotFound,
                    "unknown daemon setting '" + key + "' (see 'mailctl daemon show')");
}

Status run_show(const Context& ctx) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto stored = (*store)->daemon_settings();
  if (!stored) return stored.error();
  const auto& catalog = config::daemon_settings_catalog();
  if (ctx.json) {
    print_json({{"settings", settings_json(catalog, *stored)}});
    return {};
  }
  std::cout << "daemon-wide settings\n";
  print_settings(std::cout, catalog, *stored, "mailctl daemon unset");
  return {};
}

Status run_set(const Context& ctx, const std::string& key, const std::optional<std::string>& value) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  const config::SettingSpec* spec = find_spec(key);
  if (!value) {
    // unset also removes a stored key this build no longer knows.
    auto stored = (*store)->daemon_settings();
    if (!stored) return stored.error();
    const bool was_set = stored->count(key) > 0;
    if (spec == nullptr && !was_set) return unknown_key(key);
    if (Status s = (*store)->set_daemon_setting(key, std::nullopt); !s) return s;
    const std::string def = spec ? spec->default_value : "";
    ctx.done("unset daemon " + key + (spec ? " (back to the default " + shown_value(*spec, def) + ")" : ""),
             {{"key", key},
              {"value", spec ? json_setting_value(*spec, def) : nlohmann::ordered_json()},
              {"set", false},
              {"was_set", was_set}});
    return {};
  }
  if (spec == nullptr) return unknown_key(key);
  auto canonical = config::normalize_setting(*spec, *value);
  if (!canonical) return canonical.error();
  if (Status s = (*store)->set_daemon_setting(key, *canonical); !s) return s;
  ctx.done("set daemon " + key + " = " + shown_value(*spec, *canonical),
           {{"key", key}, {"value", json_setting_value(*spec, *canonical)}, {"set", true}});
  return {};
}

}  // namespace

void add_daemon_commands(CLI::App& app, Context& ctx) {
  CLI::App* group = app.add_subcommand(
      "daemon", "Daemon-wide settings: logging of the daemon's own events, the metrics endpoint");
  group->require_subcommand(1);

  CLI::App* show = group->add_subcommand("show", "Show every daemon-wide setting with its value and default");
  show->callback([&ctx] { ctx.action = [&ctx] { return run_show(ctx); }; });

  auto key = std::make_shared<std::string>();
  auto value = std::make_shared<std::string>();
  CLI::App* set = group->add_subcommand("set", "Change one daemon-wide setting (validated; applied live)");
  set->add_option("KEY", *key, "Setting name")->required();
  set->add_option("VALUE", *value, "New value")->required();
  set->callback([&ctx, key, value] { ctx.action = [&ctx, key, value] { return run_set(ctx, *key, *value); }; });

  auto unset_key = std::make_shared<std::string>();
  CLI::App* unset = group->add_subcommand("unset", "Return one daemon-wide setting to its default");
  unset->add_option("KEY", *unset_key, "Setting name")->required();
  unset->callback([&ctx, unset_key] {
    ctx.action = [&ctx, unset_key] { return run_set(ctx, *unset_key, std::nullopt); };
  });
}

}  // namespace mailroom::cli
