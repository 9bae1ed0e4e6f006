// Setting display helpers shared by `service show` and `daemon show`.
#include "admin-cli/setting_text.h"

#include <nlohmann/json.hpp>

#include "admin-cli/output.h"

namespace mailroom::cli {

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

std::string shown_value(const config::SettingSpec& spec, const std::string& value) {
  if (spec.secret) return value.empty() ? "(not set)" : std::string(config::kSecretShown);
  return spec.type == config::SettingType::kString ? "\"" + value + "\"" : value;
}

namespace {

// The node-local value of `key`, if `local` has one.
const std::string* local_value(const std::map<std::string, std::string>* local, const std::string& key) {
  if (local == nullptr) return nullptr;
  auto it = local->find(key);
  return it == local->end() ? nullptr : &it->second;
}

}  // namespace

nlohmann::ordered_json settings_json(const config::SettingsCatalog& catalog,
                                     const std::map<std::string, std::string>& stored,
                                     const std::map<std::string, std::string>* local) {
  nlohmann::ordered_json settings = nlohmann::ordered_json::array();
  for (const auto& spec : catalog.all()) {
    auto it = stored.find(spec.key);
    const bool set = it != stored.end();
    const std::string& cluster = set ? it->second : spec.default_value;
    const std::string* node = local_value(local, spec.key);
    nlohmann::ordered_json entry = {{"key", spec.key},
                                    {"value", json_setting_value(spec, node ? *node : cluster)},
                                    {"default", json_setting_value(spec, spec.default_value)},
                                    {"set", set}};
    if (local != nullptr) {
      entry["local"] = node != nullptr;
      if (node != nullptr) entry["cluster_value"] = json_setting_value(spec, cluster);
    }
    entry["type"] = config::setting_type_name(spec.type);
    entry["doc"] = spec.doc;
    settings.push_back(std::move(entry));
  }
  return settings;
}

void print_settings(std::ostream& out, const config::SettingsCatalog& catalog,
                    const std::map<std::string, std::string>& stored, const std::string& unset_command,
                    const std::map<std::string, std::string>* local) {
  for (const auto& spec : catalog.all()) {
    auto it = stored.find(spec.key);
    const bool set = it != stored.end();
    const std::string& cluster = set ? it->second : spec.default_value;
    const std::string* node = local_value(local, spec.key);
    out << "\n" << spec.key << " = " << shown_value(spec, node ? *node : cluster) << "\n"
        << "    " << type_text(spec) << "; default " << shown_value(spec, spec.default_value)
        << (set ? "; set" : "; not set");
    if (node != nullptr) out << "; local to this node (the cluster's: " << shown_value(spec, cluster) << ")";
    out << "\n"
        << "    " << spec.doc << "\n";
  }
  for (const auto& [key, value] : stored) {
    if (catalog.find(key) == nullptr) {
      out << "\n" << key << " = " << value << "\n    unknown setting, ignored (remove it with '" << unset_command
          << " " << key << "')\n";
    }
  }
}

}  // namespace mailroom::cli
