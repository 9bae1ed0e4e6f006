// Listener: bind, listen, accept.
#include "core/net/listener.h"

#include "core/log/logger.h"

namespace mailroom::core {

Listener::Listener(EventLoop& loop, net::BindSpec spec, AcceptFn on_accept)
    : loop_(loop), spec_(std::move(spec)), on_accept_(std::move(on_accept)) {}

namespace {
std::string explain_bind_error(int rc) {
  switch (rc) {
    case UV_EADDRINUSE: return "address in use (another server running on this port?)";
    case UV_EADDRNOTAVAIL: return "address not available on this host";
    case UV_EACCES: return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    default: return uv_strerror(rc);
  }
}
}  // namespace

Status Listener::open(int backlog) {
  uv_tcp_init(loop_.raw(), handle_.get());
  handle_.mark_initialized();
  handle_.get()->data = this;
  sockaddr_storage addr{};
  unsigned flags = 0;
  int rc = 0;
  if (spec_.address == "*") {
    rc = uv_ip6_addr("::", spec_.port, reinterpret_cast<sockaddr_in6*>(&addr));
    if (rc == 0) rc = uv_tcp_bind(handle_.get(), reinterpret_cast<const sockaddr*>(&addr), flags);
    if (rc == UV_EAFNOSUPPORT || rc == UV_EADDRNOTAVAIL) {  // no IPv6 on this host
      handle_ = UvHandle<uv_tcp_t>();  // closes the IPv6 attempt
      uv_tcp_init(loop_.raw(), handle_.get());
      handle_.mark_initialized();
      handle_.get()->data = this;
      uv_ip4_addr("0.0.0.0", spec_.port, reinterpret_cast<sockaddr_in*>(&addr));
      rc = uv_tcp_bind(handle_.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
    }
  } else if (spec_.address.find(':') != std::string::npos) {
    rc = uv_ip6_addr(spec_.address.c_str(), spec_.port, reinterpret_cast<sockaddr_in6*>(&addr));
    flags = UV_TCP_IPV6ONLY;
    if (rc == 0) rc = uv_tcp_bind(handle_.get(), reinterpret_cast<const sockaddr*>(&addr), flags);
  } else {
    rc = uv_ip4_addr(spec_.address.c_str(), spec_.port, reinterpret_cast<sockaddr_in*>(&addr));
    if (rc == 0) rc = uv_tcp_bind(handle_.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
  }
  if (rc == 0) rc = uv_listen(handle_.stream(), backlog, &Listener::on_connection);
  if (rc != 0) {
    handle_.reset();
    return make_error(ErrorCode::kIo, "bind " + spec_.str() + " failed: " + explain_bind_error(rc));
  }
  return {};
}

void Listener::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<Listener*>(server->data);
  if (self == nullptr) return;
  if (status < 0) {
    log::warn("net.accept_error", {{"bind", self->spec_.str()}, {"error", uv_strerror(status)}});
    return;
  }
  UvHandle<uv_tcp_t> client;
  uv_tcp_init(self->loop_.raw(), client.get());
  client.mark_initialized();
  if (uv_accept(server, client.stream()) != 0) return;  // client closed by UvHandle
  guard_callback("accept", [&] { self->on_accept_(std::move(client)); });
}

}  // namespace mailroom::core
