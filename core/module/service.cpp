// Service: reconciles listeners with settings and owns the service's connections.
#include "core/module/service.h"

#include <set>

#include "core/log/logger.h"

namespace mailroom::core {

namespace {
ConnectionId next_connection_id() {
  static ConnectionId next = 0;
  return ++next;
}

// With "*" on a port, only the wildcard is bound on that port (binding a specific address on
// the same port would fail with EADDRINUSE); getsockname still tells the local address.
std::vector<net::BindSpec> effective_binds(const std::vector<net::BindSpec>& wanted) {
  std::set<int> wildcard_ports;
  for (const auto& b : wanted) {
    if (b.address == "*") wildcard_ports.insert(b.port);
  }
  std::vector<net::BindSpec> out;
  for (const auto& b : wanted) {
    if (b.address != "*" && wildcard_ports.count(b.port)) continue;
    out.push_back(b);
  }
  return out;
}
}  // namespace

Service::Service(EventLoop& loop, WorkQueue& work, std::string name, Module& module)
    : loop_(loop), work_(work), name_(std::move(name)), module_(module) {}

Service::~Service() { stop(); }

ConnectionLimits Service::limits() const {
  ConnectionLimits l;
  l.max_line = static_cast<std::size_t>(settings_->get_int("max_command_length"));
  l.output_high_water = static_cast<std::size_t>(settings_->get_int("output_buffer_size"));
  l.idle_timeout_ms = static_cast<uint64_t>(settings_->get_int("idle_timeout")) * 1000;
  return l;
}

void Service::apply(std::shared_ptr<const config::ServiceSettings> settings, bool enabled,
                    std::shared_ptr<const tls::TlsContext> tls) {
  settings_ = std::move(settings);
  enabled_ = enabled;
  tls_ = std::move(tls);
  std::vector<ListenKey> wanted;
  auto add = [&](const char* binds_key, const char* port_key, bool is_tls) {
    auto parsed = net::parse_bind_list(settings_->get_string(binds_key),
                                       static_cast<int>(settings_->get_int(port_key)));
    if (!parsed) {  // validated on write; only a hand-edited database gets here
      log::error("service.bad_binds", {{"service", name_}, {"key", binds_key}, {"error", parsed.error().message}});
      return;
    }
    for (auto& spec : effective_binds(*parsed)) wanted.emplace_back(is_tls, std::move(spec));
  };
  if (enabled_) {
    add("binds", "port", false);
    if (settings_->get_bool("implicit_tls")) {
      if (tls_) {
        add("tls_binds", "tls_port", true);
      } else {
        log::warn("service.tls_unavailable", {{"service", name_}, {"reason", "no usable certificate"}});
      }
    }
  }
  std::set<ListenKey> wanted_set(wanted.begin(), wanted.end());
  // Open new binds first, so a changed port never leaves the service unreachable.
  bind_errors_.clear();
  for (const auto& key : wanted) {
    if (listeners_.count(key)) continue;
    std::weak_ptr<int> alive = alive_;
    bool is_tls = key.first;
    auto listener = std::make_unique<Listener>(loop_, key.second, [this, alive, is_tls](UvHandle<uv_tcp_t> socket) {
      if (!alive.expired()) on_accept(std::move(socket), is_tls);
    });
    auto status = listener->open();
    const char* kind = is_tls ? "tls" : "plain";
    if (status) {
      log::info("service.listen", {{"service", name_}, {"bind", key.second.str()}, {"kind", kind}});
      listeners_.emplace(key, std::move(listener));
    } else {
      log::error("service.bind_failed",
                 {{"service", name_}, {"bind", key.second.str()}, {"kind", kind}, {"error", status.error().message}});
      bind_errors_[key] = status.error().message;
    }
  }
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (!wanted_set.count(it->first)) {
      log::info("service.unlisten", {{"service", name_}, {"bind", it->first.second.str()},
                                     {"kind", it->first.first ? "tls" : "plain"}});
      it = listeners_.erase(it);
    } else {
      ++it;
    }
  }
  ConnectionLimits l = limits();
  for (auto& [id, conn] : connections_) conn->set_limits(l);
}

void Service::stop() {
  listeners_.clear();
  // Connections call back into connections_ when they finish: move them out first.
  auto conns = std::move(connections_);
  connections_.clear();
  for (auto& [id, conn] : conns) conn->abort();
  conns.clear();
}

std::vector<BindStatus> Service::bind_status() const {
  std::vector<BindStatus> out;
  for (const auto& [key, l] : listeners_) out.push_back({key.second, key.first, true, ""});
  for (const auto& [key, err] : bind_errors_) out.push_back({key.second, key.first, false, err});
  return out;
}

void Service::on_accept(UvHandle<uv_tcp_t> socket, bool tls) {
  ConnectionId id = next_connection_id();
  std::weak_ptr<int> alive = alive_;
  auto conn = std::make_unique<Connection>(loop_, work_, id, std::move(socket), limits(),
                                           [this, alive](ConnectionId closed) {
                                             if (!alive.expired()) connections_.erase(closed);
                                           });
  if (tls) {
    if (!tls_) {  // the context went away since the listener opened: cannot serve TLS
      conn->abort();
      return;
    }
    conn->start_tls(tls_);
  }
  auto max = static_cast<std::size_t>(settings_->get_int("max_connections"));
  if (connections_.size() >= max) {
    log::warn("net.limit", {{"service", name_}, {"ip", conn->peer_ip()}, {"limit", "max_connections"}});
    conn->write(module_.busy_reply());
    conn->close();
    Connection& ref = *conn;
    connections_.emplace(id, std::move(conn));  // kept until its close completes
    (void)ref;
    return;
  }
  log::debug("net.accept", {{"service", name_}, {"cid", std::to_string(id)}, {"ip", conn->peer_ip()}});
  Connection& ref = *conn;
  connections_.emplace(id, std::move(conn));
  ServiceContext ctx{name_, settings_, tls_};
  ref.start(module_.create_session(ref, ctx));
}

}  // namespace mailroom::core
