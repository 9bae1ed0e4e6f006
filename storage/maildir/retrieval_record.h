// The retrieval record (internal to storage/maildir): when each message of a Maildir was first
// retrieved (POP3 RETR), for RFC 2449 EXPIRE. DIR/.mailroom-retrieved holds one
// "<unix seconds> <uid>" line per message; it is replaced whole (atomically, synced) at a POP3
// UPDATE and only names messages that still exist then, so it stays as small as the listing.
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"
#include "storage/mail_store.h"

namespace mailroom::storage::maildir {

inline constexpr const char* kRetrievalFile = ".mailroom-retrieved";
// A record larger than this is not ours (a listing of a million messages is ~60 MB of names).
inline constexpr std::size_t kMaxRetrievalFileBytes = 128u * 1024 * 1024;

// Parses the file's text; damaged lines (no time, a time out of range, a uid with a space) are
// skipped: losing one time only restarts that message's clock at its next retrieval.
Retrievals parse_retrievals(std::string_view text);
std::string format_retrievals(const Retrievals& record);

// DIR's record; empty when there is none. Blocking: on a worker.
Result<Retrievals> read_retrievals(const std::string& dir);
// Replaces DIR's record (removes it when `record` is empty). Blocking: on a worker.
Status write_retrievals(const std::string& dir, const Retrievals& record);

}  // namespace mailroom::storage::maildir
