// DATA/node.json: the node-local settings (node_settings.h) of the data directory's node, read
// and replaced whole. Blocking file work: a worker thread or mailctl.
#pragma once

#include <string>

#include "core/base/result.h"
#include "storage/maildir/unique_fd.h"
#include "storage/node/node_settings.h"

namespace mailroom::storage {

// DATA_DIR/node.json.
std::string node_settings_path(const std::string& data_dir);

// The file's settings; none when it does not exist. kInvalidArgument (parse_node_settings()) or
// kIo (unreadable, larger than 64 KiB, not a regular file) naming the path.
Result<NodeSettings> read_node_settings(const std::string& data_dir);

// The lock every writer of node.json holds from its read to its write (a blocking flock() of
// DATA/node.json.lock, held as long as the descriptor), so two `mailctl service set --local` at
// once both keep their change. Readers need none: the file is replaced whole.
Result<UniqueFd> lock_node_settings(const std::string& data_dir);

// Replaces the file atomically (mode 0600, synced; a reader sees the old file or the new one).
Status write_node_settings(const std::string& data_dir, const NodeSettings& settings);

}  // namespace mailroom::storage
