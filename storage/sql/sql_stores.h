// The account, provisioning and policy stores over one sql::Db of either back end. Each store
// serialises its calls on its one connection (a mutex); several in a StorePool serve calls in
// parallel (pooled_stores.cpp). Opened by storage/store_factory.h.
#pragma once

#include <memory>
#include <string>

#include "storage/account_store.h"
#include "storage/policy_store.h"
#include "storage/provisioning.h"
#include "storage/sql/sql_db.h"

namespace mailroom::storage {

// One object for both: a provisioning apply writes accounts, services and rules on one connection.
class AccountAndProvisioningStore : public AccountStore, public ProvisioningStore {};

// `db` must be migrated (sql::migrate). `data_dir` holds the secrets key and the default Maildirs.
std::unique_ptr<AccountAndProvisioningStore> make_sql_account_store(sql::Db db, const std::string& data_dir);
std::unique_ptr<PolicyStore> make_sql_policy_store(sql::Db db);

// Stores that hand each call to a free member (waiting while all are busy): one connection per
// member, so up to members.size() calls run at once. `members` must not be empty.
std::unique_ptr<AccountAndProvisioningStore> make_pooled_account_store(
    std::vector<std::unique_ptr<AccountAndProvisioningStore>> members);
std::unique_ptr<PolicyStore> make_pooled_policy_store(std::vector<std::unique_ptr<PolicyStore>> members);

}  // namespace mailroom::storage
