// DATA/node.json read and replaced whole.
#include "storage/node/node_settings_file.h"

#include "storage/maildir/fs_util.h"
#include "storage/maildir/lock_file.h"
#include "storage/secrets/private_file.h"

namespace mailroom::storage {

namespace {
constexpr std::size_t kMaxNodeFileSize = 64 * 1024;
}

std::string node_settings_path(const std::string& data_dir) { return maildir::join(data_dir, "node.json"); }

Result<NodeSettings> read_node_settings(const std::string& data_dir) {
  const std::string path = node_settings_path(data_dir);
  auto text = maildir::read_regular_file(path, kMaxNodeFileSize);
  if (!text) {
    if (text.error().code == ErrorCode::kNotFound) return NodeSettings{};
    return text.error();  // names the path
  }
  auto parsed = parse_node_settings(*text);
  if (!parsed) return Error{parsed.error().code, path + ": " + parsed.error().message};
  return parsed;
}

Result<UniqueFd> lock_node_settings(const std::string& data_dir) {
  return lock_file(node_settings_path(data_dir) + ".lock", /*wait=*/true);
}

Status write_node_settings(const std::string& data_dir, const NodeSettings& settings) {
  return write_file_atomically(node_settings_path(data_dir), node_settings_text(settings), 0600);
}

}  // namespace mailroom::storage
