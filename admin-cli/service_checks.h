// The listener checks (settings_check.h) run against stored services as they would be after a
// change: by `service set|unset|enable` for one service, and by `apply` for every service the
// file changes. Warnings go to stderr; errors refuse the change.
#pragma once

#include <string>
#include <vector>

#include "core/base/result.h"
#include "storage/account_store.h"
#include "storage/node/node_settings.h"

namespace mailroom::cli {

// Checks service `name` in `after` (every service as it would be stored, with this node's local
// settings `node` over them, as they would be) against its own listeners and the others':
// kInvalidArgument naming every conflict. `key`: the setting being
// changed ("" checks everything, as enabling does). A service whose module this build lacks is
// skipped (its listeners are unknown).
Status check_service_listeners(const std::string& data_dir, const std::vector<storage::ServiceRecord>& after,
                               const storage::NodeSettings& node, const std::string& name, const std::string& key);

}  // namespace mailroom::cli
