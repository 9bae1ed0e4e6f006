// PolicyStore: the stored side of a service's network policy: IP access rules (allow / deny /
// safe lists) and blocks (anti-hammering, auto-deny, manual), with their hit counters.
//
// Who writes what:
//   - mailctl adds/removes rules and blocks; each such change bumps the policy generation, which
//     the daemon polls to reload its in-memory AccessPolicy.
//   - the daemon stores the blocks it places itself (so they survive a restart and mailctl can
//     list them) and flushes hit counters now and then; neither bumps the generation, since the
//     daemon already has them in memory.
// Thread-safe like AccountStore: any worker thread, never the loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/result.h"

namespace mailroom::storage {

// The longest comment of a rule (and reason of a block) mailctl stores.
inline constexpr std::size_t kMaxRuleCommentLength = 200;

struct AccessRuleRecord {
  int64_t id = 0;
  std::string service;   // e.g. "pop3"
  std::string list;      // "allow", "deny" or "safe"
  std::string rule;      // canonical rule text (ipfilter::AddressRule::text())
  std::string comment;   // free text from the admin, may be empty
  int64_t created_at = 0;               // unix seconds
  int64_t hits = 0;                     // connections this rule decided
  std::optional<int64_t> last_hit;      // unix seconds
};

struct BlockRecord {
  std::string service;
  std::string network;   // ipfilter::Block::key_text(): "10.0.0.1", "2001:db8:1:2::/64"
  std::string cause;     // ipfilter::block_cause_name(): "login_failures", "auto_deny", "manual"
  std::string reason;    // for humans
  int64_t since = 0;                    // unix seconds
  std::optional<int64_t> expires;       // unix seconds; nullopt = until lifted (or restart, below)
  bool until_restart = false;           // dropped when the daemon starts (auto-deny's default)
  int64_t hits = 0;                     // connections refused by this block
  std::optional<int64_t> last_hit;
};

// A counter update from the daemon: absolute values, not deltas.
struct RuleHits {
  std::string service, list, rule;
  int64_t hits = 0;
  std::optional<int64_t> last_hit;
};
struct BlockHits {
  std::string service, network;
  int64_t hits = 0;
  std::optional<int64_t> last_hit;
};

class PolicyStore {
 public:
  virtual ~PolicyStore() = default;

  // ---- rules (mailctl; each bumps the generation) ----
  // kNotFound: no such service; kAlreadyExists: the same canonical rule is already in that list.
  // `rule` must already be canonical (the caller parsed it with ipfilter).
  virtual Result<AccessRuleRecord> add_access_rule(const std::string& service, const std::string& list,
                                                   const std::string& rule, const std::string& comment) = 0;
  // Many rules in one transaction (bulk import): rules already present are skipped and counted.
  // Returns the number added.
  virtual Result<int64_t> add_access_rules(const std::string& service, const std::string& list,
                                           const std::vector<std::string>& rules) = 0;
  // kNotFound if there is no such rule.
  virtual Status remove_access_rule(const std::string& service, const std::string& list, const std::string& rule) = 0;
  // Removes every rule of a list (or of all lists); returns how many.
  virtual Result<int64_t> clear_access_rules(const std::string& service, const std::optional<std::string>& list) = 0;
  // Ordered by list, then rule id.
  virtual Result<std::vector<AccessRuleRecord>> list_access_rules(const std::string& service,
                                                                  const std::optional<std::string>& list) = 0;

  // ---- blocks ----
  // Inserts or replaces the block of (service, network). `bump_generation`: true from mailctl
  // (the daemon must learn of it) and from a daemon whose database other nodes share (they must
  // learn of it), false from a single box's daemon (it placed the block itself).
  virtual Status put_block(const BlockRecord& block, bool bump_generation) = 0;
  // kNotFound if none. Bumps the generation.
  virtual Status remove_block(const std::string& service, const std::string& network) = 0;
  // Returns the number removed. Bumps the generation.
  virtual Result<int64_t> clear_blocks(const std::string& service) = 0;
  // Blocks that have not expired at `now` (unix seconds), ordered by network.
  virtual Result<std::vector<BlockRecord>> list_blocks(const std::string& service, int64_t now) = 0;
  // Daemon start: deletes until_restart blocks and expired ones (of every service); returns how many.
  virtual Result<int64_t> drop_stale_blocks(int64_t now) = 0;

  // ---- daemon ----
  // Writes the counters in one transaction; rows that no longer exist are ignored. No bump.
  virtual Status record_hits(const std::vector<RuleHits>& rules, const std::vector<BlockHits>& blocks) = 0;
  // Changes whenever mailctl changed rules or blocks.
  virtual Result<int64_t> generation() = 0;
};

// Opened by storage/store_factory.h.

}  // namespace mailroom::storage
