// AccessPolicy: the IP filter's verdict for a connecting client, combining the rule lists
// (allow / deny / safe, each a RangeSet) with the HammerGuard's blocks.
//
// Precedence, first match wins:
//   1. a HammerGuard block (anti-hammering or auto-deny / temporary deny) -> deny "blocked".
//      This comes first on purpose: the safe list does NOT protect from anti-hammering.
//   2. safe list  -> allow "safe_list"   (the safe list overrules the deny list)
//   3. deny list  -> deny  "deny_list"
//   4. mode allow_only: allow list -> allow "allow_list", else deny "not_in_allow_list"
//      (in mode deny the allow list is not consulted)
//   5. allow "default"
// Within one list, where rules overlap, the narrowest rule is the one reported and counted.
// Single-threaded: counters are plain integers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/ipfilter/address_rule.h"
#include "core/ipfilter/hammer_guard.h"
#include "core/ipfilter/ip_address.h"
#include "core/ipfilter/range_set.h"

namespace mailroom::ipfilter {

enum class AccessMode { kDeny, kAllowOnly };  // deny: everyone except the deny list; allow_only: nobody except the allow list
enum class AccessList { kAllow, kDeny, kSafe };
enum class Decision { kAllow, kDeny };
enum class Reason { kSafeList, kAllowList, kDenyList, kNotInAllowList, kBlocked, kDefault };
constexpr std::size_t kReasonCount = 6;

const char* access_mode_name(AccessMode mode);  // "deny", "allow_only"
std::optional<AccessMode> parse_access_mode(std::string_view text);
const char* access_list_name(AccessList list);  // "allow", "deny", "safe"
const char* decision_name(Decision decision);   // "allow", "deny"
const char* reason_name(Reason reason);         // "safe_list", ... as in the enum

struct PolicyRule {
  uint64_t id = 0;  // unique in the policy, never reused
  AccessList list = AccessList::kDeny;
  AddressRule rule;
  uint64_t hits = 0;  // verdicts this rule decided
  std::optional<TimePoint> last_hit;
};

struct Verdict {
  Decision decision = Decision::kAllow;
  Reason reason = Reason::kDefault;
  uint64_t rule_id = 0;     // deciding rule, 0 when none (blocked, not_in_allow_list, default)
  std::string rule_text;    // canonical rule text, or the block's key ("10.0.0.1", "2001:db8::/64")
  std::optional<TimePoint> block_expiry;  // kBlocked only; nullopt there = until lifted or restart
  std::string block_reason;               // kBlocked only

  bool allowed() const { return decision == Decision::kAllow; }
};

struct AccessCounters {
  uint64_t checks = 0;
  uint64_t allowed = 0;
  uint64_t denied = 0;
  std::array<uint64_t, kReasonCount> by_reason{};  // indexed by Reason
};

class AccessPolicy {
 public:
  explicit AccessPolicy(AccessMode mode = AccessMode::kDeny, HammerSettings hammer = {});

  void set_mode(AccessMode mode) { mode_ = mode; }
  AccessMode mode() const { return mode_; }

  // Replaces a list (duplicates by canonical text are dropped). A rule that was already in the
  // list keeps its id and counters, so a config reload does not reset statistics.
  void set_rules(AccessList list, std::vector<AddressRule> rules);
  Status set_rules(AccessList list, std::string_view text);  // parse_address_rules syntax
  // Like set_rules, with counters as stored (the `id` and `list` fields are ignored): a rule
  // already present keeps the larger hit count and the later last hit.
  void load_rules(AccessList list, std::vector<PolicyRule> rules);
  // Adds one rule; kAlreadyExists if the list has a rule with the same canonical text.
  // Rebuilds the list's lookup structure: O(n log n), meant for admin changes, not bulk loads.
  Result<uint64_t> add_rule(AccessList list, std::string_view text);
  bool remove_rule(uint64_t id);
  const std::vector<PolicyRule>& rules(AccessList list) const { return lists_[index(list)].rules; }
  const PolicyRule* find_rule(uint64_t id) const;

  // The verdict for a connecting client; counts hits on the deciding rule or block.
  Verdict check(const IpAddress& ip, TimePoint now);
  // The same verdict without counting anything.
  Verdict evaluate(const IpAddress& ip, TimePoint now) const;
  // One paragraph for `mailctl access explain`: the verdict, why, and what else matched.
  std::string explain(const IpAddress& ip, TimePoint now) const;

  HammerGuard& guard() { return guard_; }
  const HammerGuard& guard() const { return guard_; }
  const AccessCounters& counters() const { return counters_; }

 private:
  struct List {
    std::vector<PolicyRule> rules;
    RangeSet lookup;
  };
  struct Decided {
    Verdict verdict;
    AccessList list = AccessList::kDeny;  // where the deciding rule is, when `tag` is set
    std::optional<uint32_t> tag;
  };
  static std::size_t index(AccessList list) { return static_cast<std::size_t>(list); }
  const PolicyRule* match(AccessList list, const IpAddress& ip) const;
  Decided decide(const IpAddress& ip, TimePoint now) const;
  void rebuild(List& list);

  AccessMode mode_;
  std::array<List, 3> lists_;
  HammerGuard guard_;
  AccessCounters counters_;
  uint64_t next_id_ = 1;
};

}  // namespace mailroom::ipfilter
