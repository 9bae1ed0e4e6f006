// Node-local settings: the few service settings one node of a cluster may set for itself (its
// listeners: binds and ports), kept in its data directory (DATA/node.json) instead of the shared
// database, and merged over the stored (cluster-wide) values wherever services are read. Pure:
// text in, values out; node_settings_file.h reads and writes the file.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/config/setting_spec.h"

namespace mailroom::storage {

// service name -> key -> canonical value text (as config::normalize_setting() returns it).
struct NodeSettings {
  std::map<std::string, std::map<std::string, std::string>> services;
  bool operator==(const NodeSettings&) const = default;
};

// Parses DATA/node.json: {"services": {"NAME": {"KEY": VALUE, ...}, ...}}. A VALUE is a JSON
// number (ports) or string (binds), as `service show --json` prints it. kInvalidArgument naming
// the path of what is wrong: not JSON, another top-level key, a key that is not node-local
// (config::node_local_setting_keys()), a value of the wrong JSON type. Values are checked
// against their SettingSpec where the service's module is known (merge_node_settings()).
Result<NodeSettings> parse_node_settings(std::string_view text);

// The file's text for `settings` (keys sorted, one service per object; ints as numbers). An
// empty `settings` gives {"services": {}}.
std::string node_settings_text(const NodeSettings& settings);

// Checks that `key` may be set per node: kInvalidArgument naming the allowed keys otherwise.
Status check_node_local_key(std::string_view key);

// `stored` (the cluster's values of one service) with the node's `local` values over them. A local
// value `catalog` refuses (a hand-edited file) is left out and described in `warnings` ("node.json:
// pop3 port: ..."); the cluster's value then applies.
std::map<std::string, std::string> merge_node_settings(const config::SettingsCatalog& catalog,
                                                       const std::string& service,
                                                       const std::map<std::string, std::string>& stored,
                                                       const std::map<std::string, std::string>& local,
                                                       std::vector<std::string>& warnings);

}  // namespace mailroom::storage
