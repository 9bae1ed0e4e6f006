// mailctl access add|import|remove|clear|list|explain and block list|add|remove|clear: a
// service's IP access lists and its blocks. Rules are parsed and stored in canonical form
// (core/ipfilter), and every change bumps the policy generation that a running daemon polls.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/base/count_text.h"
#include "admin-cli/commands.h"
#include "admin-cli/service_lookup.h"
#include "core/config/network_settings.h"
#include "core/ipfilter/access_policy.h"
#include "daemon/builtin_modules.h"
#include "storage/policy_store.h"
#include "storage/store_factory.h"

namespace mailroom::cli {

namespace {

namespace ipf = ipfilter;
using json = nlohmann::ordered_json;
using storage::AccessRuleRecord;
using storage::BlockRecord;

constexpr std::size_t kMaxCommentLength = storage::kMaxRuleCommentLength;
constexpr int64_t kMaxBlockSeconds = 31536000;  // a year, like the block_duration setting
constexpr const char* kDefaultBlockReason = "blocked with mailctl";

int64_t now_seconds() { return static_cast<int64_t>(std::time(nullptr)); }

std::string iso_time(int64_t unix_seconds) { return format_time_iso(unix_seconds); }

std::string iso_or_dash(const std::optional<int64_t>& t) { return t ? iso_time(*t) : "-"; }

// Tables stay one row per line whatever an admin wrote in a comment or reason.
std::string one_line(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return out;
}

// ---------------------------------------------------------------- stores and the service

struct Stores {
  std::unique_ptr<storage::AccountStore> accounts;
  std::unique_ptr<storage::PolicyStore> policy;
};

Result<Stores> open_stores(const Context& ctx) {
  auto accounts = ctx.open_store();
  if (!accounts) return accounts.error();
  auto policy = storage::open_policy_store(ctx.data_dir(), ctx.database_option);
  if (!policy) return policy.error();
  return Stores{std::move(accounts).value(), std::move(policy).value()};
}

// The services a block command acts on: the one named, or every service.
Result<std::vector<ServiceView>> target_services(storage::AccountStore& accounts,
                                                 const std::optional<std::string>& name) {
  std::vector<ServiceView> out;
  if (name) {
    auto svc = load_service(accounts, *name);
    if (!svc) return svc.error();
    out.push_back(std::move(svc).value());
    return out;
  }
  auto all = accounts.list_services();
  if (!all) return all.error();
  for (const auto& rec : *all) {
    auto svc = load_service(accounts, rec.name);
    if (!svc) return svc.error();
    out.push_back(std::move(svc).value());
  }
  if (out.empty()) return make_error(ErrorCode::kNotFound, "there are no services (run 'mailctl init')");
  return out;
}

// ---------------------------------------------------------------- parsing

Result<ipf::AccessList> parse_list(const std::string& name) {
  for (ipf::AccessList l : {ipf::AccessList::kAllow, ipf::AccessList::kDeny, ipf::AccessList::kSafe}) {
    if (name == ipf::access_list_name(l)) return l;
  }
  return make_error(ErrorCode::kInvalidArgument, "unknown access list '" + name + "' (use allow, deny or safe)");
}

Status check_text(const std::string& what, const std::string& text) {
  if (text.size() > kMaxCommentLength) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the " + what + " is longer than " + std::to_string(kMaxCommentLength) + " characters");
  }
  return {};
}

// The network a block key ("10.0.0.1", "2001:db8:1:2::/64") covers, of the key's own family
// (::/64 spans IPv4's ::ffff:0:0/96 but covers no IPv4 address); nullopt if it does not parse.
std::optional<ipf::IpRange> block_range(const std::string& network) {
  auto rule = ipf::parse_address_rule(network);
  if (!rule) return std::nullopt;
  return rule->range;
}

// ---------------------------------------------------------------- access

json rule_json(const AccessRuleRecord& r) {
  return {{"id", r.id},
          {"list", r.list},
          {"rule", r.rule},
          {"comment", r.comment},
          {"hits", r.hits},
          {"last_hit_at", json_time(r.last_hit)},
          {"created_at", json_time(r.created_at)}};
}

struct AddArgs {
  std::string service, list, comment;
  std::vector<std::string> rule;  // one argument, or an address and its mask given unquoted
  bool if_not_exists = false;
};

Status run_access_add(const Context& ctx, const AddArgs& a) {
  auto list = parse_list(a.list);
  if (!list) return list.error();
  std::string text;
  for (const auto& part : a.rule) text += (text.empty() ? "" : " ") + part;
  auto rule = ipf::parse_address_rule(text);
  if (!rule) return rule.error();
  if (auto st = check_text("comment", a.comment); !st) return st;
  auto stores = open_stores(ctx);
  if (!stores) return stores.error();
  if (auto svc = load_service(*stores->accounts, a.service); !svc) return svc.error();

  auto added = stores->policy->add_access_rule(a.service, a.list, rule->canonical, a.comment);
  if (!added) {
    if (added.error().code == ErrorCode::kAlreadyExists && a.if_not_exists) {
      ctx.nothing_done(added.error(), {{"service", a.service}, {"list", a.list}, {"rule", rule->canonical}});
      return {};
    }
    if (added.error().code == ErrorCode::kAlreadyExists && rule->source != rule->canonical) {
      return make_error(ErrorCode::kAlreadyExists,
                        added.error().message + " ('" + rule->source + "' is the same rule)");
    }
    return added.error();
  }
  std::string message = "added " + added->rule + " to the " + a.list + " list of " + a.service;
  if (rule->source != rule->canonical) message += " (written '" + rule->source + "')";
  json extra = {{"changed", true},
               {"service", a.service},
               {"written", rule->source},
               {"form", ipf::rule_form_name(rule->form)}};
  const json stored = rule_json(*added);
  for (const auto& [k, v] : stored.items()) extra[k] = v;
  ctx.done(message, extra);
  return {};
}

struct ImportArgs {
  std::string service, list, file;
};

Status run_access_import(const Context& ctx, const ImportArgs& a) {
  auto list = parse_list(a.list);
  if (!list) return list.error();
  const bool from_stdin = a.file == "-";
  const std::string name = from_stdin ? "stdin" : a.file;
  std::ifstream file;
  if (!from_stdin) {
    file.open(a.file);
    if (!file) return make_error(ErrorCode::kIo, "cannot open " + a.file + ": " + std::strerror(errno));
  }
  std::istream& in = from_stdin ? std::cin : file;

  // Everything is parsed before anything is stored: one bad line and nothing is imported.
  std::vector<std::string> rules;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);  // no rule contains '#'
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto rule = ipf::parse_address_rule(line);
    if (!rule) {
      return make_error(ErrorCode::kInvalidArgument, name + " line " + std::to_string(number) + ": " +
                                                         rule.error().message + " (nothing was imported)");
    }
    rules.push_back(std::move(rule->canonical));
  }
  if (in.bad()) return make_error(ErrorCode::kIo, "cannot read " + name + ": " + std::strerror(errno));

  auto stores = open_stores(ctx);
  if (!stores) return stores.error();
  if (auto svc = load_service(*stores->accounts, a.service); !svc) return svc.error();
  auto added = stores->policy->add_access_rules(a.service, a.list, rules);
  if (!added) return added.error();
  const int64_t total = static_cast<int64_t>(rules.size());
  const int64_t present = total - *added;
  ctx.done("imported " + counted(total, "rule", "rules") + " from " + name + " into the " + a.list + " list of " +
               a.service + ": " + std::to_string(*added) + " added, " + std::to_string(present) +
               " already present",
           {{"service", a.service},
            {"list", a.list},
            {"file", name},
            {"rules_read", total},
            {"added", *added},
            {"already_present", present}});
  return {};
}

struct RemoveArgs {
  std::string service, list;
  std::vector<std::string> rule;
  bool if_exists = false;
};

Status run_access_remove(const Context& ctx, const RemoveArgs& a) {
  auto list = parse_list(a.list);
  if (!list) return list.error();
  std::string text;
  for (const auto& part : a.rule) text += (text.empty() ? "" : " ") + part;
  auto rule = ipf::parse_address_rule(text);
  if (!rule) return rule.error();
  auto stores = open_stores(ctx);
  if (!stores) return stores.error();
  if (auto svc = load_service(*stores->accounts, a.service); !svc) return svc.error();
  if (auto st = stores->policy->remove_access_rule(a.service, a.list, rule->canonical); !st) {
    if (st.error().code == ErrorCode::kNotFound && a.if_exists) {
      ctx.nothing_done(st.error(), {{"service", a.service}, {"list", a.list}, {"rule", rule->canonical}});
      return {};
    }
    if (st.error().code == ErrorCode::kNotFound) {
      return make_error(ErrorCode::kNotFound,
                        st.error().message + " (see 'mailctl access list " + a.service + " " + a.list + "')");
    }
    return st;
  }
  std::string message = "removed " + rule->canonical + " from the " + a.list + " list of " + a.service;
  if (rule->source != rule->canonical) message += " (written '" + rule->source + "')";
  ctx.done(message, {{"changed", true}, {"service", a.service}, {"list", a.list}, {"rule", rule->canonical}});
  return {};
}

struct ServiceListArgs {
  std::string service, list;  // list "" = every list
};

Status run_access_clear(const Context& ctx, const ServiceListArgs& a) {
  std::optional<std::string> list;
  if (!a.list.empty()) {
    if (auto l = parse_list(a.list); !l) return l.error();
    list = a.list;
  }
  auto stores = open_stores(ctx);
  if (!stores) return stores.error();
  if (auto svc = load_service(*stores->accounts, a.service); !svc) return svc.error();
  auto removed = stores->policy->clear_access_rules(a.service, list);
  if (!removed) return removed.error();
  ctx.done("removed " + counted(*removed, "rule", "rules") + " from " +
               (list ? "the " + *list + " list" : std::string("every list")) + " of " + a.service,
           {{"service", a.service}, {"list", list ? json(*list) : json(nullptr)}, {"removed", *removed}});
  return {};
}

std::string mode_summary(ipf::AccessMode mode) {
  return mode == ipf::AccessMode::kDeny
             ? "everyone may connect except addresses on the deny list"
             : "only addresses on the allow list (or the safe list) may connect";
}

Status run_access_list(const Context& ctx, const ServiceListArgs& a) {
  std::optional<std::string> list;
  if (!a.list.empty()) {
    if (auto l = parse_list(a.list); !l) return l.error();
    list = a.list;
  }
  auto stores = open_stores(ctx);
  if (!stores) return stores.error();
  auto svc = load_service(*stores->accounts, a.service);
  if (!svc) return svc.error();
  const ipf::AccessMode mode = config::network_settings_from(svc->effective()).access_mode;
  auto rules = stores->policy->list_access_rules(a.service, list);
  if (!rules) return rules.error();

  if (ctx.json) {
    json items = json::array();
    for (const auto& r : *rules) items.push_back(rule_json(r));
    print_json({{"service", a.service}, {"access_mode", ipf::access_mode_name(mode)}, {"rules", items}});
    return {};
  }
  std::cout << a.service << ": access_mode " << ipf::access_mode_name(mode) << " (" << mode_summary(mode)
            << "; the safe list overrules the deny list)\n";
  int64_t allow_rules = 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : *rules) {
    if (r.list == "allow") ++allow_rules;
    rows.push_back({std::to_string(r.id), r.list, r.rule, std::to_string(r.hits), iso_or_dash(r.last_hit),
                    one_line(r.comment)});
  }
  if (rows.empty()) {
    std::cout << (list ? "no rules in the " + *list + " list" : std::string("no rules")) << "\n";
  } else {
    std::cout << format_table({"ID", "LIST", "RULE", "HITS", "LAST HIT", "COMMENT"}, rows);
  }
  if (mode == ipf::AccessMode::kDeny && allow_rules > 0) {
    std::cout << "note: the allow list is only consulted in access_mode allow_only\n";
  }
  return {};
}

// ---------------------------------------------------------------- access explain

std::string expires_text(const BlockRecord& b) {
  if (b.expires) return iso_time(*b.expires);
  return b.until_restart ? "until restart" : "until lifted";
}

json block_json(const BlockRecord& b) {
  return {{"service", b.service},
          {"network", b.network},
          {"cause", b.cause},
          {"reason", b.reason},
          {"placed_at", json_time(b.since)},
          {"expires_at", json_time(b.expires)},
          {"until_restart", b.until_restart},
          {"hits", b.hits},
          {"last_hit_at", json_time(b.last_hit)}};
}


// Replaces the first occurrence of `from` in `text`; false if it is not there.
bool replace_once(std::string& text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  if (at == std::string::npos) return false;
  text.replace(at, from.size(), to);
  return true;
}

// Inserts `line` (with its newline) after the line that starts with `prefix`, or at the end.
void insert_after_line(std::string& text, const std::string& prefix, const std::string& line) {
  std::size_t at = text.find("\n" + prefix);
  std::size_t end = at == std::string::npos ? std::string::npos : text.find('\n', at + 1);
  if (end == std::string::npos) {
    text += line + "\n";
  } else {
    text.insert(end + 1, line + "\n");
  }
}

// Replaces the whole line that starts with `prefix` (its newline kept).
void replace_line(std::string& text, const std::string& prefix, const std::string& line) {
  std::size_t at = text.rfind("\n" + prefix);
  if (at == std::string::npos) return;
  ++at;
  std::size_t end = text.find('\n', at);
  text.replace(at, end == std::string::npos ? std::string::npos : end - at, line);
}

// For a block without an expiry: what ends it.
std::string block_until(const BlockRecord& b) { return b.until_restart ? "until the daemon restarts" : "until lifted"; }

struct ExplainArgs {
  std::string service, ip;
};

Status run_access_explain(const Context& ctx, const ExplainArgs& a) {
  auto ip = ipf::IpAddress::parse(a.ip);
  if (!ip) return ip.error();
  auto stores = open_stores(ctx);
  if (!stores) return stores.error();
  auto svc = load_service(*stores->accounts, a.service);
  if (!svc) return svc.error();
  const config::NetworkSettings network = config::network_settings_from(svc->effective());
  const ipf::AccessMode mode = network.access_mode;
  auto records = stores->policy->list_access_rules(a.service, std::nullopt);
  if (!records) return records.error();
  const int64_t now = now_seconds();
  auto stored_blocks = stores->policy->list_blocks(a.service, now);
  if (!stored_blocks) return stored_blocks.error();

  // The daemon's policy, rebuilt from what is stored. Stored times (unix seconds) become steady
  // time points at the same distance from now.
  const ipf::HammerSettings& hammer = network.hammer;
  ipf::AccessPolicy policy(mode, hammer);
  const ipf::TimePoint steady_now = ipf::Clock::now();
  auto steady = [&](int64_t unix_seconds) { return steady_now + std::chrono::seconds(unix_seconds - now); };
  auto steady_opt = [&](const std::optional<int64_t>& t) -> std::optional<ipf::TimePoint> {
    if (!t) return std::nullopt;
    return steady(*t);
  };
  // Policy rule id -> stored record: the policy numbers its rules itself.
  std::vector<std::pair<uint64_t, const AccessRuleRecord*>> by_policy_id;
  for (ipf::AccessList list : {ipf::AccessList::kAllow, ipf::AccessList::kDeny, ipf::AccessList::kSafe}) {
    std::vector<ipf::PolicyRule> rules;
    std::unordered_map<std::string, const AccessRuleRecord*> sources;
    for (const auto& r : *records) {
      if (r.list != ipf::access_list_name(list)) continue;
      auto rule = ipf::parse_address_rule(r.rule);
      if (!rule) {
        return make_error(ErrorCode::kDatabase, "stored " + r.list + " rule #" + std::to_string(r.id) + " '" +
                                                    r.rule + "' does not parse: " + rule.error().message);
      }
      ipf::PolicyRule pr;
      pr.rule = std::move(rule).value();
      pr.hits = static_cast<uint64_t>(std::max<int64_t>(r.hits, 0));
      pr.last_hit = steady_opt(r.last_hit);
      sources.emplace(pr.rule.canonical, &r);
      rules.push_back(std::move(pr));
    }
    policy.load_rules(list, std::move(rules));
    for (const auto& pr : policy.rules(list)) {
      if (auto it = sources.find(pr.rule.canonical); it != sources.end()) by_policy_id.emplace_back(pr.id, it->second);
    }
  }
  // Only the blocks covering this address matter here.
  std::vector<const BlockRecord*> covering;
  std::vector<ipf::Block> blocks;
  for (const auto& b : *stored_blocks) {
    auto prefix = ipf::parse_prefix_text(b.network);
    if (!prefix || !prefix->contains(*ip)) continue;
    covering.push_back(&b);
    ipf::Block block;
    block.network = prefix->network;
    block.prefix = prefix->bits;
    block.cause = ipf::parse_block_cause(b.cause);
    block.reason = b.reason;
    block.since = steady(b.since);
    block.expires = steady_opt(b.expires);
    block.hits = static_cast<uint64_t>(std::max<int64_t>(b.hits, 0));
    block.last_hit = steady_opt(b.last_hit);
    blocks.push_back(std::move(block));
  }
  policy.guard().replace_blocks(std::move(blocks), {});

  const ipf::Verdict verdict = policy.evaluate(*ip, steady_now);
  std::string text = policy.explain(*ip, steady_now);

  // Show the stored rule ids (those of 'access list') instead of the policy's own numbering.
  const AccessRuleRecord* deciding = nullptr;
  for (const auto& [policy_id, rec] : by_policy_id) {
    const ipf::PolicyRule* pr = policy.find_rule(policy_id);
    if (pr == nullptr || !pr->rule.range.contains(*ip)) continue;
    if (policy_id == verdict.rule_id) deciding = rec;
    const std::string head = rec->list + " rule #";
    replace_once(text, head + std::to_string(policy_id) + " '" + pr->rule.canonical + "'",
                 head + std::to_string(rec->id) + " '" + pr->rule.canonical + "'");
    replace_once(text, head + std::to_string(policy_id) + " matches", head + std::to_string(rec->id) + " matches");
  }
  if (deciding != nullptr && !deciding->comment.empty()) {
    insert_after_line(text, "  decided by: ", "  comment: " + one_line(deciding->comment));
  }
  const BlockRecord* block = nullptr;
  if (verdict.reason == ipf::Reason::kBlocked) {
    for (const BlockRecord* b : covering) {
      if (b->network == verdict.rule_text) block = b;
    }
    if (block != nullptr) {
      // The policy cannot tell "until lifted" from "until restart"; the stored block can.
      if (!block->expires) replace_once(text, "), until lifted or restart, ", "), " + block_until(*block) + ", ");
      std::string line = "  placed " + iso_time(block->since);
      if (block->expires) line += ", expires " + iso_time(*block->expires);
      if (block->last_hit) line += ", last hit " + iso_time(*block->last_hit);
      line += "; lift it with 'mailctl block remove " + block->network + " --service " + a.service + "'";
      insert_after_line(text, "  decided by: block ", line);
    }
  }
  // Failed logins are counted in the running daemon's memory only: say what counts, not "0".
  const ipf::HammerGuard& guard = policy.guard();
  std::string hammering = "  anti-hammering: counted as " + ipf::prefix_text(guard.key_for(*ip), guard.key_prefix(*ip));
  if (hammer.max_login_failures > 0) {
    hammering += "; " + std::to_string(hammer.max_login_failures) + " failed logins within " +
                 std::to_string(hammer.failure_window.count()) + " s block it " +
                 (hammer.block_duration.count() > 0 ? "for " + std::to_string(hammer.block_duration.count()) + " s"
                                                    : std::string("until lifted or restart")) +
                 " (current failure counts live in the running daemon)";
  } else {
    hammering += "; blocking after failed logins is off (max_login_failures 0)";
  }
  replace_line(text, "  anti-hammering:", hammering);

  if (ctx.json) {
    json block_details = block ? block_json(*block) : json(nullptr);
    print_json({{"service", a.service},
                {"ip", ip->str()},
                {"access_mode", ipf::access_mode_name(mode)},
                {"decision", ipf::decision_name(verdict.decision)},
                {"allowed", verdict.allowed()},
                {"reason", ipf::reason_name(verdict.reason)},
                {"rule", verdict.rule_text.empty() ? json(nullptr) : json(verdict.rule_text)},
                {"rule_id", deciding ? json(deciding->id) : json(nullptr)},
                {"list", deciding ? json(deciding->list) : json(nullptr)},
                {"comment", deciding ? json(deciding->comment) : json(nullptr)},
                {"block_expires_at", block ? json_time(block->expires) : json(nullptr)},
                {"block", block_details},
                {"text", text}});
    return {};
  }
  std::cout << text;
  return {};
}

// ---------------------------------------------------------------- block

struct BlockArgs {
  std::string service;  // "" = every service
  std::string ip;
  int64_t duration = 0;
  std::string reason;
  bool if_not_exists = false;  // add
  bool if_exists = false;      // remove
};

std::optional<std::string> service_option(const BlockArgs& a) {
  return a.service.empty() ? std::nullopt : std::optional<std::string>(a.service);
}

Status run_block_list(const Context& ctx, const BlockArgs& a) {
  auto stores = open_stores(ctx);
  if (!stores) return stores.error();
  auto services = target_services(*stores->accounts, service_option(a));
  if (!services) return services.error();
  const int64_t now = now_seconds();
  std::vector<BlockRecord> all;
  for (const auto& svc : *services) {
    auto blocks = stores->policy->list_blocks(svc.record.name, now);
    if (!blocks) return blocks.error();
    for (auto& b : *blocks) all.push_back(std::move(b));
  }
  if (ctx.json) {
    json out = json::array();
    for (const auto& b : all) out.push_back(block_json(b));
    print_json(out);
    return {};
  }
  if (all.empty()) {
    print_line(a.service.empty() ? "no blocks" : "no blocks on " + a.service);
    return {};
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : all) {
    rows.push_back({b.service, b.network, b.cause, iso_time(b.since), expires_text(b), std::to_string(b.hits),
                    iso_or_dash(b.last_hit), one_line(b.reason)});
  }
  std::cout << format_table({"SERVICE", "NETWORK", "CAUSE", "SINCE", "EXPIRES", "HITS", "LAST HIT", "REASON"}, rows);
  return {};
}

Status run_block_add(const Context& ctx, const BlockArgs& a) {
  auto ip = ipf::IpAddress::parse(a.ip);
  if (!ip) {
    if (a.ip.find('/') != std::string::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        "block add takes one address, not a network ('" + a.ip +
                            "'); an IPv6 address is blocked with its whole network of the service's "
                            "ipv6_failure_prefix");
    }
    return ip.error();
  }
  const std::string reason = a.reason.empty() ? kDefaultBlockReason : a.reason;
  if (auto st = check_text("reason", reason); !st) return st;
  auto stores = open_stores(ctx);
  if (!stores) return stores.error();
  auto services = target_services(*stores->accounts, service_option(a));
  if (!services) return services.error();

  const int64_t now = now_seconds();
  json placed = json::array();
  std::string message;
  std::string unchanged;  // services that already block it (--if-not-exists)
  for (const auto& svc : *services) {
    // The same key the daemon counts and blocks this client under.
    const int prefix = ip->is_v4() ? 128 : config::network_settings_from(svc.effective()).hammer.ipv6_failure_prefix;
    BlockRecord b;
    b.service = svc.record.name;
    b.network = ipf::prefix_text(ip->masked(prefix), prefix);
    b.cause = ipf::block_cause_name(ipf::BlockCause::kManual);
    b.reason = reason;
    b.since = now;
    if (a.duration > 0) b.expires = now + a.duration;
    auto existing = stores->policy->list_blocks(b.service, now);
    if (!existing) return existing.error();
    std::string replaced;
    bool already = false;
    for (const auto& old : *existing) {
      if (old.network != b.network) continue;
      already = true;
      b.hits = old.hits;  // the same clients keep being counted
      b.last_hit = old.last_hit;
      replaced = " (replaces its " + old.cause + " block, " + expires_text(old) + ")";
    }
    if (already && a.if_not_exists) {
      unchanged += (unchanged.empty() ? "" : ", ") + b.service;
      continue;
    }
    if (auto st = stores->policy->put_block(b, /*bump_generation=*/true); !st) return st;
    if (!message.empty()) message += "\n";
    message += "blocked " + b.network;
    if (prefix != 128) message += " (the /" + std::to_string(prefix) + " network of " + ip->str() + ")";
    message += " on " + b.service + " " +
               (b.expires ? "for " + std::to_string(a.duration) + " s, until " + iso_time(*b.expires)
                          : std::string("until lifted")) +
               replaced;
    placed.push_back(block_json(b));
  }
  if (placed.empty()) {
    ctx.nothing_done(make_error(ErrorCode::kAlreadyExists, ip->str() + " is already blocked on " + unchanged),
                     {{"ip", ip->str()}, {"blocks", placed}});
    return {};
  }
  if (!unchanged.empty()) message += "\n" + ip->str() + " was already blocked on " + unchanged;
  ctx.done(message, {{"changed", true}, {"ip", ip->str()}, {"blocks", placed}});
  return {};
}

Status run_block_remove(const Context& ctx, const BlockArgs& a) {
  // An address lifts every block covering it; a network (as 'block list' shows it) lifts the
  // blocks covering all of it, that one included.
  std::optional<ipf::IpRange> target;
  if (a.ip.find('/') != std::string::npos) {
    auto rule = ipf::parse_address_rule(a.ip);
    if (!rule) return rule.error();
    target = rule->range;
  } else {
    auto ip = ipf::IpAddress::parse(a.ip);
    if (!ip) return ip.error();
    target = ipf::IpRange{*ip, *ip};
  }
  auto stores = open_stores(ctx);
  if (!stores) return stores.error();
  auto services = target_services(*stores->accounts, service_option(a));
  if (!services) return services.error();
  const int64_t now = now_seconds();
  json removed = json::array();
  std::string message;
  for (const auto& svc : *services) {
    auto blocks = stores->policy->list_blocks(svc.record.name, now);
    if (!blocks) return blocks.error();
    for (const auto& b : *blocks) {
      auto range = block_range(b.network);
      if (!range || !range->covers(*target)) continue;
      if (auto st = stores->policy->remove_block(b.service, b.network); !st) return st;
      if (!message.empty()) message += "\n";
      message += "lifted block " + b.network + " on " + b.service + " (" + b.cause + ")";
      removed.push_back({{"service", b.service}, {"network", b.network}, {"cause", b.cause}});
    }
  }
  if (removed.empty()) {
    Error none = make_error(ErrorCode::kNotFound, "no block covers " + a.ip +
                                                      (a.service.empty() ? std::string(" on any service")
                                                                         : " on " + a.service) +
                                                      " (see 'mailctl block list')");
    if (!a.if_exists) return none;
    ctx.nothing_done(none, {{"blocks", removed}});
    return {};
  }
  ctx.done(message, {{"changed", true}, {"blocks", removed}});
  return {};
}

Status run_block_clear(const Context& ctx, const BlockArgs& a) {
  auto stores = open_stores(ctx);
  if (!stores) return stores.error();
  auto services = target_services(*stores->accounts, service_option(a));
  if (!services) return services.error();
  int64_t total = 0;
  json names = json::array();
  for (const auto& svc : *services) {
    auto removed = stores->policy->clear_blocks(svc.record.name);
    if (!removed) return removed.error();
    total += *removed;
    names.push_back(svc.record.name);
  }
  std::string where;
  for (const auto& svc : *services) where += (where.empty() ? "" : ", ") + svc.record.name;
  ctx.done("removed " + counted(total, "block", "blocks") + " on " + where, {{"removed", total}, {"services", names}});
  return {};
}

}  // namespace

void add_access_commands(CLI::App& app, Context& ctx) {
  // ---- access ----
  CLI::App* group = app.add_subcommand("access", "Manage a service's IP access lists (allow, deny, safe)");
  group->require_subcommand(1);
  const std::string rule_help =
      "Address rule: 10.0.0.1, 2001:db8::1, 192.168.0.0/24, '156.21.50.0 255.255.255.0', '192.168.0.*', "
      "10.0.0.1-10.0.0.50 or *";

  auto add_args = std::make_shared<AddArgs>();
  CLI::App* add = group->add_subcommand("add", "Add a rule to a list (stored in canonical form)");
  add->add_option("SERVICE", add_args->service, "Service name, e.g. pop3")->required();
  add->add_option("LIST", add_args->list, "allow, deny or safe")->required();
  add->add_option("RULE", add_args->rule, rule_help)->required()->expected(1, 2);
  add->add_option("--comment", add_args->comment, "A note kept with the rule")->type_name("TEXT");
  add_if_not_exists_flag(add, add_args->if_not_exists);
  add->callback([&ctx, add_args] { ctx.action = [&ctx, add_args] { return run_access_add(ctx, *add_args); }; });

  auto import_args = std::make_shared<ImportArgs>();
  CLI::App* import = group->add_subcommand(
      "import", "Add many rules from a file, one per line ('#' comments); all or nothing");
  import->add_option("SERVICE", import_args->service, "Service name")->required();
  import->add_option("LIST", import_args->list, "allow, deny or safe")->required();
  import->add_option("FILE", import_args->file, "File of rules, or - for stdin")->required();
  import->callback([&ctx, import_args] {
    ctx.action = [&ctx, import_args] { return run_access_import(ctx, *import_args); };
  });

  auto remove_args = std::make_shared<RemoveArgs>();
  CLI::App* remove = group->add_subcommand("remove", "Remove a rule (any syntax of the same canonical rule)");
  remove->add_option("SERVICE", remove_args->service, "Service name")->required();
  remove->add_option("LIST", remove_args->list, "allow, deny or safe")->required();
  remove->add_option("RULE", remove_args->rule, rule_help)->required()->expected(1, 2);
  add_if_exists_flag(remove, remove_args->if_exists);
  remove->callback([&ctx, remove_args] {
    ctx.action = [&ctx, remove_args] { return run_access_remove(ctx, *remove_args); };
  });

  auto clear_args = std::make_shared<ServiceListArgs>();
  CLI::App* clear = group->add_subcommand("clear", "Remove every rule of one list, or of all lists");
  clear->add_option("SERVICE", clear_args->service, "Service name")->required();
  clear->add_option("LIST", clear_args->list, "allow, deny or safe (default: every list)");
  clear->callback([&ctx, clear_args] {
    ctx.action = [&ctx, clear_args] { return run_access_clear(ctx, *clear_args); };
  });

  auto list_args = std::make_shared<ServiceListArgs>();
  CLI::App* list = group->add_subcommand("list", "Show the access mode and the rules with their hit counts");
  list->add_option("SERVICE", list_args->service, "Service name")->required();
  list->add_option("LIST", list_args->list, "allow, deny or safe (default: every list)");
  list->callback([&ctx, list_args] { ctx.action = [&ctx, list_args] { return run_access_list(ctx, *list_args); }; });

  auto explain_args = std::make_shared<ExplainArgs>();
  CLI::App* explain = group->add_subcommand("explain", "Say whether an address may connect, and which rule or block decides");
  explain->add_option("SERVICE", explain_args->service, "Service name")->required();
  explain->add_option("IP", explain_args->ip, "An IPv4 or IPv6 address")->required();
  explain->callback([&ctx, explain_args] {
    ctx.action = [&ctx, explain_args] { return run_access_explain(ctx, *explain_args); };
  });

  // ---- block ----
  CLI::App* blocks = app.add_subcommand("block", "Manage blocked addresses (anti-hammering, auto-deny, manual)");
  blocks->require_subcommand(1);
  auto add_service_option = [](CLI::App* cmd, BlockArgs& args) {
    cmd->add_option("--service", args.service, "Only this service (default: every service)")->type_name("NAME");
  };

  auto block_list_args = std::make_shared<BlockArgs>();
  CLI::App* block_list = blocks->add_subcommand("list", "List the blocks in force");
  add_service_option(block_list, *block_list_args);
  block_list->callback([&ctx, block_list_args] {
    ctx.action = [&ctx, block_list_args] { return run_block_list(ctx, *block_list_args); };
  });

  auto block_add_args = std::make_shared<BlockArgs>();
  CLI::App* block_add = blocks->add_subcommand("add", "Block an address (IPv6: its network of ipv6_failure_prefix)");
  block_add->add_option("IP", block_add_args->ip, "An IPv4 or IPv6 address")->required();
  add_service_option(block_add, *block_add_args);
  block_add->add_option("--duration", block_add_args->duration, "Seconds the block lasts (default 0: until lifted)")
      ->type_name("SECONDS")
      ->check(CLI::Range(int64_t{0}, kMaxBlockSeconds));
  block_add->add_option("--reason", block_add_args->reason, "Why, for 'block list'")->type_name("TEXT");
  add_if_not_exists_flag(block_add, block_add_args->if_not_exists);
  block_add->callback([&ctx, block_add_args] {
    ctx.action = [&ctx, block_add_args] { return run_block_add(ctx, *block_add_args); };
  });

  auto block_remove_args = std::make_shared<BlockArgs>();
  CLI::App* block_remove = blocks->add_subcommand("remove", "Lift every block covering an address (or a listed network)");
  block_remove->add_option("IP", block_remove_args->ip, "An address, or a NETWORK as 'block list' shows it")->required();
  add_service_option(block_remove, *block_remove_args);
  add_if_exists_flag(block_remove, block_remove_args->if_exists);
  block_remove->callback([&ctx, block_remove_args] {
    ctx.action = [&ctx, block_remove_args] { return run_block_remove(ctx, *block_remove_args); };
  });

  auto block_clear_args = std::make_shared<BlockArgs>();
  CLI::App* block_clear = blocks->add_subcommand("clear", "Lift every block");
  add_service_option(block_clear, *block_clear_args);
  block_clear->callback([&ctx, block_clear_args] {
    ctx.action = [&ctx, block_clear_args] { return run_block_clear(ctx, *block_clear_args); };
  });
}

}  // namespace mailroom::cli
