// The access_rules writes shared by the policy store and a provisioning apply (which writes
// accounts and rules on one connection, in one transaction). The caller holds the transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/base/result.h"
#include "storage/sql/sql_db.h"

namespace mailroom::storage::sql {

// Whether the services table has `name` (rules and blocks belong to a service).
Result<bool> service_exists(Db& db, const std::string& name);
// Inserts a rule (canonical text) and returns its id; nullopt when the same rule is already in
// that list.
Result<std::optional<int64_t>> insert_access_rule(Db& db, const std::string& service, const std::string& list, const std::string& rule,
                                const std::string& comment, int64_t created_at);
// false when there was no such rule.
Result<bool> delete_access_rule(Db& db, const std::string& service, const std::string& list, const std::string& rule);
// Tells the daemon to reload the rules and blocks (it polls the generation); in the caller's
// transaction, so the change and the new generation commit together.
Status bump_policy_generation(Db& db);

}  // namespace mailroom::storage::sql
