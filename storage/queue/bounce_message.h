// The bounce (non-delivery report) for queued mail that could not be delivered: an RFC 3464
// multipart/report message built from bytes alone (no disk), so it is unit-tested by parsing it.
// The relay delivers the result to the sender's Maildir; this only builds it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "storage/queue/outbound_queue.h"

namespace mailroom::storage {

// At most this much of the original message's header goes into the bounce (16 KiB).
inline constexpr std::size_t kBounceHeaderExcerptBytes = 16 * 1024;

// The header of a message (its start, in any line-end form) for the text/rfc822-headers part:
// up to the empty line that ends it, at most kBounceHeaderExcerptBytes, cut after the last whole
// line that fits; CRLF line ends.
std::string bounce_header_excerpt(std::string_view message_start);

// The reasons the relay gives (the human part says "... could not be delivered: <reason>.").
std::string bounce_reason_refused();                   // "refused by the smarthost"
std::string bounce_reason_expired(int64_t lifetime_seconds);  // "not delivered within queue_lifetime (N days)"

struct BounceRecipient {
  std::string address;
  std::string last_reply;  // the smarthost's last reply for it ("" if it never answered)
};

struct BounceRequest {
  QueueEntry entry;                     // the queued message (id, sender, queued_at)
  std::vector<BounceRecipient> failed;  // the recipients that failed
  std::string host;                     // our host name: MAILER-DAEMON@host, Reporting-MTA
  std::string reason;                   // bounce_reason_refused() or bounce_reason_expired()
  int64_t now = 0;                      // unix seconds: Date
  std::string original_header;          // bounce_header_excerpt() of the message
};

// The whole bounce message, CRLF line ends, ready for a DeliveryWriter. kInvalidArgument for an
// entry with an empty sender (a bounce is never bounced) or no failed recipients.
Result<std::string> build_bounce_message(const BounceRequest& request);

}  // namespace mailroom::storage
