// The outbound queue's envelope file and ids, as pure functions (no disk): what an entry's id is
// made of, and the envelope's JSON text both ways. OutboundQueue (outbound_queue.cpp) does the
// files; docs/xtnd-xmit.md "The outbound queue" describes the format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "storage/queue/outbound_queue.h"

namespace mailroom::storage {

// An envelope file larger than this is reported as broken, never read whole (1 MiB); an update
// that would write a larger one is refused.
inline constexpr uint64_t kMaxEnvelopeBytes = 1024 * 1024;
// A recipient's last_reply and an entry's last_error are kept to this many octets.
inline constexpr std::size_t kMaxQueueReplyOctets = 1000;
// Ids are [0-9A-Za-z._-]{1,200}, not starting with '.' or '-'.
inline constexpr std::size_t kMaxQueueIdLength = 200;

bool queue_id_ok(std::string_view id);

// The id of the message file FILE_NAME (in messages/new or cur): its Maildir name without the
// ":2,FLAGS" info and the ",S=/,W=" attributes, any other character than [0-9A-Za-z._-] as '_',
// at most kMaxQueueIdLength. Unique as the delivery name is (time, microseconds, pid, counter).
std::string queue_id_for_message(std::string_view file_name);

// The envelope as stored (JSON, one object, a trailing newline). The message file is kept
// relative to the queue's Maildir ("new/NAME"), so a moved data directory keeps its queue.
std::string envelope_text(const QueueEntry& entry);
// Reads envelope_text()'s form back; message_path is resolved against `messages_maildir`. kIo
// with what is wrong (not JSON, a missing or mistyped field, no recipients, a bad id).
Result<QueueEntry> parse_envelope(std::string_view text, const std::string& messages_maildir);

}  // namespace mailroom::storage
