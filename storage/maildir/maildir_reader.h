// Message reader (internal to storage/maildir): a stored message read in wire form (CRLF line
// ends, dot-stuffed for a transfer when asked): the streaming MessageReader a maildrop hands
// out, and the wire size of a message whose name does not carry it (no W= tag).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "storage/mail_store.h"
#include "storage/maildir/unique_fd.h"

namespace mailroom::storage::maildir {

// Reads the open message file `fd` (`path` is for error messages; `file_size` the stored file's
// size, as open_message_file() found it).
std::unique_ptr<MessageReader> make_message_reader(UniqueFd fd, std::string path, WireMode mode, uint64_t file_size);

// Wire size of message NAME of an open folder whose name carries no W= tag: read and count it.
Result<uint64_t> compute_wire_size(int folder, std::string_view name, const std::string& path);

}  // namespace mailroom::storage::maildir
