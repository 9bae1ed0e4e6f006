// Daemon: runs the services stored in the database and keeps them in step with it: mailctl
// writes settings, the daemon notices (PRAGMA data_version, polled off-loop; or SIGHUP) and
// applies them live.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/module/service.h"
#include "core/tls/tls_context.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"

namespace mailroom::daemon {

class Daemon {
 public:
  Daemon(core::EventLoop& loop, core::WorkQueue& work, storage::AccountStore& accounts,
         std::vector<std::unique_ptr<core::Module>> modules, std::string data_dir);
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
  };
  // Runs on a worker (or before the loop starts): reads everything a reload needs.
  static Result<Snapshot> load(storage::AccountStore& accounts, const std::vector<std::unique_ptr<core::Module>>& modules,
                               const std::string& data_dir, std::map<std::string, TlsState> known);
  void apply(const Snapshot& snapshot);
  void poll();
  core::Module* find_module(const std::string& name);

  core::EventLoop& loop_;
  core::WorkQueue& work_;
  storage::AccountStore& accounts_;
  std::vector<std::unique_ptr<core::Module>> modules_;
  std::map<std::string, std::unique_ptr<core::Service>> services_;
  std::string data_dir_;
  struct Applied {
    config::ServiceSettings settings;
    bool enabled = false;
    std::shared_ptr<const tls::TlsContext> tls;
  };
  std::map<std::string, Applied> applied_;
  std::map<std::string, TlsState> tls_;
  core::Timer poll_timer_;
  int64_t data_version_ = -1;
  bool poll_in_flight_ = false;
  bool stopping_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace mailroom::daemon
