// OutboundQueue: mail waiting to leave through the smarthost (XTND XMIT's remote recipients),
// kept in DATA/queue/ so that nothing accepted is lost across a crash, a restart or a full disk.
//
// Layout (all owned by the daemon's user, 0700 directories, 0600 files):
//   DATA/queue/messages/   a Maildir ({tmp,new,cur}): the message files. A sender writes the
//                          message with a DeliveryWriter and commit_to()s it into this Maildir
//                          (together with any local recipients' Maildirs: one fsynced file,
//                          hard-linked), then calls enqueue() with the copy it got back.
//   DATA/queue/envelopes/  one JSON file per queued message, named by its id: the envelope
//                          (sender, recipients and their state, times, attempts, last error),
//                          replaced atomically (write_file_atomically) on every change.
// A message is queued exactly when its envelope exists. A message file with no envelope is an
// enqueue a crash interrupted (the sender never said +OK): remove_orphans() deletes it.
//
// Every method does blocking disk I/O: call it on a worker thread or the relay's own thread,
// never on an event loop thread. Several processes use the queue at once (the daemon's relay,
// mailctl): an entry being worked on is held with lock(); remove() and the relay's attempt take
// that lock, so a message is never removed halfway through its delivery.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "storage/mail_store.h"

namespace mailroom::storage {

enum class RecipientState {
  kPending,    // not accepted by the smarthost yet (never tried, or a 4xx / no connection)
  kDelivered,  // the smarthost accepted it (250 to RCPT and to the end of DATA)
  kFailed,     // refused for good (5xx) or queue_lifetime passed: a bounce was (or will be) sent
};
const char* recipient_state_name(RecipientState state);  // "pending", "delivered", "failed"

struct QueuedRecipient {
  std::string address;     // as the envelope gives it to RCPT TO (local@domain)
  RecipientState state = RecipientState::kPending;
  std::string last_reply;  // the smarthost's last reply for this recipient ("" if none yet)
};

struct QueueEntry {
  std::string id;            // the envelope's file name: [0-9A-Za-z._-]{1,200}
  std::string sender;        // MAIL FROM: the local mailbox that sent it (bounces go there)
  std::vector<QueuedRecipient> recipients;
  uint64_t size = 0;         // wire octets (what SIZE= declares)
  int64_t queued_at = 0;     // unix seconds
  int64_t next_attempt_at = 0;  // unix seconds; 0 = as soon as possible
  int64_t last_attempt_at = 0;  // 0 = never tried
  uint32_t attempts = 0;
  std::string last_error;    // the last attempt's failure as one line ("" if none)
  bool bounced = false;      // the bounce for the failed recipients has been delivered
  std::string message_path;  // the message file (in messages/new or cur)

  // No recipient is pending any more: the entry can go once its bounce (if any) is out.
  bool finished() const;
};

// Held while an entry is being worked on (an attempt, a removal); released on destruction.
class QueueEntryLock {
 public:
  virtual ~QueueEntryLock() = default;
};

class OutboundQueue {
 public:
  // `dir` is DATA/queue. Nothing is touched until a method runs.
  explicit OutboundQueue(std::string dir);

  const std::string& dir() const { return dir_; }
  // The Maildir a sender commit_to()s its message into before enqueue(): DATA/queue/messages.
  std::string messages_maildir() const;

  // Creates the directories (durable) if missing. Safe to call every time.
  Status ensure_dirs() const;

  // Queues the message `copy` (a DeliveredMessage in messages_maildir()) for `recipients`,
  // from `sender`: writes and fsyncs its envelope. When this returns ok the message is queued
  // durably; on failure the message file is removed and nothing is queued.
  Result<QueueEntry> enqueue(const DeliveredMessage& copy, const std::string& sender,
                             const std::vector<std::string>& recipients, int64_t now) const;

  // Every queued entry, oldest first. An unreadable envelope is reported as an entry whose
  // last_error says so (never hidden, never fatal to the listing).
  Result<std::vector<QueueEntry>> list() const;
  // One entry; kNotFound if no such id.
  Result<QueueEntry> get(const std::string& id) const;

  // Takes the entry's lock without waiting: kInUse while another holder (the relay's attempt,
  // another mailctl) has it; kNotFound if no such id.
  Result<std::unique_ptr<QueueEntryLock>> lock(const std::string& id) const;
  // Replaces the entry's envelope (the caller holds its lock).
  Status update(const QueueEntry& entry) const;
  // Removes the entry: its envelope first (then it is no longer queued), then its message file.
  // The caller holds its lock.
  Status remove(const QueueEntry& entry) const;

  // Opens the message as it goes on the wire (kDotStuffed for SMTP DATA).
  Result<std::unique_ptr<MessageReader>> open_message(const QueueEntry& entry, WireMode mode) const;

  // Removes message files that have no envelope and are older than `min_age_seconds` (an
  // interrupted enqueue). Returns how many.
  Result<std::size_t> remove_orphans(int64_t now, int64_t min_age_seconds) const;

 private:
  std::string dir_;
};

}  // namespace mailroom::storage
