// The retrieval record: DIR/.mailroom-retrieved, read at login, replaced at UPDATE.
#include "storage/maildir/retrieval_record.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "storage/maildir/fs_util.h"
#include "storage/secrets/private_file.h"

namespace mailroom::storage::maildir {

Retrievals parse_retrievals(std::string_view text) {
  Retrievals record;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0) continue;
    int64_t when = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + space, when);
    if (ec != std::errc() || end != line.data() + space || when < 0) continue;
    const std::string_view uid = line.substr(space + 1);
    bool ok = !uid.empty() && uid.size() <= 70;  // RFC 1939: 1-70 characters 0x21..0x7E
    for (char c : uid) ok = ok && c > 0x20 && c < 0x7f;
    if (ok) record[std::string(uid)] = when;
  }
  return record;
}

std::string format_retrievals(const Retrievals& record) {
  std::string text;
  for (const auto& [uid, when] : record) {
    text += std::to_string(when);
    text += ' ';
    text += uid;
    text += '\n';
  }
  return text;
}

Result<Retrievals> read_retrievals(const std::string& dir) {
  auto text = read_regular_file(join(dir, kRetrievalFile), kMaxRetrievalFileBytes);
  if (!text) {
    if (text.error().code == ErrorCode::kNotFound) return Retrievals{};
    return text.error();
  }
  return parse_retrievals(*text);
}

Status write_retrievals(const std::string& dir, const Retrievals& record) {
  const std::string path = join(dir, kRetrievalFile);
  if (record.empty()) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove " + path, errno);
    return {};
  }
  return write_file_atomically(path, format_retrievals(record));
}

}  // namespace mailroom::storage::maildir
