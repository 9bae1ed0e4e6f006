// ControlServer: the control socket and its clients.
#include "daemon/control_server.h"

#include <filesystem>

#include "core/log/logger.h"

namespace mailroom::daemon {

// One client: a request line in, its reply line out; input waits while a request runs.
class ControlServer::Session final : public core::ProtocolSession {
 public:
  Session(core::Connection& connection, ControlTarget& target) : conn_(connection), target_(target) {}

  void on_open() override {}
  void on_line(std::string_view line, core::LineEnding) override {
    conn_.pause_input();  // one request at a time; pipelined ones wait
    std::weak_ptr<void> alive = conn_.liveness();
    core::Connection& conn = conn_;
    handle_control_request(line, target_, [alive, &conn](std::string reply) {
      if (alive.expired()) return;  // the client has gone: nobody to answer
      conn.write(std::move(reply) + "\n");
      conn.resume_input();
    });
  }
  void on_line_too_long() override { conn_.write(control_request_too_long() + "\n"); }
  core::SessionInfo describe() const override { return {{}, "control"}; }

 private:
  core::Connection& conn_;
  ControlTarget& target_;
};

ControlServer::ControlServer(core::EventLoop& loop, core::WorkQueue& work, const std::string& data_dir,
                             ControlTarget& target)
    : loop_(loop), work_(work), path_((std::filesystem::path(data_dir) / kSocketFile).string()), target_(target) {
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path_, ec);
  if (!ec) path_ = absolute.lexically_normal().string();
}

ControlServer::~ControlServer() { close(); }

Status ControlServer::open() {
  std::weak_ptr<int> alive = alive_;
  auto listener = std::make_unique<core::Listener>(loop_, net::BindSpec::unix_socket(path_),
                                                   [this, alive](core::StreamHandle socket) {
                                                     if (!alive.expired()) on_accept(std::move(socket));
                                                   });
  (void)listener->set_file_mode(kSocketMode);  // before open(): cannot fail
  if (Status s = listener->open(); !s) return make_error(s.error().code, path_ + ": " + s.error().message);
  listener_ = std::move(listener);
  log::info("control.listen", {{"socket", path_}});
  return {};
}

void ControlServer::close() {
  listener_.reset();
  // Connections call back into clients_ when they finish: move them out first.
  auto clients = std::move(clients_);
  clients_.clear();
  for (auto& [id, conn] : clients) conn->abort();
}

void ControlServer::on_accept(core::StreamHandle socket) {
  const core::ConnectionId id = ++next_id_;
  core::ConnectionLimits limits;
  limits.max_line = kMaxControlRequest;
  limits.idle_timeout_ms = kIdleTimeoutMs;
  limits.command_timeout_ms = kRequestTimeoutMs;
  std::weak_ptr<int> alive = alive_;
  auto conn = std::make_unique<core::Connection>(loop_, work_, id, std::move(socket), limits,
                                                 [this, alive](core::ConnectionId closed) {
                                                   if (!alive.expired()) clients_.erase(closed);
                                                 });
  core::Connection& ref = *conn;
  const bool busy = clients_.size() >= kMaxClients;
  clients_.emplace(id, std::move(conn));
  if (busy) {  // kept until its last line is out, like any client
    log::warn("control.busy", {{"clients", std::to_string(kMaxClients)}});
    ref.write(control_error(make_error(ErrorCode::kTemporary, "too many control clients, try again")) + "\n");
    ref.close();
    return;
  }
  ref.start(std::make_unique<Session>(ref, target_));
}

}  // namespace mailroom::daemon
