// Status file: DATA/run/status.json, the control socket's `status` reply (status_report.h) kept on
// disk for scripts and monitoring, written off the loop and removed at shutdown.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "core/loop/event_loop.h"
#include "daemon/reload.h"
#include "daemon/status_report.h"

namespace mailroom::daemon {

class StatusFile {
 public:
  StatusFile(core::WorkQueue& work, const std::string& data_dir);

  // Rewrites the file (status_report() plus "updated_at") when what it says changed, or anyway
  // when `refresh` (its updated_at then moves); skipped while the previous write is still under way.
  void write(const DaemonInfo& info, const RunningServices& running, bool refresh);
  // Removes the file (the daemon is stopping).
  void remove();

 private:
  core::WorkQueue& work_;
  std::filesystem::path path_;
  std::string last_;  // the content last written, without updated_at
  bool in_flight_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace mailroom::daemon
