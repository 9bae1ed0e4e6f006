#include "storage/lease/lease_keeper.h"

#include <chrono>
#include <vector>

#include "core/log/logger.h"

namespace mailroom::storage {

struct SessionLease::Shared {
  std::unique_ptr<SessionLeases> leases;
  LeaseKeeper::Clock clock;
  mutable std::mutex mu;
  std::mutex round_mu;  // one round of releases or renewal at a time (the thread's, tick()'s)
  std::condition_variable wake;
  int64_t ttl = 30;
  bool stop = false;
  bool ttl_changed = false;  // wakes the thread: a shorter TTL brings the next renewal forward
  std::deque<int64_t> to_release;       // sessions that ended; at most one entry per held lease
  std::deque<int64_t> failed_releases;  // deletes that failed, tried again at the next renewal
  int64_t held = 0;                     // SessionLease objects alive
  uint64_t renewal_failures = 0;        // failed renewal rounds (one statement each)
  std::optional<int64_t> last_renewed_at;
};

namespace {

int64_t system_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Deletes the rows of the sessions that ended (and, with `retry`, those whose delete failed
// before); a failed one waits for the next renewal, so a database outage is no busy loop.
void release_ended(SessionLease::Shared& s, bool retry) {
  std::deque<int64_t> releasing;
  {
    std::lock_guard lock(s.mu);
    releasing.swap(s.to_release);
    if (retry) releasing.insert(releasing.end(), s.failed_releases.begin(), s.failed_releases.end());
    if (retry) s.failed_releases.clear();
  }
  std::vector<int64_t> failed;
  for (const int64_t id : releasing) {
    if (auto st = s.leases->release(id); !st) {
      log::warn("lease.release_failed", {{"mailbox_id", std::to_string(id)}, {"error", st.error().message}});
      failed.push_back(id);
    }
  }
  if (!failed.empty()) {
    std::lock_guard lock(s.mu);
    s.failed_releases.insert(s.failed_releases.end(), failed.begin(), failed.end());
  }
}

// One statement: every lease of this node runs another TTL. A row whose delete failed is renewed
// too until its delete succeeds (the mailbox is free on this node meanwhile, and taken again by
// its next session here: acquire() accepts this node's own row).
void renew_all(SessionLease::Shared& s) {
  int64_t ttl = 0;
  {
    std::lock_guard lock(s.mu);
    ttl = s.ttl;
  }
  const int64_t now = s.clock();
  auto renewed = s.leases->renew(now, ttl);
  {
    std::lock_guard lock(s.mu);
    if (renewed) {
      s.last_renewed_at = now;
    } else {
      ++s.renewal_failures;
    }
  }
  if (!renewed) log::warn("lease.renew_failed", {{"error", renewed.error().message}});
}

}  // namespace

SessionLease::SessionLease(std::shared_ptr<Shared> shared, int64_t mailbox_id)
    : shared_(std::move(shared)), mailbox_id_(mailbox_id) {
  std::lock_guard lock(shared_->mu);
  ++shared_->held;
}

SessionLease::~SessionLease() {
  {
    std::lock_guard lock(shared_->mu);
    --shared_->held;
    shared_->to_release.push_back(mailbox_id_);
  }
  shared_->wake.notify_one();
}

LeaseKeeper::LeaseKeeper(std::unique_ptr<SessionLeases> leases, int64_t ttl_seconds, Clock clock)
    : shared_(std::make_shared<SessionLease::Shared>()) {
  shared_->leases = std::move(leases);
  shared_->clock = clock ? std::move(clock) : Clock(system_seconds);
  shared_->ttl = ttl_seconds;
  thread_ = std::thread([this] { run(); });
}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard lock(shared_->mu);
    shared_->stop = true;
  }
  shared_->wake.notify_one();
  thread_.join();
}

void LeaseKeeper::set_ttl(int64_t seconds) {
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->ttl == seconds) return;
    shared_->ttl = seconds;
    shared_->ttl_changed = true;
  }
  shared_->wake.notify_one();
}

int64_t LeaseKeeper::ttl() const {
  std::lock_guard lock(shared_->mu);
  return shared_->ttl;
}

const std::string& LeaseKeeper::node() const { return shared_->leases->node(); }

LeaseKeeper::State LeaseKeeper::state() const {
  State out;
  out.node = node();  // fixed at construction
  std::lock_guard lock(shared_->mu);
  out.ttl_seconds = shared_->ttl;
  out.held = shared_->held;
  out.renewal_failures = shared_->renewal_failures;
  out.last_renewed_at = shared_->last_renewed_at;
  return out;
}

Result<std::unique_ptr<SessionLease>> LeaseKeeper::acquire(int64_t mailbox_id) {
  // Not while a round of releases runs, and without a release still queued for this mailbox: an
  // earlier session's release (queued when it ended) would otherwise delete the row this session
  // is about to take over (acquire() accepts this node's own row), leaving it without a lease.
  std::lock_guard round(shared_->round_mu);
  {
    std::lock_guard lock(shared_->mu);
    std::erase(shared_->to_release, mailbox_id);
    std::erase(shared_->failed_releases, mailbox_id);
  }
  auto won = shared_->leases->acquire(mailbox_id, shared_->clock(), ttl());
  if (!won) return won.error();
  if (!*won) return make_error(ErrorCode::kInUse, "mailbox is in use by a session on another node");
  return std::make_unique<SessionLease>(shared_, mailbox_id);
}

namespace {

class ClusterLock final : public MaildropLock {
 public:
  ClusterLock(std::unique_ptr<MaildropLock> local, std::unique_ptr<SessionLease> lease)
      : local_(std::move(local)), lease_(std::move(lease)) {}

 private:
  std::unique_ptr<MaildropLock> local_;
  std::unique_ptr<SessionLease> lease_;  // released first: its row goes on the keeper's thread
};

}  // namespace

Result<std::unique_ptr<MaildropLock>> lock_cluster_wide(LeaseKeeper& keeper, int64_t mailbox_id,
                                                        std::unique_ptr<MaildropLock> local) {
  auto lease = keeper.acquire(mailbox_id);
  if (!lease) return lease.error();
  return std::unique_ptr<MaildropLock>(std::make_unique<ClusterLock>(std::move(local), std::move(lease).value()));
}

void LeaseKeeper::tick() {
  std::lock_guard round(shared_->round_mu);
  release_ended(*shared_, true);
  renew_all(*shared_);
}

void LeaseKeeper::run() {
  // A new node holds no lease: the first renewal is one period away.
  auto next_renewal = std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(1, ttl() / 3));
  while (true) {
    bool releases = false;
    {
      std::unique_lock lock(shared_->mu);
      const auto period = std::chrono::seconds(std::max<int64_t>(1, shared_->ttl / 3));
      if (next_renewal > std::chrono::steady_clock::now() + period) next_renewal = std::chrono::steady_clock::now() + period;
      shared_->wake.wait_until(lock, next_renewal, [&] {
        return shared_->stop || shared_->ttl_changed || !shared_->to_release.empty();
      });
      if (shared_->stop) break;
      if (shared_->ttl_changed) {  // a shorter period starts now; leases taken meanwhile got the new TTL
        shared_->ttl_changed = false;
        continue;
      }
      releases = !shared_->to_release.empty();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_renewal) {
      tick();
      std::lock_guard lock(shared_->mu);
      next_renewal = now + std::chrono::seconds(std::max<int64_t>(1, shared_->ttl / 3));
    } else if (releases) {
      std::lock_guard round(shared_->round_mu);
      release_ended(*shared_, false);
    }
  }
  // The last sessions' rows; a row left here expires within the TTL.
  std::lock_guard round(shared_->round_mu);
  release_ended(*shared_, true);
}

}  // namespace mailroom::storage
