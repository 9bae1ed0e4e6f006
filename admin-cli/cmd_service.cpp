// mailctl service list|show|set|unset|enable|disable|settings-doc: a service is a module plus
// its settings. Keys and values are checked against the module's settings catalog, so nothing
// the daemon would reject is ever stored.
#include <signal.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin-cli/commands.h"
#include "admin-cli/service_lookup.h"
#include "auth/secrets.h"
#include "daemon/builtin_modules.h"

namespace mailroom::cli {

namespace {

std::string type_text(const config::SettingSpec& spec) {
  std::string t = config::setting_type_name(spec.type);
  if (spec.type == config::SettingType::kInt) {
    t += ", " + std::to_string(spec.min) + "-" + std::to_string(spec.max);
  } else if (spec.type == config::SettingType::kBool) {
    t += ", on|off";
  } else {
    t += ", at most " + std::to_string(spec.max_length) + " chars";
  }
  return t;
}

std::string shown_value(const config::SettingSpec& spec, const std::string& v) {
  return spec.type == config::SettingType::kString ? "\"" + v + "\"" : v;
}

Status run_list(const Context& ctx) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto list = (*store)->list_services();
  if (!list) return list.error();
  if (ctx.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& s : *list) {
      out.push_back({{"name", s.name}, {"module", s.module}, {"enabled", s.enabled}, {"overrides", s.settings}});
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

Status run_show(const Context& ctx, const std::string& name) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto svc = load_service(**store, name);
  if (!svc) return svc.error();
  const auto& rec = svc->record;

  if (ctx.json) {
    nlohmann::ordered_json settings = nlohmann::ordered_json::array();
    for (const auto& spec : svc->catalog->all()) {
      auto it = rec.settings.find(spec.key);
      const bool set = it != rec.settings.end();
      settings.push_back({{"key", spec.key},
                          {"value", set ? it->second : spec.default_value},
                          {"default", spec.default_value},
                          {"set", set},
                          {"type", config::setting_type_name(spec.type)},
                          {"doc", spec.doc}});
    }
    print_json({{"name", rec.name}, {"module", rec.module}, {"enabled", rec.enabled}, {"settings", settings}});
    return {};
  }
  std::cout << "service " << rec.name << " (module " << rec.module << ", "
            << (rec.enabled ? "enabled" : "disabled") << ")\n";
  for (const auto& spec : svc->catalog->all()) {
    auto it = rec.settings.find(spec.key);
    const bool set = it != rec.settings.end();
    std::cout << "\n" << spec.key << " = " << shown_value(spec, set ? it->second : spec.default_value) << "\n"
              << "    " << type_text(spec) << "; default " << shown_value(spec, spec.default_value)
              << (set ? "; set" : "; not set") << "\n"
              << "    " << spec.doc << "\n";
  }
  for (const auto& [key, value] : rec.settings) {
    if (svc->catalog->find(key) == nullptr) {
      std::cout << "\n" << key << " = " << value << "\n    unknown setting, ignored (remove it with "
                << "'mailctl service unset " << rec.name << " " << key << "')\n";
    }
  }
  return {};
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

Status run_set(const Context& ctx, const std::string& name, const std::string& key,
               const std::optional<std::string>& value) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto svc = load_service(**store, name);
  if (!svc) return svc.error();
  const config::SettingSpec* spec = svc->catalog->find(key);
  const bool stored = svc->record.settings.count(key) > 0;
  // unset also accepts a stored key the catalog no longer knows, so stale keys can be cleaned.
  if (spec == nullptr && !(stored && !value)) {
    return make_error(ErrorCode::kNotFound, "unknown setting '" + key + "' for service " + name +
                                                " (see 'mailctl service show " + name + "')");
  }
  if (!value) {
    if (Status s = (*store)->set_service_setting(name, key, std::nullopt); !s) return s;
    auto purged = purge_unwanted_secrets(**store);
    if (!purged) return purge_failed(name, key, purged.error());
    const std::string def = spec ? spec->default_value : "";
    std::string message =
        "unset " + name + " " + key + (spec ? " (back to the default " + shown_value(*spec, def) + ")" : "");
    nlohmann::ordered_json extra = {{"service", name}, {"key", key}, {"value", def}, {"set", false}, {"was_set", stored}};
    note_purged(*purged, message, extra);
    ctx.done(message, std::move(extra));
    return {};
  }
  auto canonical = config::normalize_setting(*spec, *value);
  if (!canonical) return canonical.error();
  if (Status s = (*store)->set_service_setting(name, key, *canonical); !s) return s;
  auto purged = purge_unwanted_secrets(**store);
  if (!purged) return purge_failed(name, key, purged.error());
  std::string message = "set " + name + " " + key + " = " + shown_value(*spec, *canonical);
  nlohmann::ordered_json extra = {{"service", name}, {"key", key}, {"value", *canonical}, {"set", true}};
  note_purged(*purged, message, extra);
  ctx.done(message, std::move(extra));
  return {};
}

Status run_enable(const Context& ctx, const std::string& name, bool enabled) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto svc = load_service(**store, name);
  if (!svc) return svc.error();
  if (Status s = (*store)->set_service_enabled(name, enabled); !s) return s;
  ctx.done(std::string(enabled ? "enabled" : "disabled") + " service " + name,
           {{"service", name}, {"enabled", enabled}});
  return {};
}

// Reads DATA/run/status.json, which a running mailroomd rewrites every few seconds.
Status run_status(const Context& ctx, const std::string& only) {
  auto path = std::filesystem::path(ctx.data_dir()) / "run" / "status.json";
  std::ifstream in(path);
  if (!in) {
    return make_error(ErrorCode::kNotFound, "mailroomd is not running for " + ctx.data_dir() + " (no " +
                                                path.string() + "; start it with 'mailroomd --data " +
                                                ctx.data_dir() + "')");
  }
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(in);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kIo, "cannot read " + path.string() + ": " + e.what());
  }
  int64_t pid = doc.value("pid", int64_t{0});
  if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) {
    return make_error(ErrorCode::kNotFound, "mailroomd is not running for " + ctx.data_dir() + " (process " +
                                                std::to_string(pid) + " from " + path.string() + " is gone)");
  }
  auto& services = doc["services"];
  if (!only.empty()) {
    if (!services.contains(only)) {
      return make_error(ErrorCode::kNotFound, "the running daemon has no service '" + only + "'");
    }
    nlohmann::ordered_json one = nlohmann::ordered_json::object();
    one[only] = services[only];
    services = one;
  }
  if (ctx.json) {
    doc["running"] = true;
    print_json(doc);
    return {};
  }
  int64_t updated = doc.value("updated_at", int64_t{0});
  std::cout << "mailroomd running (pid " << pid << ", user " << doc.value("user", std::string("?")) << ", since " << format_time(doc.value("started_at", int64_t{0}))
            << ", status updated " << (static_cast<int64_t>(std::time(nullptr)) - updated) << " s ago)\n";
  for (const auto& [name, svc] : services.items()) {
    std::cout << "\nservice " << name << " (module " << svc.value("module", "") << ", "
              << (svc.value("enabled", false) ? "enabled" : "disabled") << "): " << svc.value("connections", 0)
              << " connections\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : svc["listeners"]) {
      // A superseded listener is an old bind kept open because its replacement failed.
      const char* state = !l.value("listening", false) ? "FAILED" : l.value("superseded", false) ? "kept (old)" : "listening";
      rows.push_back({state, l.value("bind", ""), l.value("kind", ""),
                      l.value("superseded", false) ? "no longer configured; kept until the new bind works"
                                                   : l.value("error", "")});
    }
    if (rows.empty()) {
      std::cout << "  no listeners\n";
    } else {
      std::string table = format_table({"STATE", "BIND", "KIND", "ERROR"}, rows);
      std::string line;
      for (char c : table) {
        line.push_back(c);
        if (c == '\n') {
          std::cout << "  " << line;
          line.clear();
        }
      }
    }
    const auto& c = svc["counters"];
    std::cout << "  accepted " << c.value("accepted", 0) << ", denied " << c.value("denied", 0) << ", over limit "
              << c.value("over_limit", 0) << ", over per-IP limit " << c.value("over_ip_limit", 0)
              << ", login failures " << c.value("login_failures", 0) << ", blocks placed "
              << c.value("blocks_placed", 0) << ", auto-denied " << c.value("auto_denied", 0) << "; active blocks "
              << svc.value("active_blocks", 0) << "\n";
    if (svc.contains("tls") && svc["tls"].is_object()) {
      const auto& t = svc["tls"];
      if (!t.value("error", "").empty()) std::cout << "  TLS error: " << t.value("error", "") << "\n";
      if (!t.value("certificate", "").empty()) std::cout << "  TLS certificate: " << t.value("certificate", "") << "\n";
    }
  }
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
                             {"default", spec.default_value},
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
  };
  auto set_args = std::make_shared<SetArgs>();
  CLI::App* set = group->add_subcommand("set", "Change one setting (validated, stored in canonical form)");
  set->add_option("NAME", set_args->name, "Service name")->required();
  set->add_option("KEY", set_args->key, "Setting key (see 'mailctl service show NAME')")->required();
  set->add_option("VALUE", set_args->value, "New value")->required();
  set->callback([&ctx, set_args] {
    ctx.action = [&ctx, set_args] { return run_set(ctx, set_args->name, set_args->key, set_args->value); };
  });

  auto unset_args = std::make_shared<SetArgs>();
  CLI::App* unset = group->add_subcommand("unset", "Return one setting to its default");
  unset->add_option("NAME", unset_args->name, "Service name")->required();
  unset->add_option("KEY", unset_args->key, "Setting key")->required();
  unset->callback([&ctx, unset_args] {
    ctx.action = [&ctx, unset_args] { return run_set(ctx, unset_args->name, unset_args->key, std::nullopt); };
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

  auto status_name = std::make_shared<std::string>();
  CLI::App* status = group->add_subcommand(
      "status", "Show what the running daemon serves: listeners (and binds that failed), connections, counters");
  status->add_option("NAME", *status_name, "Only this service");
  status->callback([&ctx, status_name] { ctx.action = [&ctx, status_name] { return run_status(ctx, *status_name); }; });

  auto doc_module = std::make_shared<std::string>();
  CLI::App* doc = group->add_subcommand("settings-doc", "Print a module's settings as the markdown table of docs/settings.md");
  doc->add_option("MODULE", *doc_module, "Module name, e.g. pop3")->required();
  doc->callback([&ctx, doc_module] { ctx.action = [&ctx, doc_module] { return run_settings_doc(ctx, *doc_module); }; });
}

}  // namespace mailroom::cli
