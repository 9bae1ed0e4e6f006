// LoginDelayTable: last login times per mailbox, with an amortised sweep of old entries.
#include "modules/pop3/login_delay_table.h"

#include <algorithm>

namespace mailroom::pop3 {

int64_t LoginDelayTable::wait_seconds(const std::string& key, int64_t now, int64_t delay) const {
  if (delay <= 0) return 0;
  std::lock_guard guard(mu_);
  auto it = last_.find(key);
  if (it == last_.end()) return 0;
  const int64_t due = it->second + delay;
  return due > now ? due - now : 0;
}

void LoginDelayTable::record(const std::string& key, int64_t now, int64_t delay) {
  std::lock_guard guard(mu_);
  // A mailbox without a delay is never asked about, but its entry is kept all the same: its delay
  // may be set while the client is still polling.
  max_delay_ = std::max(max_delay_, delay);
  last_[key] = now;
  if (last_.size() >= next_prune_) prune(now);
}

void LoginDelayTable::prune(int64_t now) {
  std::erase_if(last_, [&](const auto& entry) { return entry.second + max_delay_ <= now; });
  // Sweep again once the table has doubled: amortised O(1) per login.
  next_prune_ = std::max<std::size_t>(1024, last_.size() * 2);
}

std::size_t LoginDelayTable::size() const {
  std::lock_guard guard(mu_);
  return last_.size();
}

}  // namespace mailroom::pop3
