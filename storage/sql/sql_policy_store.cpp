// PolicyStore on the SQL layer (SQLite or PostgreSQL): access rules, blocks and the policy
// generation, one connection serialised by a mutex (like SqlAccountStore).
#include <algorithm>
#include <ctime>
#include <mutex>
#include <optional>
#include <tuple>

#include "core/ipfilter/address_rule.h"
#include "storage/policy_store.h"
#include "storage/sql/access_rule_rows.h"
#include "storage/sql/sql_db.h"
#include "storage/sql/sql_stores.h"

namespace mailroom::storage {
namespace {

using sql::Db;
using sql::Statement;
using sql::Transaction;

constexpr const char* kSelectRule =
    "SELECT id, service, list, rule, comment, created_at, hits, last_hit FROM access_rules ";
constexpr const char* kSelectBlock =
    "SELECT service, network, cause, reason, since, expires, until_restart, hits, last_hit FROM blocks ";

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

int64_t now_seconds() { return static_cast<int64_t>(std::time(nullptr)); }

std::optional<int64_t> optional_int(const Statement& row, int index) {
  if (row.column_is_null(index)) return std::nullopt;
  return row.column_int(index);
}

// Binds an optional integer: NULL when empty (a fresh statement's parameters are NULL).
void bind_optional(Statement& stmt, int index, const std::optional<int64_t>& value) {
  if (value) stmt.bind(index, *value);
}

AccessRuleRecord rule_from_row(const Statement& row) {
  AccessRuleRecord r;
  r.id = row.column_int(0);
  r.service = row.column_text(1);
  r.list = row.column_text(2);
  r.rule = row.column_text(3);
  r.comment = row.column_text(4);
  r.created_at = row.column_int(5);
  r.hits = row.column_int(6);
  r.last_hit = optional_int(row, 7);
  return r;
}

BlockRecord block_from_row(const Statement& row) {
  BlockRecord b;
  b.service = row.column_text(0);
  b.network = row.column_text(1);
  b.cause = row.column_text(2);
  b.reason = row.column_text(3);
  b.since = row.column_int(4);
  b.expires = optional_int(row, 5);
  b.until_restart = row.column_bool(6);
  b.hits = row.column_int(7);
  b.last_hit = optional_int(row, 8);
  return b;
}

// Rules per INSERT in add_access_rules (3 + this many parameters: within SQLite's and
// PostgreSQL's limits).
constexpr size_t kBulkRulesPerInsert = 500;

// INSERT of `count` rules: ?1 service, ?2 list, ?3 created_at, ?4... the rules (in order, so
// their ids follow the input); rules already in the list (or twice in the input) are skipped.
std::string bulk_insert_sql(size_t count) {
  std::string sql = "INSERT INTO access_rules (service, list, rule, comment, created_at) VALUES ";
  for (size_t i = 0; i < count; ++i) {
    sql += (i == 0 ? "" : ", ") + std::string("(?1, ?2, ?") + std::to_string(4 + i) + ", '', ?3)";
  }
  return sql + " ON CONFLICT (service, list, rule) DO NOTHING";
}

Status check_list(const std::string& list) {
  if (list == "allow" || list == "deny" || list == "safe") return {};
  return make_error(ErrorCode::kInvalidArgument, "unknown access list " + in_quotes(list) + " (use allow, deny or safe)");
}

Error no_service(const std::string& name) {
  return make_error(ErrorCode::kNotFound, "unknown service " + in_quotes(name) + " (see 'mailctl service list')");
}

class SqlPolicyStore final : public PolicyStore {
 public:
  explicit SqlPolicyStore(Db db) : db_(std::move(db)) {}

  Result<AccessRuleRecord> add_access_rule(const std::string& service, const std::string& list,
                                           const std::string& rule, const std::string& comment) override {
    if (auto st = check_list(list); !st) return st.error();
    if (rule.empty()) return make_error(ErrorCode::kInvalidArgument, "empty address rule");
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    if (auto st = require_service(service); !st) return st.error();
    auto inserted = sql::insert_access_rule(db_, service, list, rule, comment, now_seconds());
    if (!inserted) return inserted.error();
    if (!inserted->has_value()) {
      return make_error(ErrorCode::kAlreadyExists,
                        "the " + list + " list of service " + service + " already has " + in_quotes(rule));
    }
    const int64_t id = **inserted;
    if (auto st = bump(); !st) return st.error();
    auto select = db_.prepare(std::string(kSelectRule) + "WHERE id = ?1");
    if (!select) return select.error();
    auto row = select->bind(1, id).step();
    if (!row) return row.error();
    if (!*row) return make_error(ErrorCode::kInternal, "access rule " + in_quotes(rule) + " vanished after insert");
    AccessRuleRecord record = rule_from_row(*select);
    if (auto st = tx->commit(); !st) return st.error();
    return record;
  }

  Result<int64_t> add_access_rules(const std::string& service, const std::string& list,
                                   const std::vector<std::string>& rules) override {
    if (auto st = check_list(list); !st) return st.error();
    for (const auto& rule : rules) {
      if (rule.empty()) return make_error(ErrorCode::kInvalidArgument, "empty address rule");
    }
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    if (auto st = require_service(service); !st) return st.error();
    // kBulkRulesPerInsert rows per INSERT: one round trip each on PostgreSQL, not one per rule.
    const int64_t now = now_seconds();
    int64_t added = 0;
    std::optional<Statement> full;  // the statement for a whole batch, prepared once
    for (size_t start = 0; start < rules.size(); start += kBulkRulesPerInsert) {
      const size_t count = std::min(kBulkRulesPerInsert, rules.size() - start);
      std::optional<Statement> partial;
      if (count == kBulkRulesPerInsert && full) {
        full->reset();
      } else {
        auto prepared = db_.prepare(bulk_insert_sql(count));
        if (!prepared) return prepared.error();
        (count == kBulkRulesPerInsert ? full : partial).emplace(std::move(*prepared));
      }
      Statement& stmt = count == kBulkRulesPerInsert ? *full : *partial;
      stmt.bind(1, service).bind(2, list).bind(3, now);
      for (size_t i = 0; i < count; ++i) stmt.bind(static_cast<int>(4 + i), rules[start + i]);
      if (auto st = stmt.run(); !st) return st.error();
      added += db_.changes();
    }
    if (added > 0) {
      if (auto st = bump(); !st) return st.error();
    }
    if (auto st = tx->commit(); !st) return st.error();
    return added;
  }

  Status remove_access_rule(const std::string& service, const std::string& list, const std::string& rule) override {
    if (auto st = check_list(list); !st) return st;
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    if (auto st = require_service(service); !st) return st;
    auto deleted = sql::delete_access_rule(db_, service, list, rule);
    if (!deleted) return deleted.error();
    if (!*deleted) {
      return make_error(ErrorCode::kNotFound,
                        "the " + list + " list of service " + service + " has no rule " + in_quotes(rule));
    }
    if (auto st = bump(); !st) return st;
    return tx->commit();
  }

  Result<int64_t> clear_access_rules(const std::string& service, const std::optional<std::string>& list) override {
    if (list) {
      if (auto st = check_list(*list); !st) return st.error();
    }
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    if (auto st = require_service(service); !st) return st.error();
    auto stmt = db_.prepare("DELETE FROM access_rules WHERE service = ?1 AND (CAST(?2 AS TEXT) IS NULL OR list = ?2)");
    if (!stmt) return stmt.error();
    stmt->bind(1, service);
    if (list) stmt->bind(2, *list);
    if (auto st = stmt->run(); !st) return st.error();
    const int64_t removed = db_.changes();
    if (removed > 0) {
      if (auto st = bump(); !st) return st.error();
    }
    if (auto st = tx->commit(); !st) return st.error();
    return removed;
  }

  Result<std::vector<AccessRuleRecord>> list_access_rules(const std::string& service,
                                                          const std::optional<std::string>& list) override {
    if (list) {
      if (auto st = check_list(*list); !st) return st.error();
    }
    std::lock_guard lock(mu_);
    if (auto st = require_service(service); !st) return st.error();
    auto stmt = db_.prepare(std::string(kSelectRule) +
                            "WHERE service = ?1 AND (CAST(?2 AS TEXT) IS NULL OR list = ?2) ORDER BY list, id");
    if (!stmt) return stmt.error();
    stmt->bind(1, service);
    if (list) stmt->bind(2, *list);
    std::vector<AccessRuleRecord> out;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(rule_from_row(*stmt));
    }
    return out;
  }

  Status put_block(const BlockRecord& block, bool bump_generation) override {
    if (block.network.empty()) return make_error(ErrorCode::kInvalidArgument, "a block needs a network");
    if (block.cause.empty()) return make_error(ErrorCode::kInvalidArgument, "a block needs a cause");
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    if (auto st = require_service(block.service); !st) return st;
    auto stmt = db_.prepare(
        "INSERT INTO blocks (service, network, cause, reason, since, expires, until_restart, hits, last_hit) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
        "ON CONFLICT (service, network) DO UPDATE SET cause = excluded.cause, reason = excluded.reason, "
        "since = excluded.since, expires = excluded.expires, until_restart = excluded.until_restart, "
        "hits = excluded.hits, last_hit = excluded.last_hit");
    if (!stmt) return stmt.error();
    stmt->bind(1, block.service).bind(2, block.network).bind(3, block.cause).bind(4, block.reason);
    stmt->bind(5, block.since).bind(7, block.until_restart).bind(8, block.hits);
    bind_optional(*stmt, 6, block.expires);
    bind_optional(*stmt, 9, block.last_hit);
    if (auto st = stmt->run(); !st) return st;
    if (bump_generation) {
      if (auto st = bump(); !st) return st;
    }
    return tx->commit();
  }

  Status remove_block(const std::string& service, const std::string& network) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    if (auto st = require_service(service); !st) return st;
    auto stmt = db_.prepare("DELETE FROM blocks WHERE service = ?1 AND network = ?2");
    if (!stmt) return stmt.error();
    if (auto st = stmt->bind(1, service).bind(2, network).run(); !st) return st;
    if (db_.changes() == 0) {
      return make_error(ErrorCode::kNotFound, "service " + service + " has no block on " + in_quotes(network));
    }
    if (auto st = bump(); !st) return st;
    return tx->commit();
  }

  Result<int64_t> clear_blocks(const std::string& service) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    if (auto st = require_service(service); !st) return st.error();
    auto stmt = db_.prepare("DELETE FROM blocks WHERE service = ?1");
    if (!stmt) return stmt.error();
    if (auto st = stmt->bind(1, service).run(); !st) return st.error();
    const int64_t removed = db_.changes();
    if (removed > 0) {
      if (auto st = bump(); !st) return st.error();
    }
    if (auto st = tx->commit(); !st) return st.error();
    return removed;
  }

  Result<std::vector<BlockRecord>> list_blocks(const std::string& service, int64_t now) override {
    std::vector<BlockRecord> out;
    {
      std::lock_guard lock(mu_);
      if (auto st = require_service(service); !st) return st.error();
      auto stmt = db_.prepare(std::string(kSelectBlock) +
                              "WHERE service = ?1 AND (expires IS NULL OR expires > ?2) ORDER BY network");
      if (!stmt) return stmt.error();
      stmt->bind(1, service).bind(2, now);
      while (true) {
        auto row = stmt->step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back(block_from_row(*stmt));
      }
    }
    // By address, not by text ("10.0.0.9" before "10.0.0.10"), IPv4 before IPv6 (by the 128-bit
    // value alone IPv4, kept in ::ffff:0:0/96, would sit between ::/64 and 2001:db8::/32);
    // unparsable keys keep text order, last.
    auto key = [](const BlockRecord& b) {
      auto rule = ipfilter::parse_address_rule(b.network);
      if (!rule) return std::make_tuple(2, ipfilter::IpAddress(), ipfilter::IpAddress());
      return std::make_tuple(rule->range.is_v4() ? 0 : 1, rule->range.first, rule->range.last);
    };
    std::vector<std::pair<std::tuple<int, ipfilter::IpAddress, ipfilter::IpAddress>, std::size_t>> order;
    order.reserve(out.size());
    for (std::size_t i = 0; i < out.size(); ++i) order.emplace_back(key(out[i]), i);
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<BlockRecord> sorted;
    sorted.reserve(out.size());
    for (const auto& [k, i] : order) sorted.push_back(std::move(out[i]));
    return sorted;
  }

  Result<int64_t> drop_stale_blocks(int64_t now) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto stmt = db_.prepare("DELETE FROM blocks WHERE until_restart != 0 OR (expires IS NOT NULL AND expires <= ?1)");
    if (!stmt) return stmt.error();
    if (auto st = stmt->bind(1, now).run(); !st) return st.error();
    const int64_t removed = db_.changes();
    if (auto st = tx->commit(); !st) return st.error();
    return removed;
  }

  Status record_hits(const std::vector<RuleHits>& rules, const std::vector<BlockHits>& blocks) override {
    if (rules.empty() && blocks.empty()) return {};
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    if (!rules.empty()) {
      auto stmt = db_.prepare(
          "UPDATE access_rules SET hits = ?4, last_hit = ?5 WHERE service = ?1 AND list = ?2 AND rule = ?3");
      if (!stmt) return stmt.error();
      for (const auto& r : rules) {
        stmt->reset().bind(1, r.service).bind(2, r.list).bind(3, r.rule).bind(4, r.hits);
        bind_optional(*stmt, 5, r.last_hit);
        if (auto st = stmt->run(); !st) return st;
      }
    }
    if (!blocks.empty()) {
      auto stmt = db_.prepare("UPDATE blocks SET hits = ?3, last_hit = ?4 WHERE service = ?1 AND network = ?2");
      if (!stmt) return stmt.error();
      for (const auto& b : blocks) {
        stmt->reset().bind(1, b.service).bind(2, b.network).bind(3, b.hits);
        bind_optional(*stmt, 4, b.last_hit);
        if (auto st = stmt->run(); !st) return st;
      }
    }
    return tx->commit();
  }

  Result<int64_t> generation() override {
    std::lock_guard lock(mu_);
    return db_.query_int("SELECT generation FROM policy_meta WHERE id = 1");
  }

 private:
  // The helpers below expect mu_ to be held.

  Status require_service(const std::string& name) {
    auto exists = sql::service_exists(db_, name);
    if (!exists) return exists.error();
    if (!*exists) return no_service(name);
    return {};
  }

  Status bump() { return sql::bump_policy_generation(db_); }

  std::mutex mu_;
  Db db_;
};

}  // namespace

std::unique_ptr<PolicyStore> make_sql_policy_store(sql::Db db) { return std::make_unique<SqlPolicyStore>(std::move(db)); }

}  // namespace mailroom::storage
