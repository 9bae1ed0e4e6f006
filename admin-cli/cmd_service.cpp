// mailctl service list|show|set|unset|enable|disable|settings-doc: a service is a module plus
// its settings (start, stop, restart and status act on the running daemon: cmd_control.cpp). Keys and values are checked against the module's settings catalog, so nothing
// the daemon would reject is ever stored.
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin-cli/commands.h"
#include "admin-cli/service_lookup.h"
#include "admin-cli/setting_text.h"
#include "admin-cli/service_checks.h"
#include "auth/secrets.h"
#include "daemon/builtin_modules.h"
#include "storage/node/node_settings_file.h"

namespace mailroom::cli {

namespace {

Status run_list(const Context& ctx) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto list = (*store)->list_services();
  if (!list) return list.error();
  if (ctx.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& s : *list) {
      const config::SettingsCatalog* catalog = builtin::settings_catalog(s.module);
      nlohmann::ordered_json overrides = nlohmann::ordered_json::object();
      for (const auto& [key, value] : s.settings) {
        const config::SettingSpec* spec = catalog ? catalog->find(key) : nullptr;
        overrides[key] = spec ? json_setting_value(*spec, value) : nlohmann::ordered_json(value);
      }
      out.push_back({{"service", s.name}, {"module", s.module}, {"enabled", s.enabled}, {"overrides", overrides}});
    }
    print_json(out);
    return {};
  }
  if (list->empty()) {
    print_line("no services (run 'mailctl init' to create the default ones)");
    return {};
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : *list) {
    rows.push_back({s.name, s.module, yes_no(s.enabled), std::to_string(s.settings.size())});
  }
  std::cout << format_table({"NAME", "MODULE", "ENABLED", "SETTINGS CHANGED"}, rows);
  return {};
}

// This node's usable local settings of service `svc` (DATA/node.json); a value its catalog refuses
// is left out with a warning on stderr, as the daemon leaves it out.
std::map<std::string, std::string> usable_local_settings(const storage::NodeSettings& node, const ServiceView& svc) {
  auto it = node.services.find(svc.record.name);
  if (it == node.services.end()) return {};
  std::vector<std::string> warnings;
  auto usable = storage::merge_node_settings(*svc.catalog, svc.record.name, {}, it->second, warnings);
  for (const auto& w : warnings) print_error("warning: " + w);
  return usable;
}

Status run_show(const Context& ctx, const std::string& name) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto svc = load_service(**store, name);
  if (!svc) return svc.error();
  auto node = storage::read_node_settings(ctx.data_dir());
  if (!node) return node.error();
  const auto local = usable_local_settings(*node, *svc);
  const auto& rec = svc->record;

  if (ctx.json) {
    print_json({{"service", rec.name},
                {"module", rec.module},
                {"enabled", rec.enabled},
                {"settings", settings_json(*svc->catalog, rec.settings, &local)}});
    return {};
  }
  std::cout << "service " << rec.name << " (module " << rec.module << ", "
            << (rec.enabled ? "enabled" : "disabled") << ")\n";
  print_settings(std::cout, *svc->catalog, rec.settings, "mailctl service unset " + rec.name, &local);
  return {};
}

// Appends to a cluster-wide set/unset outcome that this node keeps its own value of the key.
void note_local_override(const storage::NodeSettings& node, const ServiceView& svc, const std::string& key,
                         std::string& message, nlohmann::ordered_json& extra) {
  const auto local = usable_local_settings(node, svc);
  auto it = local.find(key);
  if (it == local.end()) return;
  const config::SettingSpec* spec = svc.catalog->find(key);
  message += "; this node keeps its local value " + shown_value(*spec, it->second) + " ('mailctl service unset --local " +
             svc.record.name + " " + key + "' drops it)";
  extra["local_value"] = json_setting_value(*spec, it->second);
}

// Appends the purge count to a set/unset outcome when something was deleted.
void note_purged(int64_t purged, std::string& message, nlohmann::ordered_json& extra) {
  if (purged <= 0) return;
  message += "; deleted " + std::to_string(purged) + " stored " + (purged == 1 ? "secret" : "secrets") +
             " of legacy mechanisms no service enables any more";
  extra["purged_secrets"] = purged;
}

// The setting is stored by then: say so, so the admin knows a retry only redoes the purge.
Error purge_failed(const std::string& name, const std::string& key, const Error& error) {
  return Error{error.code, "stored " + name + " " + key + ", but could not delete the secrets no mechanism needs any "
                           "more: " + error.message + " (run the command again)"};
}

// Checks the service's listener settings, as they would be stored, with this node's local settings
// `node` over them, against each other and against the other services (service_checks.h).
// Refused: kInvalidArgument naming every conflict, nothing stored. Warnings go to stderr.
Status check_before_storing(const Context& ctx, storage::AccountStore& store, const ServiceView& svc,
                            const std::map<std::string, std::string>& settings, bool enabled, const std::string& key,
                            const storage::NodeSettings& node) {
  auto all = store.list_services();
  if (!all) return all.error();
  for (auto& rec : *all) {
    if (rec.name != svc.record.name) continue;
    rec.settings = settings;
    rec.enabled = enabled;
  }
  Status checked = check_service_listeners(ctx.data_dir(), *all, node, svc.record.name, key);
  if (!checked) return Error{checked.error().code, checked.error().message + " (nothing was stored)"};
  return {};
}

// service set|unset --local: DATA/node.json, checked like a stored change.
Status run_set_local(const Context& ctx, const std::string& name, const std::string& key,
                     const std::optional<std::string>& value) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto svc = load_service(**store, name);
  if (!svc) return svc.error();
  if (Status s = storage::check_node_local_key(key); !s) return s;
  const config::SettingSpec* spec = svc->catalog->find(key);
  if (spec == nullptr) {
    return make_error(ErrorCode::kNotFound, "unknown setting '" + key + "' for service " + name +
                                                " (see 'mailctl service show " + name + "')");
  }
  auto lock = storage::lock_node_settings(ctx.data_dir());  // held until the file is replaced
  if (!lock) return lock.error();
  auto node = storage::read_node_settings(ctx.data_dir());
  if (!node) return node.error();
  storage::NodeSettings after = *node;
  auto& local = after.services[name];
  const bool was_set = local.count(key) > 0;
  auto stored = svc->record.settings.find(key);
  const std::string cluster = stored != svc->record.settings.end() ? stored->second : spec->default_value;
  std::string message;
  nlohmann::ordered_json extra = {{"service", name}, {"key", key}};
  if (value) {
    auto canonical = config::normalize_setting(*spec, *value);
    if (!canonical) return canonical.error();
    local[key] = *canonical;
    message = "set " + name + " " + key + " = " + shown_value(*spec, *canonical) + " on this node (" +
              storage::node_settings_path(ctx.data_dir()) + "; the cluster's value is " + shown_value(*spec, cluster) + ")";
    extra["value"] = json_setting_value(*spec, *canonical);
    extra["set"] = true;
  } else {
    local.erase(key);
    message = "unset " + name + " " + key + " on this node (back to the cluster's value " + shown_value(*spec, cluster) +
              ")" + (was_set ? "" : "; it was not set locally");
    extra["value"] = json_setting_value(*spec, cluster);
    extra["set"] = false;
    extra["was_set"] = was_set;
  }
  extra["local"] = true;
  if (local.empty()) after.services.erase(name);
  if (Status s = check_before_storing(ctx, **store, *svc, svc->record.settings, svc->record.enabled, key, after); !s) {
    return s;
  }
  if (value || was_set) {
    if (Status s = storage::write_node_settings(ctx.data_dir(), after); !s) return s;
  }
  ctx.done(message, std::move(extra));
  return {};
}

Status run_set(const Context& ctx, const std::string& name, const std::string& key,
               const std::optional<std::string>& value) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto svc = load_service(**store, name);
  if (!svc) return svc.error();
  auto node = storage::read_node_settings(ctx.data_dir());
  if (!node) return node.error();
  const config::SettingSpec* spec = svc->catalog->find(key);
  const bool stored = svc->record.settings.count(key) > 0;
  // unset also accepts a stored key the catalog no longer knows, so stale keys can be cleaned.
  if (spec == nullptr && !(stored && !value)) {
    return make_error(ErrorCode::kNotFound, "unknown setting '" + key + "' for service " + name +
                                                " (see 'mailctl service show " + name + "')");
  }
  if (!value) {
    if (spec != nullptr) {
      std::map<std::string, std::string> after = svc->record.settings;
      after.erase(key);
      if (Status s = check_before_storing(ctx, **store, *svc, after, svc->record.enabled, key, *node); !s) return s;
    }
    if (Status s = (*store)->set_service_setting(name, key, std::nullopt); !s) return s;
    auto purged = purge_unwanted_secrets(**store);
    if (!purged) return purge_failed(name, key, purged.error());
    const std::string def = spec ? spec->default_value : "";
    std::string message =
        "unset " + name + " " + key + (spec ? " (back to the default " + shown_value(*spec, def) + ")" : "");
    nlohmann::ordered_json extra = {{"service", name},
                                    {"key", key},
                                    {"value", spec ? json_setting_value(*spec, def) : nlohmann::ordered_json(nullptr)},
                                    {"set", false},
                                    {"was_set", stored}};
    note_purged(*purged, message, extra);
    if (spec != nullptr) note_local_override(*node, *svc, key, message, extra);
    ctx.done(message, std::move(extra));
    return {};
  }
  auto canonical = config::normalize_setting(*spec, *value);
  if (!canonical) return canonical.error();
  std::map<std::string, std::string> after = svc->record.settings;
  after[key] = *canonical;
  if (Status s = check_before_storing(ctx, **store, *svc, after, svc->record.enabled, key, *node); !s) return s;
  if (Status s = (*store)->set_service_setting(name, key, *canonical); !s) return s;
  auto purged = purge_unwanted_secrets(**store);
  if (!purged) return purge_failed(name, key, purged.error());
  std::string message = "set " + name + " " + key + " = " + shown_value(*spec, *canonical);
  nlohmann::ordered_json extra = {
      {"service", name}, {"key", key}, {"value", json_setting_value(*spec, *canonical)}, {"set", true}};
  note_purged(*purged, message, extra);
  note_local_override(*node, *svc, key, message, extra);
  ctx.done(message, std::move(extra));
  return {};
}

Status run_enable(const Context& ctx, const std::string& name, bool enabled) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto svc = load_service(**store, name);
  if (!svc) return svc.error();
  if (enabled && !svc->record.enabled) {
    auto node = storage::read_node_settings(ctx.data_dir());
    if (!node) return node.error();
    if (Status s = check_before_storing(ctx, **store, *svc, svc->record.settings, true, "", *node); !s) return s;
  }
  if (Status s = (*store)->set_service_enabled(name, enabled); !s) return s;
  ctx.done(std::string(enabled ? "enabled" : "disabled") + " service " + name,
           {{"service", name}, {"enabled", enabled}});
  return {};
}

std::string markdown_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else out.push_back(c);
  }
  return out;
}

// The docs/settings.md table for one module, generated from the catalog (no data dir needed).
Status run_settings_doc(const Context& ctx, const std::string& module) {
  const config::SettingsCatalog* catalog = builtin::settings_catalog(module);
  if (catalog == nullptr) {
    std::string known;
    for (const auto& m : builtin::module_names()) known += (known.empty() ? "" : ", ") + m;
    return make_error(ErrorCode::kNotFound, "unknown module '" + module + "' (known: " + known + ")");
  }
  if (ctx.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& spec : catalog->all()) {
      nlohmann::ordered_json item = {{"key", spec.key},
                             {"type", config::setting_type_name(spec.type)},
                             {"default", json_setting_value(spec, spec.default_value)},
                             {"doc", spec.doc}};
      if (spec.type == config::SettingType::kInt) {
        item["min"] = spec.min;
        item["max"] = spec.max;
      }
      if (spec.type == config::SettingType::kString) item["max_length"] = spec.max_length;
      out.push_back(item);
    }
    print_json(out);
    return {};
  }
  std::cout << "| Key | Type | Default | Description |\n|---|---|---|---|\n";
  for (const auto& spec : catalog->all()) {
    const std::string def = spec.default_value.empty() ? "*(empty)*" : "`" + markdown_cell(spec.default_value) + "`";
    std::cout << "| `" << spec.key << "` | " << markdown_cell(type_text(spec)) << " | " << def << " | "
              << markdown_cell(spec.doc) << " |\n";
  }
  return {};
}

}  // namespace

void add_service_commands(CLI::App& app, Context& ctx) {
  CLI::App* group = app.add_subcommand("service", "Manage services (a protocol module and its settings)");
  group->require_subcommand(1);

  CLI::App* list = group->add_subcommand("list", "List services");
  list->callback([&ctx] { ctx.action = [&ctx] { return run_list(ctx); }; });

  auto show_name = std::make_shared<std::string>();
  CLI::App* show = group->add_subcommand("show", "Show every setting of a service with its value and default");
  show->add_option("NAME", *show_name, "Service name, e.g. pop3")->required();
  show->callback([&ctx, show_name] { ctx.action = [&ctx, show_name] { return run_show(ctx, *show_name); }; });

  struct SetArgs {
    std::string name, key, value;
    bool local = false;
  };
  auto set_args = std::make_shared<SetArgs>();
  CLI::App* set = group->add_subcommand("set", "Change one setting (validated, stored in canonical form)");
  set->add_option("NAME", set_args->name, "Service name")->required();
  set->add_option("KEY", set_args->key, "Setting key (see 'mailctl service show NAME')")->required();
  set->add_option("VALUE", set_args->value, "New value")->required();
  set->add_flag("--local", set_args->local,
                "Only on this node (DATA/node.json, over the cluster's value): port, alt_port, binds, tls_port, "
                "tls_binds");
  set->callback([&ctx, set_args] {
    ctx.action = [&ctx, set_args] {
      if (set_args->local) return run_set_local(ctx, set_args->name, set_args->key, set_args->value);
      return run_set(ctx, set_args->name, set_args->key, set_args->value);
    };
  });

  auto unset_args = std::make_shared<SetArgs>();
  CLI::App* unset = group->add_subcommand("unset", "Return one setting to its default");
  unset->add_option("NAME", unset_args->name, "Service name")->required();
  unset->add_option("KEY", unset_args->key, "Setting key")->required();
  unset->add_flag("--local", unset_args->local, "Remove this node's own value (the cluster's applies again)");
  unset->callback([&ctx, unset_args] {
    ctx.action = [&ctx, unset_args] {
      if (unset_args->local) return run_set_local(ctx, unset_args->name, unset_args->key, std::nullopt);
      return run_set(ctx, unset_args->name, unset_args->key, std::nullopt);
    };
  });

  for (bool enabled : {true, false}) {
    auto name = std::make_shared<std::string>();
    CLI::App* cmd = group->add_subcommand(enabled ? "enable" : "disable",
                                          enabled ? "Enable a service" : "Disable a service (the daemon stops serving it)");
    cmd->add_option("NAME", *name, "Service name")->required();
    cmd->callback([&ctx, name, enabled] {
      ctx.action = [&ctx, name, enabled] { return run_enable(ctx, *name, enabled); };
    });
  }

  auto doc_module = std::make_shared<std::string>();
  CLI::App* doc = group->add_subcommand("settings-doc", "Print a module's settings as the markdown table of docs/settings.md");
  doc->add_option("MODULE", *doc_module, "Module name, e.g. pop3")->required();
  doc->callback([&ctx, doc_module] { ctx.action = [&ctx, doc_module] { return run_settings_doc(ctx, *doc_module); }; });
}

}  // namespace mailroom::cli
