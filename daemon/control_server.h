// ControlServer: the daemon's control socket, DATA/run/control.sock (unix domain, mode 0600: only
// the daemon's user, and root, can connect). Each client is a core Connection whose session reads
// one JSON request per line and answers one line (control_commands.h), with a bounded request
// size, an idle timeout and a few clients at most. Made by the daemon itself, not a stored
// service. Loop thread.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "core/loop/event_loop.h"
#include "core/net/connection.h"
#include "core/net/listener.h"
#include "daemon/control_commands.h"

namespace mailroom::daemon {

class ControlServer {
 public:
  static constexpr const char* kSocketFile = "run/control.sock";  // in the data directory
  static constexpr unsigned kSocketMode = 0600;
  static constexpr std::size_t kMaxClients = 4;       // more are answered with an error and closed
  static constexpr uint64_t kIdleTimeoutMs = 60000;   // a client silent this long is closed
  static constexpr uint64_t kRequestTimeoutMs = 10000;  // a started request line must end in time

  // `target` outlives the server.
  ControlServer(core::EventLoop& loop, core::WorkQueue& work, const std::string& data_dir, ControlTarget& target);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Creates the socket (a stale file a dead daemon left is replaced) and listens.
  Status open();
  // Stops listening (the file is removed) and closes every client.
  void close();
  const std::string& path() const { return path_; }

 private:
  class Session;
  void on_accept(core::StreamHandle socket);

  core::EventLoop& loop_;
  core::WorkQueue& work_;
  std::string path_;
  ControlTarget& target_;
  std::unique_ptr<core::Listener> listener_;
  std::unordered_map<core::ConnectionId, std::unique_ptr<core::Connection>> clients_;
  core::ConnectionId next_id_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace mailroom::daemon
