// Node-local settings: parsing, the file's text, merging over the cluster's values.
#include "storage/node/node_settings.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "core/config/network_settings.h"
#include "core/config/tls_settings.h"

namespace mailroom::storage {

namespace {

bool is_node_local(std::string_view key) {
  const auto& keys = config::node_local_setting_keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string allowed_keys_text() {
  std::string text;
  for (const auto& key : config::node_local_setting_keys()) text += (text.empty() ? "" : ", ") + key;
  return text;
}

// The core's declaration of a node-local key (its type; the module's default does not matter here).
const config::SettingSpec* core_spec(std::string_view key) {
  static const std::vector<config::SettingSpec> specs = [] {
    auto all = config::network_setting_specs(1);
    for (auto& spec : config::tls_setting_specs(1)) all.push_back(std::move(spec));
    return all;
  }();
  for (const auto& spec : specs) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

Error bad(const std::string& what) { return make_error(ErrorCode::kInvalidArgument, what); }

}  // namespace

Status check_node_local_key(std::string_view key) {
  if (is_node_local(key)) return {};
  return make_error(ErrorCode::kInvalidArgument, "'" + std::string(key) +
                                                     "' is a cluster-wide setting; a node may set only its "
                                                     "listeners for itself: " + allowed_keys_text());
}

Result<NodeSettings> parse_node_settings(std::string_view text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) return bad("not valid JSON");
  if (!doc.is_object()) return bad("must be a JSON object with the key \"services\"");
  NodeSettings out;
  for (const auto& [top, value] : doc.items()) {
    if (top != "services") return bad("unknown key \"" + top + "\" (the file holds only \"services\")");
    if (!value.is_object()) return bad("\"services\" must be an object of service names");
    for (const auto& [service, keys] : value.items()) {
      const std::string where = "services." + service;
      if (service.empty()) return bad("a service name is empty");
      if (!keys.is_object()) return bad(where + " must be an object of settings");
      auto& settings = out.services[service];
      for (const auto& [key, v] : keys.items()) {
        if (Status s = check_node_local_key(key); !s) return bad(where + "." + key + ": " + s.error().message);
        const config::SettingSpec* spec = core_spec(key);
        if (spec != nullptr && spec->type == config::SettingType::kInt) {
          if (!v.is_number_integer()) return bad(where + "." + key + " must be a whole number");
          settings[key] = std::to_string(v.get<int64_t>());
        } else {
          if (!v.is_string()) return bad(where + "." + key + " must be a string");
          settings[key] = v.get<std::string>();
        }
      }
      if (settings.empty()) out.services.erase(service);
    }
  }
  return out;
}

std::string node_settings_text(const NodeSettings& settings) {
  nlohmann::ordered_json services = nlohmann::ordered_json::object();
  for (const auto& [service, keys] : settings.services) {
    if (keys.empty()) continue;
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    for (const auto& [key, value] : keys) {
      const config::SettingSpec* spec = core_spec(key);
      int64_t n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      const bool whole = ec == std::errc() && end == value.data() + value.size();
      if (spec != nullptr && spec->type == config::SettingType::kInt && whole) {
        entry[key] = n;
      } else {
        entry[key] = value;
      }
    }
    services[service] = std::move(entry);
  }
  nlohmann::ordered_json doc = {{"services", std::move(services)}};
  return doc.dump(2) + "\n";
}

std::map<std::string, std::string> merge_node_settings(const config::SettingsCatalog& catalog,
                                                       const std::string& service,
                                                       const std::map<std::string, std::string>& stored,
                                                       const std::map<std::string, std::string>& local,
                                                       std::vector<std::string>& warnings) {
  std::map<std::string, std::string> merged = stored;
  for (const auto& [key, value] : local) {
    const config::SettingSpec* spec = catalog.find(key);
    if (spec == nullptr || !is_node_local(key)) {
      warnings.push_back("node.json: " + service + " " + key + ": not a node-local setting of this service (ignored)");
      continue;
    }
    auto canonical = config::normalize_setting(*spec, value);
    if (!canonical) {
      warnings.push_back("node.json: " + service + " " + key + ": " + canonical.error().message +
                         " (the cluster's value applies)");
      continue;
    }
    merged[key] = *canonical;
  }
  return merged;
}

}  // namespace mailroom::storage
