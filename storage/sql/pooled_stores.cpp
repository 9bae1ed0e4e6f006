// Stores that spread their calls over several single-connection stores (one per pooled
// connection): a call takes a free member, waiting while every member is busy, and gives it back.
// A member keeps its connection; the back end re-opens a lost one on its next call.
#include <condition_variable>
#include <mutex>
#include <vector>

#include "storage/sql/sql_stores.h"

namespace mailroom::storage {
namespace {

template <class Store>
class StorePool {
 public:
  explicit StorePool(std::vector<std::unique_ptr<Store>> members) : members_(std::move(members)) {
    // Last in, first out, the first member on top: calls one at a time all use the first
    // member's connection, and the others connect only when calls overlap.
    for (auto it = members_.rbegin(); it != members_.rend(); ++it) free_.push_back(it->get());
  }

  // Runs f(member) on a free member.
  template <class F>
  auto with(F&& f) {
    Lease lease(*this);
    return f(*lease.store);
  }

 private:
  struct Lease {
    explicit Lease(StorePool& p) : pool(p) {
      std::unique_lock lock(pool.mu_);
      pool.cv_.wait(lock, [&] { return !pool.free_.empty(); });
      store = pool.free_.back();
      pool.free_.pop_back();
    }
    ~Lease() {
      {
        std::lock_guard lock(pool.mu_);
        pool.free_.push_back(store);
      }
      pool.cv_.notify_one();
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    StorePool& pool;
    Store* store = nullptr;
  };

  std::vector<std::unique_ptr<Store>> members_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Store*> free_;  // guarded by mu_
};

class PooledAccountStore final : public AccountAndProvisioningStore {
 public:
  explicit PooledAccountStore(std::vector<std::unique_ptr<AccountAndProvisioningStore>> members)
      : pool_(std::move(members)) {}

  Status add_postoffice(const std::string& name) override {
    return pool_.with([&](auto& s) { return s.add_postoffice(name); });
  }
  Status remove_postoffice(const std::string& name, bool force) override {
    return pool_.with([&](auto& s) { return s.remove_postoffice(name, force); });
  }
  Result<std::vector<PostofficeInfo>> list_postoffices() override {
    return pool_.with([&](auto& s) { return s.list_postoffices(); });
  }
  Result<PostofficeInfo> get_postoffice(const std::string& name) override {
    return pool_.with([&](auto& s) { return s.get_postoffice(name); });
  }
  Status set_postoffice_enabled(const std::string& name, bool enabled) override {
    return pool_.with([&](auto& s) { return s.set_postoffice_enabled(name, enabled); });
  }
  Status set_postoffice_setting(const std::string& name, const std::string& key,
                                const std::optional<std::string>& value) override {
    return pool_.with([&](auto& s) { return s.set_postoffice_setting(name, key, value); });
  }
  Status check_maildir(const Address& address, const std::string& maildir) override {
    return pool_.with([&](auto& s) { return s.check_maildir(address, maildir); });
  }
  Result<MailboxInfo> add_mailbox(const Address& address, const std::string& password, PasswordKind kind,
                                  const std::string& maildir, const std::vector<StoredSecret>& secrets) override {
    return pool_.with([&](auto& s) { return s.add_mailbox(address, password, kind, maildir, secrets); });
  }
  Result<MailboxInfo> remove_mailbox(const Address& address, MaildirAfterRemove after) override {
    return pool_.with([&](auto& s) { return s.remove_mailbox(address, after); });
  }
  Status set_password(const Address& address, const std::string& password, PasswordKind kind,
                      const std::vector<StoredSecret>& secrets) override {
    return pool_.with([&](auto& s) { return s.set_password(address, password, kind, secrets); });
  }
  Status set_mailbox_enabled(const Address& address, bool enabled) override {
    return pool_.with([&](auto& s) { return s.set_mailbox_enabled(address, enabled); });
  }
  Status set_mailbox_setting(const Address& address, const std::string& key,
                             const std::optional<std::string>& value) override {
    return pool_.with([&](auto& s) { return s.set_mailbox_setting(address, key, value); });
  }
  Result<MailboxInfo> get_mailbox(const Address& address) override {
    return pool_.with([&](auto& s) { return s.get_mailbox(address); });
  }
  Result<std::vector<MailboxInfo>> list_mailboxes(const std::optional<std::string>& postoffice) override {
    return pool_.with([&](auto& s) { return s.list_mailboxes(postoffice); });
  }
  Result<MailboxInfo> verify_password(const Address& address, const std::string& password) override {
    return pool_.with([&](auto& s) { return s.verify_password(address, password); });
  }
  Result<std::string> upgrade_password_hash(const Address& address, const std::string& password) override {
    return pool_.with([&](auto& s) { return s.upgrade_password_hash(address, password); });
  }
  Status put_secrets(const Address& address, const std::vector<StoredSecret>& secrets) override {
    return pool_.with([&](auto& s) { return s.put_secrets(address, secrets); });
  }
  Result<std::optional<std::string>> get_secret(const Address& address, const std::string& kind) override {
    return pool_.with([&](auto& s) { return s.get_secret(address, kind); });
  }
  Result<int64_t> purge_secrets(const std::vector<std::string>& kinds) override {
    return pool_.with([&](auto& s) { return s.purge_secrets(kinds); });
  }
  Result<std::vector<ServiceRecord>> list_services() override {
    return pool_.with([&](auto& s) { return s.list_services(); });
  }
  Result<ServiceRecord> get_service(const std::string& name) override {
    return pool_.with([&](auto& s) { return s.get_service(name); });
  }
  Status ensure_service(const std::string& name, const std::string& module, bool enabled) override {
    return pool_.with([&](auto& s) { return s.ensure_service(name, module, enabled); });
  }
  Status set_service_enabled(const std::string& name, bool enabled) override {
    return pool_.with([&](auto& s) { return s.set_service_enabled(name, enabled); });
  }
  Status set_service_setting(const std::string& name, const std::string& key,
                             const std::optional<std::string>& value) override {
    return pool_.with([&](auto& s) { return s.set_service_setting(name, key, value); });
  }
  Result<std::map<std::string, std::string>> daemon_settings() override {
    return pool_.with([&](auto& s) { return s.daemon_settings(); });
  }
  Status set_daemon_setting(const std::string& key, const std::optional<std::string>& value) override {
    return pool_.with([&](auto& s) { return s.set_daemon_setting(key, value); });
  }
  Result<int64_t> data_version() override {
    return pool_.with([&](auto& s) { return s.data_version(); });
  }
  Result<ProvisioningSnapshot> provisioning_snapshot() override {
    return pool_.with([&](auto& s) { return s.provisioning_snapshot(); });
  }
  Status apply_provisioning(const std::vector<ProvisionOp>& ops) override {
    return pool_.with([&](auto& s) { return s.apply_provisioning(ops); });
  }

 private:
  StorePool<AccountAndProvisioningStore> pool_;
};

class PooledPolicyStore final : public PolicyStore {
 public:
  explicit PooledPolicyStore(std::vector<std::unique_ptr<PolicyStore>> members) : pool_(std::move(members)) {}

  Result<AccessRuleRecord> add_access_rule(const std::string& service, const std::string& list,
                                           const std::string& rule, const std::string& comment) override {
    return pool_.with([&](auto& s) { return s.add_access_rule(service, list, rule, comment); });
  }
  Result<int64_t> add_access_rules(const std::string& service, const std::string& list,
                                   const std::vector<std::string>& rules) override {
    return pool_.with([&](auto& s) { return s.add_access_rules(service, list, rules); });
  }
  Status remove_access_rule(const std::string& service, const std::string& list, const std::string& rule) override {
    return pool_.with([&](auto& s) { return s.remove_access_rule(service, list, rule); });
  }
  Result<int64_t> clear_access_rules(const std::string& service, const std::optional<std::string>& list) override {
    return pool_.with([&](auto& s) { return s.clear_access_rules(service, list); });
  }
  Result<std::vector<AccessRuleRecord>> list_access_rules(const std::string& service,
                                                          const std::optional<std::string>& list) override {
    return pool_.with([&](auto& s) { return s.list_access_rules(service, list); });
  }
  Status put_block(const BlockRecord& block, bool bump_generation) override {
    return pool_.with([&](auto& s) { return s.put_block(block, bump_generation); });
  }
  Status remove_block(const std::string& service, const std::string& network) override {
    return pool_.with([&](auto& s) { return s.remove_block(service, network); });
  }
  Result<int64_t> clear_blocks(const std::string& service) override {
    return pool_.with([&](auto& s) { return s.clear_blocks(service); });
  }
  Result<std::vector<BlockRecord>> list_blocks(const std::string& service, int64_t now) override {
    return pool_.with([&](auto& s) { return s.list_blocks(service, now); });
  }
  Result<int64_t> drop_stale_blocks(int64_t now) override {
    return pool_.with([&](auto& s) { return s.drop_stale_blocks(now); });
  }
  Status record_hits(const std::vector<RuleHits>& rules, const std::vector<BlockHits>& blocks) override {
    return pool_.with([&](auto& s) { return s.record_hits(rules, blocks); });
  }
  Result<int64_t> generation() override {
    return pool_.with([&](auto& s) { return s.generation(); });
  }

 private:
  StorePool<PolicyStore> pool_;
};

}  // namespace

std::unique_ptr<AccountAndProvisioningStore> make_pooled_account_store(
    std::vector<std::unique_ptr<AccountAndProvisioningStore>> members) {
  return std::make_unique<PooledAccountStore>(std::move(members));
}

std::unique_ptr<PolicyStore> make_pooled_policy_store(std::vector<std::unique_ptr<PolicyStore>> members) {
  return std::make_unique<PooledPolicyStore>(std::move(members));
}

}  // namespace mailroom::storage
