// Policy sync: stored access rules and blocks in, placed blocks and hit counters out.
#include "daemon/policy_sync.h"

#include <optional>

#include "core/ipfilter/address_rule.h"
#include "core/log/logger.h"

namespace mailroom::daemon {

namespace {

std::optional<ipfilter::AccessList> list_from_name(const std::string& name) {
  if (name == "allow") return ipfilter::AccessList::kAllow;
  if (name == "deny") return ipfilter::AccessList::kDeny;
  if (name == "safe") return ipfilter::AccessList::kSafe;
  return std::nullopt;
}

}  // namespace

Result<core::PolicyData> load_policy(storage::PolicyStore& store, const std::string& service, const ClockPair& clock,
                                     std::vector<std::string>& warnings) {
  core::PolicyData data;
  auto rules = store.list_access_rules(service, std::nullopt);
  if (!rules) return rules.error();
  for (auto& r : *rules) {
    auto list = list_from_name(r.list);
    auto parsed = ipfilter::parse_address_rule(r.rule);
    if (!list || !parsed) {
      warnings.push_back("service " + service + ": ignoring stored " + r.list + " rule '" + r.rule + "'");
      continue;
    }
    ipfilter::PolicyRule pr;
    pr.list = *list;
    pr.rule = std::move(parsed).value();
    pr.hits = static_cast<uint64_t>(r.hits);
    if (r.last_hit) pr.last_hit = clock.to_steady(*r.last_hit);
    data.rules[static_cast<std::size_t>(*list)].push_back(std::move(pr));
  }
  auto blocks = store.list_blocks(service, clock.wall);
  if (!blocks) return blocks.error();
  for (auto& b : *blocks) {
    auto prefix = ipfilter::parse_prefix_text(b.network);
    if (!prefix) {
      warnings.push_back("service " + service + ": ignoring stored block '" + b.network + "'");
      continue;
    }
    ipfilter::Block block;
    block.network = prefix->network;
    block.prefix = prefix->bits;
    block.cause = ipfilter::parse_block_cause(b.cause);
    block.reason = b.reason;
    block.since = clock.to_steady(b.since);
    if (b.expires) block.expires = clock.to_steady(*b.expires);
    block.hits = static_cast<uint64_t>(b.hits);
    if (b.last_hit) block.last_hit = clock.to_steady(*b.last_hit);
    data.blocks.push_back(std::move(block));
  }
  return data;
}

Status PolicySync::drop_stale_blocks(int64_t now) {
  auto dropped = store_.drop_stale_blocks(now);
  if (!dropped) return dropped.error();
  if (*dropped > 0) log::info("policy.blocks_dropped", {{"count", std::to_string(*dropped)}, {"why", "expired or until restart"}});
  return {};
}

void PolicySync::store_block(const std::string& service, const ipfilter::Block& block, std::function<void()> saved) {
  ClockPair clock;
  storage::BlockRecord rec;
  rec.service = service;
  rec.network = block.key_text();
  rec.cause = ipfilter::block_cause_name(block.cause);
  rec.reason = block.reason;
  rec.since = clock.to_unix(block.since);
  if (block.expires) rec.expires = clock.to_unix(*block.expires);
  rec.until_restart = !block.expires;  // the daemon's open-ended blocks end with it
  rec.hits = static_cast<int64_t>(block.hits);
  if (block.last_hit) rec.last_hit = clock.to_unix(*block.last_hit);
  auto status = std::make_shared<Status>();
  std::weak_ptr<int> alive = alive_;
  storage::PolicyStore& store = store_;
  work_.submit([&store, rec, status, bump = shared_] { *status = store.put_block(rec, bump); },
               [alive, status, service, block, saved = std::move(saved)] {
                 if (alive.expired()) return;
                 if (!*status) {
                   log::error("policy.store_block", {{"service", service}, {"block", block.key_text()},
                                                     {"error", status->error().message}});
                 }
                 saved();
               });
}

void PolicySync::flush_hits(const Services& services) {
  if (flush_in_flight_) return;
  ClockPair clock;
  auto rules = std::make_shared<std::vector<storage::RuleHits>>();
  auto blocks = std::make_shared<std::vector<storage::BlockHits>>();
  std::map<std::string, uint64_t> rule_marks, block_marks;
  for (const auto& [name, service] : services) {
    // Under the service's lock: session loops change the guard's blocks meanwhile.
    service->with_policy([&](const ipfilter::AccessPolicy& policy) {
    for (auto list : {ipfilter::AccessList::kAllow, ipfilter::AccessList::kDeny, ipfilter::AccessList::kSafe}) {
      for (const auto& r : policy.rules(list)) {
        if (r.hits == 0) continue;
        std::string key = name + "\t" + ipfilter::access_list_name(list) + "\t" + r.rule.canonical;
        auto it = flushed_rule_hits_.find(key);
        if (it != flushed_rule_hits_.end() && it->second == r.hits) continue;
        rule_marks[key] = r.hits;
        storage::RuleHits h{name, ipfilter::access_list_name(list), r.rule.canonical, static_cast<int64_t>(r.hits),
                            std::nullopt};
        if (r.last_hit) h.last_hit = clock.to_unix(*r.last_hit);
        rules->push_back(std::move(h));
      }
    }
    for (const auto& b : policy.guard().blocks(clock.steady)) {
      if (b.hits == 0) continue;
      std::string key = name + "\t" + b.key_text();
      auto it = flushed_block_hits_.find(key);
      if (it != flushed_block_hits_.end() && it->second == b.hits) continue;
      block_marks[key] = b.hits;
      storage::BlockHits h{name, b.key_text(), static_cast<int64_t>(b.hits), std::nullopt};
      if (b.last_hit) h.last_hit = clock.to_unix(*b.last_hit);
      blocks->push_back(std::move(h));
    }
    });
  }
  if (rules->empty() && blocks->empty()) return;
  flush_in_flight_ = true;
  auto status = std::make_shared<Status>();
  std::weak_ptr<int> alive = alive_;
  storage::PolicyStore& store = store_;
  work_.submit([&store, rules, blocks, status] { *status = store.record_hits(*rules, *blocks); },
               [this, alive, status, rule_marks = std::move(rule_marks), block_marks = std::move(block_marks)] {
                 if (alive.expired()) return;
                 flush_in_flight_ = false;
                 if (!*status) {
                   log::warn("policy.flush_hits", {{"error", status->error().message}});
                   return;
                 }
                 for (const auto& [k, v] : rule_marks) flushed_rule_hits_[k] = v;
                 for (const auto& [k, v] : block_marks) flushed_block_hits_[k] = v;
               });
}

}  // namespace mailroom::daemon
