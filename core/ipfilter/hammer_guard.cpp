// HammerGuard: failure windows, growing delays, blocks and their bounded bookkeeping.
#include "core/ipfilter/hammer_guard.h"

#include <algorithm>

namespace mailroom::ipfilter {

const char* block_cause_name(BlockCause cause) {
  switch (cause) {
    case BlockCause::kLoginFailures: return "login_failures";
    case BlockCause::kAutoDeny: return "auto_deny";
    case BlockCause::kManual: return "manual";
  }
  return "manual";
}

BlockCause parse_block_cause(std::string_view name) {
  for (BlockCause c : {BlockCause::kLoginFailures, BlockCause::kAutoDeny, BlockCause::kManual}) {
    if (name == block_cause_name(c)) return c;
  }
  return BlockCause::kManual;
}

HammerGuard::HammerGuard(HammerSettings settings) : settings_(std::move(settings)) {}

void HammerGuard::configure(HammerSettings settings) {
  if (settings.ipv6_failure_prefix != settings_.ipv6_failure_prefix) {
    failures_.clear();
    lru_.clear();
  }
  settings_ = std::move(settings);
  while (failures_.size() > settings_.max_tracked && !lru_.empty()) {
    failures_.erase(lru_.front());
    lru_.pop_front();
  }
}

int HammerGuard::key_prefix(const IpAddress& ip) const {
  if (ip.is_v4()) return 128;
  return std::clamp(settings_.ipv6_failure_prefix, 1, 128);
}

void HammerGuard::prune(std::vector<TimePoint>& times, TimePoint now) const {
  auto keep_from = std::find_if(times.begin(), times.end(),
                                [&](TimePoint t) { return now - t < settings_.failure_window; });
  times.erase(times.begin(), keep_from);
}

std::chrono::milliseconds HammerGuard::delay_for(int failures) const {
  if (failures <= 1) return std::chrono::milliseconds(0);
  auto delay = settings_.failure_delay;
  for (int i = 2; i < failures && delay < settings_.max_failure_delay; ++i) delay *= 2;
  return std::min(delay, settings_.max_failure_delay);
}

FailureOutcome HammerGuard::record_failure(const IpAddress& ip, TimePoint now) {
  if (is_blocked(ip, now)) {
    // Re-counting from zero here would let the checks in flight at the block re-block the
    // address again and again, each time with a fresh window of guesses.
    FailureOutcome out;
    out.failures = settings_.max_login_failures;
    out.delay = delay_for(out.failures);
    out.while_blocked = true;
    return out;
  }
  IpAddress key = key_for(ip);
  auto it = failures_.find(key);
  if (it == failures_.end()) {
    if (settings_.max_tracked == 0) {
      FailureOutcome untracked;
      untracked.failures = 1;
      untracked.delay = delay_for(1);
      return untracked;
    }
    while (failures_.size() >= settings_.max_tracked && !lru_.empty()) {
      failures_.erase(lru_.front());
      lru_.pop_front();
    }
    lru_.push_back(key);
    it = failures_.emplace(key, FailureRecord{{}, std::prev(lru_.end())}).first;
  } else {
    lru_.splice(lru_.end(), lru_, it->second.lru);
  }
  auto& times = it->second.times;
  prune(times, now);
  times.push_back(now);
  // Enough history for the threshold and for the delay to reach its cap.
  std::size_t keep = static_cast<std::size_t>(std::max(settings_.max_login_failures, 32));
  if (times.size() > keep) times.erase(times.begin(), times.end() - static_cast<std::ptrdiff_t>(keep));

  FailureOutcome out;
  out.failures = static_cast<int>(times.size());
  out.delay = delay_for(out.failures);
  if (settings_.max_login_failures > 0 && out.failures >= settings_.max_login_failures) {
    std::optional<std::chrono::seconds> duration;
    if (settings_.block_duration.count() > 0) duration = settings_.block_duration;
    deny_temporarily(ip, now, duration, BlockCause::kLoginFailures,
                     std::to_string(out.failures) + " login failures within " +
                         std::to_string(settings_.failure_window.count()) + " s");
    lru_.erase(it->second.lru);
    failures_.erase(it);
    out.blocked = true;
  }
  return out;
}

void HammerGuard::record_success(const IpAddress& ip) {
  auto it = failures_.find(key_for(ip));
  if (it == failures_.end()) return;
  lru_.erase(it->second.lru);
  failures_.erase(it);
}

int HammerGuard::failures(const IpAddress& ip, TimePoint now) const {
  auto it = failures_.find(key_for(ip));
  if (it == failures_.end()) return 0;
  return static_cast<int>(std::count_if(it->second.times.begin(), it->second.times.end(),
                                        [&](TimePoint t) { return now - t < settings_.failure_window; }));
}

Block& HammerGuard::insert_block(const IpAddress& network, int prefix, TimePoint now) {
  if (blocks_.size() >= settings_.max_tracked && blocks_.count({network, prefix}) == 0) {
    expire(now);
    if (!blocks_.empty() && blocks_.size() >= settings_.max_tracked) {
      auto oldest = std::min_element(blocks_.begin(), blocks_.end(),
                                     [](const auto& a, const auto& b) { return a.second.since < b.second.since; });
      erase_block(oldest);
    }
  }
  auto [it, inserted] = blocks_.try_emplace({network, prefix});
  if (inserted) {
    ++block_prefixes_[prefix];
    it->second.network = network;
    it->second.prefix = prefix;
    it->second.since = now;
  }
  return it->second;
}

void HammerGuard::erase_block(std::map<BlockKey, Block>::iterator it) {
  auto p = block_prefixes_.find(it->first.second);
  if (p != block_prefixes_.end() && --p->second == 0) block_prefixes_.erase(p);
  blocks_.erase(it);
}

const Block& HammerGuard::deny_temporarily(const IpAddress& ip, TimePoint now,
                                           std::optional<std::chrono::seconds> duration, BlockCause cause,
                                           std::string reason) {
  int prefix = key_prefix(ip);
  bool existed = blocks_.count({ip.masked(prefix), prefix}) != 0;
  Block& block = insert_block(ip.masked(prefix), prefix, now);
  std::optional<TimePoint> expires;
  if (duration) expires = now + *duration;
  bool expired = existed && !block.active_at(now);
  if (!existed || expired) block.since = now;
  // Extend, never shorten: no expiry beats any expiry, a later one beats an earlier one.
  bool longer = !existed || expired || (block.expires && (!expires || *expires > *block.expires));
  if (longer) {
    block.expires = expires;
    block.cause = cause;
    block.reason = std::move(reason);
  }
  return block;
}

std::map<HammerGuard::BlockKey, Block>::iterator HammerGuard::find_block_it(const IpAddress& ip) {
  for (const auto& [prefix, count] : block_prefixes_) {
    if (!prefix_fits_family(ip, prefix)) continue;  // an IPv6 block (::/64) never covers IPv4
    auto it = blocks_.find({ip.masked(prefix), prefix});
    if (it != blocks_.end()) return it;
  }
  return blocks_.end();
}

const Block* HammerGuard::find_block(const IpAddress& ip, TimePoint now) const {
  for (const auto& [prefix, count] : block_prefixes_) {
    if (!prefix_fits_family(ip, prefix)) continue;
    auto it = blocks_.find({ip.masked(prefix), prefix});
    if (it != blocks_.end() && it->second.active_at(now)) return &it->second;
  }
  return nullptr;
}

const Block* HammerGuard::hit(const IpAddress& ip, TimePoint now) {
  for (const auto& [prefix, count] : block_prefixes_) {
    if (!prefix_fits_family(ip, prefix)) continue;
    auto it = blocks_.find({ip.masked(prefix), prefix});
    if (it == blocks_.end()) continue;
    if (!it->second.active_at(now)) {
      erase_block(it);  // invalidates block_prefixes_ iteration; look again from the start
      return hit(ip, now);
    }
    ++it->second.hits;
    it->second.last_hit = now;
    return &it->second;
  }
  return nullptr;
}

std::vector<Block> HammerGuard::blocks(TimePoint now) const {
  std::vector<Block> out;
  for (const auto& [key, block] : blocks_) {
    if (block.active_at(now)) out.push_back(block);
  }
  return out;
}

std::size_t HammerGuard::lift(const IpAddress& ip) {
  std::size_t lifted = 0;
  for (auto it = find_block_it(ip); it != blocks_.end(); it = find_block_it(ip)) {
    erase_block(it);
    ++lifted;
  }
  record_success(ip);
  return lifted;
}

void HammerGuard::replace_blocks(std::vector<Block> stored, const std::function<bool(const Block&)>& keep) {
  std::map<BlockKey, Block> old;
  old.swap(blocks_);
  block_prefixes_.clear();
  for (auto& b : stored) {
    BlockKey key{b.network, b.prefix};
    if (auto it = old.find(key); it != old.end()) {
      if (it->second.hits > b.hits) b.hits = it->second.hits;
      if (it->second.last_hit && (!b.last_hit || *it->second.last_hit > *b.last_hit)) b.last_hit = it->second.last_hit;
    }
    auto [it, inserted] = blocks_.insert_or_assign(key, std::move(b));
    if (inserted) ++block_prefixes_[key.second];
  }
  for (auto& [key, b] : old) {
    if (blocks_.count(key) || !keep || !keep(b)) continue;
    ++block_prefixes_[key.second];
    blocks_.emplace(key, std::move(b));
  }
}

void HammerGuard::clear() {
  blocks_.clear();
  block_prefixes_.clear();
  failures_.clear();
  lru_.clear();
}

void HammerGuard::expire(TimePoint now) {
  for (auto it = blocks_.begin(); it != blocks_.end();) {
    auto next = std::next(it);
    if (!it->second.active_at(now)) erase_block(it);
    it = next;
  }
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto rec = failures_.find(*it);
    prune(rec->second.times, now);
    if (rec->second.times.empty()) {
      failures_.erase(rec);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace mailroom::ipfilter
