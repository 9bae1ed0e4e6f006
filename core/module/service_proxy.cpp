// Service, the PROXY protocol part (proxy_protocol, proxy_trusted: docs/proxy-protocol.md): a
// connection from a trusted load balancer first reads its PROXY header (Connection::
// read_proxy_header); the client address it names replaces the balancer's before the IP
// policy, limits, logs and the session see the connection. Everything else is refused by
// closing, before any banner or TLS handshake.
#include <string>

#include "core/ipfilter/address_rule.h"
#include "core/log/logger.h"
#include "core/module/service.h"

namespace mailroom::core {

void Service::apply_proxy_settings() {
  std::vector<ipfilter::RangeSet::Entry> entries;
  auto rules = ipfilter::parse_address_rules(network_.proxy_trusted);
  if (!rules) {  // validated when stored: only a hand-edited database gets here; trust nobody
    log::error("service.proxy_trusted", {{"service", name_}, {"error", rules.error().message}});
  } else {
    for (uint32_t i = 0; i < rules->size(); ++i) entries.push_back({(*rules)[i].range, i});
  }
  proxy_trusted_.build(std::move(entries));
  if (network_.proxy_protocol && proxy_trusted_.empty()) {
    log::warn("service.proxy_trusted",
              {{"service", name_}, {"error", "proxy_protocol is on but proxy_trusted is empty: every connection is refused"}});
  }
}

void Service::refuse_proxied(std::unique_ptr<Connection> conn, const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    ++stats_.proxy_refused;
  }
  log::warn("net.proxy_refused", {{"service", name_}, {"cid", std::to_string(conn->id())}, {"ip", conn->peer_ip()},
                                  {"local", conn->local_endpoint()}, {"reason", reason}});
  refuse(std::move(conn), {});
}

void Service::await_proxy_header(std::unique_ptr<Connection> conn, bool tls) {
  auto ip = ipfilter::IpAddress::parse(conn->peer_ip());
  if (!ip) {  // getpeername failed: the client reset before the accept (a connect-only probe)
    refuse_proxied(std::move(conn), "no peer address: the connection was reset before it was accepted");
    return;
  }
  if (!proxy_trusted_.find(*ip)) {
    refuse_proxied(std::move(conn), "not in proxy_trusted: only a trusted load balancer may connect (proxy_protocol is on)");
    return;
  }
  if (awaiting_proxy_.size() >= network_.max_connections) {
    refuse_proxied(std::move(conn), "max_connections connections are already waiting for their PROXY header");
    return;
  }
  Connection& ref = *conn;
  const ConnectionId id = conn->id();
  awaiting_proxy_.emplace(id, std::move(conn));
  std::weak_ptr<int> alive = alive_;
  ref.read_proxy_header(static_cast<uint64_t>(std::chrono::milliseconds(network_.proxy_timeout).count()),
                        network_.proxy_max_header, [this, alive, id, tls](const net::ProxyParse& verdict) {
                          if (!alive.expired()) proxy_header_read(id, tls, verdict);
                        });
}

void Service::proxy_header_read(ConnectionId id, bool tls, const net::ProxyParse& verdict) {
  auto it = awaiting_proxy_.find(id);
  if (it == awaiting_proxy_.end()) return;
  std::unique_ptr<Connection> conn = std::move(it->second);
  awaiting_proxy_.erase(it);
  if (verdict.status != net::ProxyParse::Status::kComplete) {
    refuse_proxied(std::move(conn), verdict.error);
    return;
  }
  const net::ProxyHeader& h = verdict.header;
  if (!h.use_connection_address) conn->set_proxied_peer(h.source_ip, h.source_port);
  log::debug("net.proxied", {{"service", name_}, {"cid", std::to_string(id)}, {"ip", conn->peer_ip()},
                             {"port", std::to_string(conn->peer_port())},
                             {"via", h.use_connection_address ? conn->peer_ip() : conn->via()},
                             {"version", std::to_string(h.version)},
                             {"client", h.use_connection_address ? "the balancer's own (LOCAL or UNKNOWN)" : "named"}});
  std::string peer = conn->peer_ip();
  admit(Arrival{id, std::move(peer), std::nullopt, std::move(conn)}, tls);
}

}  // namespace mailroom::core
