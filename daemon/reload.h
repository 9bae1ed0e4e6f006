// Reload: reads the stored services off the loop (settings, TLS contexts, resolved binds, and the
// access policy when its generation moved) and applies what changed to the running services.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/loop/loop_pool.h"
#include "core/module/module_descriptor.h"
#include "core/module/service.h"
#include "core/tls/tls_context.h"
#include "storage/account_store.h"
#include "storage/policy_store.h"

namespace mailroom::daemon {

using Modules = std::vector<core::ModuleInstance>;

// One service's TLS context, rebuilt only when its settings or certificate files changed.
struct TlsState {
  tls::TlsConfig config;
  std::string stamp;  // tls_stamp() of the config when built
  std::shared_ptr<const tls::TlsContext> context;
  std::string error;
};

// The state of a service's certificate and key files, to notice them being replaced.
std::string tls_stamp(const tls::TlsConfig& config);

// The state of DATA/node.json (the node-local settings), to notice it being replaced.
std::string node_settings_stamp(const std::string& data_dir);

// What one reload read off the loop.
struct Snapshot {
  // The stored services with this node's local settings (DATA/node.json) merged over theirs.
  std::vector<storage::ServiceRecord> records;
  std::map<std::string, TlsState> tls;
  std::map<std::string, core::BindPlan> binds;  // host names resolved
  // Set when the stored access rules and blocks were (re)read: their generation then.
  std::optional<int64_t> policy_generation;
  std::map<std::string, core::PolicyData> policies;
  std::vector<std::string> warnings;  // stored rows that could not be used
  std::vector<std::string> node_warnings;  // node-local settings that could not be used
  // The daemon-wide settings (config::daemon_settings_catalog()); null when the stored values
  // could not be used (reported in `warnings`; the running ones are kept).
  std::shared_ptr<const config::ServiceSettings> daemon_settings;
};

// Runs on a worker (or before the loop starts): reads everything a reload needs (a damaged
// DATA/node.json fails it, naming the file). The policy is
// read only when its generation differs from `known_generation`; `known` are the TLS states in
// use (an unchanged one is kept, a broken new certificate keeps the old context).
Result<Snapshot> load_snapshot(storage::AccountStore& accounts, storage::PolicyStore& policy, const Modules& modules,
                               const std::string& data_dir, std::map<std::string, TlsState> known,
                               std::optional<int64_t> known_generation);

// The running services, by name, and what was last applied to each (loop thread).
class RunningServices {
 public:
  using Services = std::map<std::string, std::unique_ptr<core::Service>>;
  // Called when service `name` places a block (see core::Service::BlockListener).
  using BlockListener = std::function<void(const std::string& name, const ipfilter::Block& block)>;
  struct Applied {
    config::ServiceSettings settings;
    bool enabled = false;
    std::shared_ptr<const tls::TlsContext> tls;
    core::BindPlan binds;
  };

  // `modules` outlive this object.
  // `loops` (started before the first apply()) serves every service's sessions.
  RunningServices(core::LoopPool& loops, const Modules& modules, BlockListener on_block)
      : loops_(loops), modules_(modules), on_block_(std::move(on_block)) {}

  // Starts, reconfigures and removes services as the snapshot says; logs what changed and what
  // could not be applied (the running configuration of such a service is kept).
  void apply(Snapshot& snapshot);
  // Stops every service and forgets it.
  void stop_all();

  const Services& services() const { return services_; }
  // Sessions open and served per event loop (`loops`), loop 0 first.
  std::vector<core::LoopPool::Load> loop_loads() const { return loops_.loads(); }
  core::Service* find(const std::string& name) const;
  const std::map<std::string, Applied>& applied() const { return applied_; }
  const std::map<std::string, TlsState>& tls() const { return tls_; }

  // The certificate service `name` serves: its notAfter, days left and, within the service's
  // cert_warn_days, the warning text. nullopt without a TLS context.
  struct CertificateExpiry {
    int64_t not_after = 0;
    int64_t days_left = 0;
    std::optional<std::string> warning;
  };
  std::optional<CertificateExpiry> certificate_expiry(const std::string& name, int64_t now) const;
  // Logs tls.cert_expiring for each enabled service's certificate within its cert_warn_days: when it is
  // loaded, then once a day while it stays so (called after each apply and every poll tick).
  void warn_expiring_certificates(int64_t now);

 private:
  const core::ModuleInstance* find_module(const std::string& name) const;
  core::Service& make_service(const std::string& name, const core::ModuleInstance& module);
  // Logs a warning when the enabled services' max_connections would not fit the descriptor
  // limit (once per total).
  void warn_if_too_few_descriptors();
  static constexpr int64_t kReservedDescriptors = 64;

  core::LoopPool& loops_;
  const Modules& modules_;
  BlockListener on_block_;
  Services services_;
  std::map<std::string, Applied> applied_;
  std::map<std::string, TlsState> tls_;
  // The context each service was last warned about, and when (unix seconds).
  struct ExpiryWarned {
    std::shared_ptr<const tls::TlsContext> context;
    int64_t at = 0;
  };
  std::map<std::string, ExpiryWarned> expiry_warned_;
  int64_t warned_sessions_ = -1;
};

}  // namespace mailroom::daemon
