// Relay: sends the outbound queue (storage/queue/outbound_queue.h) to the smarthost. It runs on
// its OWN thread, not an event loop: blocking sockets with poll() timeouts (relay_timeout), DNS,
// queue files, SQLite lookups and Maildir deliveries all happen there. The daemon constructs it
// after the stores, applies the daemon-wide settings at every reload, and stops it at shutdown
// (within about a poll slice plus the step in progress: no wait is longer than 200 ms).
//
// Every 2 s (or at once after wake()) it lists the queue; each entry that is due and not locked
// by someone else (mailctl) is attempted under its lock: connect, SmtpClientSession, recipient
// states updated, the next attempt scheduled with exponential backoff (queue_retry_min ..
// queue_retry_max). After queue_lifetime the pending recipients fail. When no recipient is
// pending any more and some failed, ONE bounce goes to the sender's Maildir; then the entry is
// removed. Without a smarthost nothing is attempted (entries wait, expire, and bounce).
// Events: relay.sent, relay.deferred, relay.failed, relay.bounced (id, rcpt, reply; never
// credentials), relay.error (the queue or a bounce could not be handled).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "relay/relay_settings.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"
#include "storage/queue/outbound_queue.h"

namespace mailroom::relay {

class Relay {
 public:
  // How often the queue is listed when nothing wakes the relay.
  static constexpr std::chrono::seconds kScanInterval{2};
  // At start and then hourly, message files with no envelope older than an hour (an enqueue a
  // crash interrupted; a running one takes milliseconds) are removed.
  static constexpr int64_t kOrphanSweepSeconds = 3600;
  static constexpr int64_t kOrphanMinAgeSeconds = 3600;

  // `queue_dir` is DATA/queue. Nothing runs until start().
  Relay(std::string queue_dir, storage::AccountStore& accounts, storage::MailStore& mail, std::string host_name);
  ~Relay();  // stop()
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  void start();
  // New settings (thread-safe); the relay uses them from its next entry on.
  void apply(RelaySettings settings);
  // Scan the queue now (thread-safe).
  void wake();
  // Ends the thread: the attempt in progress is cut off at its next wait (its undecided
  // recipients stay pending, and it does not count as an attempt). Idempotent.
  void stop();

  // One pass over the queue with `now` (the thread's loop body; tests call it directly).
  void scan(int64_t now);

 private:
  void run();
  void process(const std::string& id, const RelaySettings& settings, int64_t now);
  // One SMTP conversation for the entry's pending recipients; updates them in `entry`.
  void attempt(storage::QueueEntry& entry, const RelaySettings& settings, int64_t now);
  // Delivers the bounce for the failed recipients; true when it is out (or cannot ever be).
  bool bounce(const storage::QueueEntry& entry, const RelaySettings& settings, int64_t now);

  storage::OutboundQueue queue_;
  storage::AccountStore& accounts_;
  storage::MailStore& mail_;
  std::string host_name_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<RelaySettings> settings_;  // guarded by mu_; nothing runs before the first apply()
  bool woken_ = false;                     // guarded by mu_
  std::atomic<bool> stop_{false};
  std::thread thread_;
  // The relay thread's own.
  std::string last_scan_error_;  // the queue listing's last failure, logged once
  int64_t next_orphan_sweep_ = 0;
};

}  // namespace mailroom::relay
