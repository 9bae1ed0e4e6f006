// Status file: DATA/run/status.json, what `mailctl service status` shows (listeners and failed
// binds, connections, TLS certificate, counters), written off the loop and removed at shutdown.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "core/loop/event_loop.h"
#include "daemon/metrics_endpoint.h"
#include "daemon/reload.h"

namespace mailroom::daemon {

class StatusFile {
 public:
  StatusFile(core::WorkQueue& work, const std::string& data_dir);

  // When the daemon started (unix seconds), as the file reports it.
  void set_started_at(int64_t unix_seconds) { started_at_ = unix_seconds; }
  // The user the daemon runs as (mailroomd --user), as the file reports it.
  void set_user(std::string name) { user_ = std::move(name); }
  // The metrics endpoint's state, as the file reports it ("metrics": null while it is off).
  void set_metrics(MetricsEndpoint::State state) { metrics_ = std::move(state); }
  // Rewrites the file when what it says changed, or anyway when `refresh` (its updated_at then
  // moves); skipped while the previous write is still under way.
  void write(const RunningServices& running, bool refresh);
  // Removes the file (the daemon is stopping).
  void remove();

 private:
  core::WorkQueue& work_;
  std::filesystem::path path_;
  int64_t started_at_ = 0;
  std::string user_;
  MetricsEndpoint::State metrics_;
  std::string last_;  // the content last written, without updated_at
  bool in_flight_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace mailroom::daemon
