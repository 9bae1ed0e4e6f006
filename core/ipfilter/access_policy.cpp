// AccessPolicy: precedence of blocks and lists, hit counting, and the explain text.
#include "core/ipfilter/access_policy.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace mailroom::ipfilter {

const char* access_mode_name(AccessMode mode) { return mode == AccessMode::kDeny ? "deny" : "allow_only"; }

std::optional<AccessMode> parse_access_mode(std::string_view text) {
  if (text == "deny") return AccessMode::kDeny;
  if (text == "allow_only") return AccessMode::kAllowOnly;
  return std::nullopt;
}

const char* access_list_name(AccessList list) {
  switch (list) {
    case AccessList::kAllow: return "allow";
    case AccessList::kDeny: return "deny";
    case AccessList::kSafe: return "safe";
  }
  return "deny";
}

const char* decision_name(Decision decision) { return decision == Decision::kAllow ? "allow" : "deny"; }

const char* reason_name(Reason reason) {
  switch (reason) {
    case Reason::kSafeList: return "safe_list";
    case Reason::kAllowList: return "allow_list";
    case Reason::kDenyList: return "deny_list";
    case Reason::kNotInAllowList: return "not_in_allow_list";
    case Reason::kBlocked: return "blocked";
    case Reason::kDefault: return "default";
  }
  return "default";
}

AccessPolicy::AccessPolicy(AccessMode mode, HammerSettings hammer) : mode_(mode), guard_(std::move(hammer)) {}

void AccessPolicy::rebuild(List& list) {
  std::vector<RangeSet::Entry> entries;
  entries.reserve(list.rules.size());
  for (std::size_t i = 0; i < list.rules.size(); ++i) {
    entries.push_back({list.rules[i].rule.range, static_cast<uint32_t>(i)});
  }
  list.lookup.build(std::move(entries));
}

void AccessPolicy::set_rules(AccessList which, std::vector<AddressRule> rules) {
  List& list = lists_[index(which)];
  std::unordered_map<std::string, PolicyRule> old;
  for (auto& r : list.rules) old.emplace(r.rule.canonical, std::move(r));
  list.rules.clear();
  list.rules.reserve(rules.size());
  std::unordered_set<std::string> seen;
  seen.reserve(rules.size());
  for (auto& rule : rules) {
    if (!seen.insert(rule.canonical).second) continue;
    PolicyRule pr;
    if (auto it = old.find(rule.canonical); it != old.end()) {
      pr = std::move(it->second);
    } else {
      pr.id = next_id_++;
      pr.list = which;
    }
    pr.rule = std::move(rule);
    list.rules.push_back(std::move(pr));
  }
  rebuild(list);
}

void AccessPolicy::load_rules(AccessList which, std::vector<PolicyRule> rules) {
  std::unordered_map<std::string, std::pair<uint64_t, std::optional<TimePoint>>> stored;
  std::vector<AddressRule> plain;
  plain.reserve(rules.size());
  for (auto& r : rules) {
    stored[r.rule.canonical] = {r.hits, r.last_hit};
    plain.push_back(std::move(r.rule));
  }
  set_rules(which, std::move(plain));
  for (auto& r : lists_[index(which)].rules) {
    auto it = stored.find(r.rule.canonical);
    if (it == stored.end()) continue;
    r.hits = std::max(r.hits, it->second.first);
    if (it->second.second && (!r.last_hit || *it->second.second > *r.last_hit)) r.last_hit = it->second.second;
  }
}

Status AccessPolicy::set_rules(AccessList list, std::string_view text) {
  auto rules = parse_address_rules(text);
  if (!rules) return rules.error();
  set_rules(list, std::move(rules).value());
  return {};
}

Result<uint64_t> AccessPolicy::add_rule(AccessList which, std::string_view text) {
  auto rule = parse_address_rule(text);
  if (!rule) return rule.error();
  List& list = lists_[index(which)];
  for (const auto& r : list.rules) {
    if (r.rule.canonical == rule->canonical) {
      return make_error(ErrorCode::kAlreadyExists, std::string("the ") + access_list_name(which) +
                                                       " list already has " + r.rule.canonical + " (rule #" +
                                                       std::to_string(r.id) + ")");
    }
  }
  PolicyRule pr;
  pr.id = next_id_++;
  pr.list = which;
  pr.rule = std::move(rule).value();
  list.rules.push_back(std::move(pr));
  rebuild(list);
  return list.rules.back().id;
}

bool AccessPolicy::remove_rule(uint64_t id) {
  for (auto& list : lists_) {
    auto it = std::find_if(list.rules.begin(), list.rules.end(), [&](const PolicyRule& r) { return r.id == id; });
    if (it != list.rules.end()) {
      list.rules.erase(it);
      rebuild(list);
      return true;
    }
  }
  return false;
}

const PolicyRule* AccessPolicy::find_rule(uint64_t id) const {
  for (const auto& list : lists_) {
    for (const auto& r : list.rules) {
      if (r.id == id) return &r;
    }
  }
  return nullptr;
}

const PolicyRule* AccessPolicy::match(AccessList which, const IpAddress& ip) const {
  const List& list = lists_[index(which)];
  auto tag = list.lookup.find(ip);
  return tag ? &list.rules[*tag] : nullptr;
}

AccessPolicy::Decided AccessPolicy::decide(const IpAddress& ip, TimePoint now) const {
  Decided d;
  Verdict& v = d.verdict;
  if (const Block* block = guard_.find_block(ip, now)) {
    v.decision = Decision::kDeny;
    v.reason = Reason::kBlocked;
    v.rule_text = block->key_text();
    v.block_expiry = block->expires;
    v.block_reason = block->reason;
    return d;
  }
  // One lookup per list consulted; the deciding rule's tag is kept so check() need not search again.
  auto try_list = [&](AccessList which, Decision decision, Reason reason) {
    const List& list = lists_[index(which)];
    auto tag = list.lookup.find(ip);
    if (!tag) return false;
    const PolicyRule& r = list.rules[*tag];
    v.decision = decision;
    v.reason = reason;
    v.rule_id = r.id;
    v.rule_text = r.rule.canonical;
    d.list = which;
    d.tag = tag;
    return true;
  };
  if (try_list(AccessList::kSafe, Decision::kAllow, Reason::kSafeList)) return d;
  if (try_list(AccessList::kDeny, Decision::kDeny, Reason::kDenyList)) return d;
  if (mode_ == AccessMode::kAllowOnly) {
    if (try_list(AccessList::kAllow, Decision::kAllow, Reason::kAllowList)) return d;
    v.decision = Decision::kDeny;
    v.reason = Reason::kNotInAllowList;
  }
  return d;
}

Verdict AccessPolicy::evaluate(const IpAddress& ip, TimePoint now) const { return decide(ip, now).verdict; }

Verdict AccessPolicy::check(const IpAddress& ip, TimePoint now) {
  Decided d = decide(ip, now);
  if (d.verdict.reason == Reason::kBlocked) {
    guard_.hit(ip, now);
  } else if (d.tag) {
    PolicyRule& r = lists_[index(d.list)].rules[*d.tag];
    ++r.hits;
    r.last_hit = now;
  }
  ++counters_.checks;
  ++(d.verdict.allowed() ? counters_.allowed : counters_.denied);
  ++counters_.by_reason[static_cast<std::size_t>(d.verdict.reason)];
  return std::move(d.verdict);
}

namespace {

std::string seconds_from(TimePoint now, TimePoint t) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(t - now).count();
  return std::to_string(s < 0 ? -s : s) + " s";
}

std::string rule_line(const PolicyRule& r, TimePoint now) {
  std::string s = std::string(access_list_name(r.list)) + " rule #" + std::to_string(r.id) + " '" +
                  r.rule.canonical + "'";
  if (r.rule.source != r.rule.canonical) s += " (written '" + r.rule.source + "')";
  s += ", " + std::to_string(r.hits) + " hits";
  if (r.last_hit) s += ", last " + seconds_from(now, *r.last_hit) + " ago";
  return s;
}

}  // namespace

std::string AccessPolicy::explain(const IpAddress& ip, TimePoint now) const {
  Verdict v = evaluate(ip, now);
  std::string out = ip.str() + ": " + decision_name(v.decision) + " (" + reason_name(v.reason) + ")\n";
  const PolicyRule* safe = match(AccessList::kSafe, ip);
  const PolicyRule* deny = match(AccessList::kDeny, ip);
  const PolicyRule* allow = match(AccessList::kAllow, ip);
  switch (v.reason) {
    case Reason::kBlocked: {
      const Block* b = guard_.find_block(ip, now);
      out += "  decided by: block " + v.rule_text + " (" + block_cause_name(b->cause) + ": " + b->reason + "), ";
      out += b->expires ? "expires in " + seconds_from(now, *b->expires) : std::string("until lifted or restart");
      out += ", " + std::to_string(b->hits) + " hits\n";
      if (safe) out += "  the safe list (" + rule_line(*safe, now) + ") does not overrule blocks\n";
      break;
    }
    case Reason::kSafeList:
      out += "  decided by: " + rule_line(*safe, now) + "\n";
      if (deny) out += "  overrules: " + rule_line(*deny, now) + "\n";
      break;
    case Reason::kDenyList:
      out += "  decided by: " + rule_line(*deny, now) + "\n";
      if (allow && mode_ == AccessMode::kAllowOnly) {
        out += "  the deny list wins over: " + rule_line(*allow, now) + "\n";
      }
      break;
    case Reason::kAllowList: out += "  decided by: " + rule_line(*allow, now) + "\n"; break;
    case Reason::kNotInAllowList:
      out += "  mode allow_only and no allow rule covers this address (" +
             std::to_string(rules(AccessList::kAllow).size()) + " allow rules)\n";
      break;
    case Reason::kDefault:
      out += std::string("  mode ") + access_mode_name(mode_) + " and no safe or deny rule covers this address";
      if (allow) out += " (allow rule #" + std::to_string(allow->id) + " matches but only counts in mode allow_only)";
      out += "\n";
      break;
  }
  const HammerGuard& g = guard_;
  int failures = g.failures(ip, now);
  out += "  anti-hammering: counted as " + prefix_text(g.key_for(ip), g.key_prefix(ip)) + ", " +
         std::to_string(failures) + " login failures in the last " +
         std::to_string(g.settings().failure_window.count()) + " s";
  if (g.settings().max_login_failures > 0) {
    out += " (blocks at " + std::to_string(g.settings().max_login_failures) + ")";
  } else {
    out += " (blocking off)";
  }
  out += "\n";
  return out;
}

}  // namespace mailroom::ipfilter
