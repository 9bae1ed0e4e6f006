// Daemon: runs the services stored in the database and keeps them in step with it: mailctl
// writes settings, the daemon notices (PRAGMA data_version, polled off-loop; or SIGHUP) and
// applies them live.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/module/module_descriptor.h"
#include "core/module/service.h"
#include "core/tls/tls_context.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"
#include "storage/policy_store.h"

namespace mailroom::daemon {

class Daemon {
 public:
  Daemon(core::EventLoop& loop, core::WorkQueue& work, storage::AccountStore& accounts,
         storage::PolicyStore& policy, std::vector<core::ModuleInstance> modules, std::string data_dir);
  ~Daemon();

  // Loads and starts the stored services (before the loop runs). Fails if nothing is stored.
  Status start();
  // Re-reads services and settings off the loop and applies what changed.
  void reload(const char* why);
  // Stops listening, closes every connection and lets the loop end.
  void shutdown();

 private:
  // What one reload read off the loop: the stored services and, per service, its TLS context
  // (rebuilt only when its settings or certificate files changed).
  struct TlsState {
    tls::TlsConfig config;
    std::string stamp;  // file_stamp of cert + key when built
    std::shared_ptr<const tls::TlsContext> context;
    std::string error;
  };
  struct Snapshot {
    std::vector<storage::ServiceRecord> records;
    std::map<std::string, TlsState> tls;
    std::map<std::string, core::BindPlan> binds;  // host names resolved
    // Set when the stored access rules and blocks were (re)read: their generation then.
    std::optional<int64_t> policy_generation;
    std::map<std::string, core::PolicyData> policies;
    std::vector<std::string> warnings;  // stored rows that could not be used
  };
  // Runs on a worker (or before the loop starts): reads everything a reload needs. The policy
  // is read only when its generation differs from `known_generation`.
  static Result<Snapshot> load(storage::AccountStore& accounts, storage::PolicyStore& policy,
                               const std::vector<core::ModuleInstance>& modules, const std::string& data_dir,
                               std::map<std::string, TlsState> known, std::optional<int64_t> known_generation);
  void apply(Snapshot& snapshot);
  // Logs a warning when the enabled services' max_connections would not fit the descriptor
  // limit (once per total).
  void warn_if_too_few_descriptors();
  static constexpr int64_t kReservedDescriptors = 64;
  int64_t warned_sessions_ = -1;
  void poll();
  core::ModuleInstance* find_module(const std::string& name);
  core::Service& make_service(const std::string& name, core::ModuleInstance& module);
  void store_block(const std::string& service, const ipfilter::Block& block);
  void flush_hits();
  void write_status();

  core::EventLoop& loop_;
  core::WorkQueue& work_;
  storage::AccountStore& accounts_;
  storage::PolicyStore& policy_;
  std::vector<core::ModuleInstance> modules_;
  std::map<std::string, std::unique_ptr<core::Service>> services_;
  std::string data_dir_;
  struct Applied {
    config::ServiceSettings settings;
    bool enabled = false;
    std::shared_ptr<const tls::TlsContext> tls;
    core::BindPlan binds;
  };
  std::map<std::string, Applied> applied_;
  std::map<std::string, TlsState> tls_;
  core::Timer poll_timer_;
  int64_t data_version_ = -1;
  std::optional<int64_t> policy_generation_;
  uint64_t ticks_ = 0;
  bool flush_in_flight_ = false, status_in_flight_ = false;
  // Counters as last written to the database: "service\tlist\trule" / "service\tnetwork" -> hits.
  std::map<std::string, uint64_t> flushed_rule_hits_, flushed_block_hits_;
  std::string last_status_;
  int64_t started_at_ = 0;
  bool poll_in_flight_ = false;
  bool stopping_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace mailroom::daemon
