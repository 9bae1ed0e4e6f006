// ControlActions: what the daemon answers on its control socket (control_commands.h): status,
// the sessions and ending them, starting, stopping and restarting a service, reload. Loop thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/loop/event_loop.h"
#include "daemon/control_commands.h"
#include "daemon/reload.h"
#include "daemon/status_report.h"
#include "storage/account_store.h"

namespace mailroom::daemon {

class ControlActions final : public ControlTarget {
 public:
  // Daemon::reload(): re-reads the stored services and applies them; `done` gets the outcome.
  using Reload = std::function<void(const char* why, std::function<void(const Status&)> done)>;

  // Everything passed outlives this object.
  ControlActions(core::WorkQueue& work, storage::AccountStore& accounts, RunningServices& running,
                 const DaemonInfo& info, Reload reload);

  Json status() override;
  Result<Json> sessions(const std::string& service) override;
  Result<Json> kill(const KillTarget& target) override;
  // Start and stop store the service's `enabled` first (so it holds across restarts), then reload;
  // stop then ends the service's sessions, restart (after a reload too) closes and reopens its
  // listeners and ends its sessions. Start and restart report the bind results: a failed bind is
  // an error naming it.
  void service(ServiceAction action, const std::string& name, ControlDone done) override;
  void reload(ControlDone done) override;

 private:
  // After the reload: acts on the service and answers.
  Result<Json> finish(ServiceAction action, const std::string& name);

  core::WorkQueue& work_;
  storage::AccountStore& accounts_;
  RunningServices& running_;
  const DaemonInfo& info_;
  Reload reload_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace mailroom::daemon
