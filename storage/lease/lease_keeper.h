// The daemon's side of the session leases (session_leases.h): a SessionLease per POP3 session,
// taken on a worker at login; one thread of its own renews every lease of this node each ttl/3
// (one statement) and deletes a session's row once the session has ended (a lease's destructor
// only queues that, so it never blocks an event loop). A release that fails is tried again at the
// next tick; a node that dies loses its leases when they expire, at most the TTL later.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/base/result.h"
#include "storage/lease/session_leases.h"
#include "storage/mail_store.h"

namespace mailroom::storage {

class LeaseKeeper;

// Held by a session while it has its mailbox; the row goes (on the keeper's thread) when it does.
class SessionLease {
 public:
  struct Shared;
  SessionLease(std::shared_ptr<Shared> shared, int64_t mailbox_id);  // counted as held until destroyed
  SessionLease(const SessionLease&) = delete;
  SessionLease& operator=(const SessionLease&) = delete;
  ~SessionLease();
  int64_t mailbox_id() const { return mailbox_id_; }

 private:
  std::shared_ptr<Shared> shared_;
  int64_t mailbox_id_;
};

class LeaseKeeper {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  // What the keeper holds and how its renewals went, read together (status, metrics).
  struct State {
    std::string node;
    int64_t ttl_seconds = 0;
    int64_t held = 0;               // sessions of this node holding their mailbox's lease now
    uint64_t renewal_failures = 0;  // renewal rounds that failed (the database away), since start
    std::optional<int64_t> last_renewed_at;  // the last successful renewal (unix seconds); none yet
  };
  // `ttl_seconds`: cluster_lease_seconds. `clock` defaults to the system clock.
  LeaseKeeper(std::unique_ptr<SessionLeases> leases, int64_t ttl_seconds, Clock clock = {});
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;
  // Stops the thread after one last round of releases.
  ~LeaseKeeper();

  // A new TTL (a reload); the next renewal uses it.
  void set_ttl(int64_t seconds);
  int64_t ttl() const;
  const std::string& node() const;
  // Thread-safe: from any thread while the keeper's own thread renews.
  State state() const;

  // Blocking: call it on a worker. kInUse while another node holds the mailbox; any other error
  // (the database) is the caller's temporary failure.
  Result<std::unique_ptr<SessionLease>> acquire(int64_t mailbox_id);

  // One round now, as the thread does each ttl/3: queued releases, then the renewal. For tests.
  void tick();

 private:
  void run();

  std::shared_ptr<SessionLease::Shared> shared_;
  std::thread thread_;
};

// The session's maildrop lock cluster-wide: `local` (this daemon's lock, taken first, so a second
// session here is refused without a statement) together with the mailbox's lease, released
// together. kInUse while another node holds it; any other error is the database's.
Result<std::unique_ptr<MaildropLock>> lock_cluster_wide(LeaseKeeper& keeper, int64_t mailbox_id,
                                                        std::unique_ptr<MaildropLock> local);

}  // namespace mailroom::storage
