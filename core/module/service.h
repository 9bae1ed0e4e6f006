// Service: one running instance of a module with its settings: its listeners (the bind set) and
// its connections. apply() reconciles to new settings live, without dropping healthy sessions.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/module/module.h"
#include "core/net/bind_spec.h"
#include "core/net/connection.h"
#include "core/net/listener.h"

namespace mailroom::core {

struct BindStatus {
  net::BindSpec spec;
  bool tls = false;  // implicit TLS listener
  bool listening = false;
  std::string error;  // why it is not listening
};

class Service {
 public:
  Service(EventLoop& loop, WorkQueue& work, std::string name, Module& module);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const std::string& name() const { return name_; }
  Module& module() { return module_; }
  // Opens binds that are new (or failed before) first, then closes removed ones; existing
  // connections keep running with updated limits. Disabled: closes listeners, keeps sessions.
  // `tls` is the context for implicit TLS and STLS; null means TLS is unavailable (the implicit
  // TLS listeners are then closed and STLS is not offered).
  void apply(std::shared_ptr<const config::ServiceSettings> settings, bool enabled,
             std::shared_ptr<const tls::TlsContext> tls);
  // Closes every listener and connection (shutdown).
  void stop();

  std::vector<BindStatus> bind_status() const;
  std::size_t connection_count() const { return connections_.size(); }

 private:
  using ListenKey = std::pair<bool, net::BindSpec>;  // {implicit TLS, bind}
  void on_accept(UvHandle<uv_tcp_t> socket, bool tls);
  ConnectionLimits limits() const;

  EventLoop& loop_;
  WorkQueue& work_;
  std::string name_;
  Module& module_;
  std::shared_ptr<const config::ServiceSettings> settings_;
  bool enabled_ = false;
  std::shared_ptr<const tls::TlsContext> tls_;
  std::map<ListenKey, std::unique_ptr<Listener>> listeners_;
  std::map<ListenKey, std::string> bind_errors_;
  std::unordered_map<ConnectionId, std::unique_ptr<Connection>> connections_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace mailroom::core
