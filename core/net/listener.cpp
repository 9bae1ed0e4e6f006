// Listener: bind, listen, accept.
#include "core/net/listener.h"

#include <unistd.h>

#include <atomic>

#include "core/log/logger.h"

namespace mailroom::core {

Listener::Listener(EventLoop& loop, net::BindSpec spec, AcceptFn on_accept)
    : loop_(loop), spec_(std::move(spec)), on_accept_(std::move(on_accept)) {}

namespace {
std::atomic<bool> g_privileged_ports_closed{false};

std::string explain_bind_error(int rc) {
  switch (rc) {
    case UV_EADDRINUSE: return "address in use (another server running on this port?)";
    case UV_EADDRNOTAVAIL: return "address not available on this host";
    case UV_EACCES:
      if (g_privileged_ports_closed.load()) {
        return "permission denied: mailroomd gave up root after start-up, so a port below 1024 opens only "
               "at start (restart mailroomd to open it)";
      }
      return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    default: return uv_strerror(rc);
  }
}

UvHandle<uv_tcp_t> new_tcp(EventLoop& loop, void* owner) {
  UvHandle<uv_tcp_t> tcp;
  uv_tcp_init(loop.raw(), tcp.get());
  tcp.mark_initialized();
  tcp.get()->data = owner;
  return tcp;
}
}  // namespace

void Listener::privileged_ports_closed() { g_privileged_ports_closed.store(true); }

Status Listener::open(int backlog) {
  if (spec_.is_unix()) return open_unix(backlog);
  int rc = bind_tcp();
  if (rc == 0) rc = uv_listen(handle_->stream(), backlog, &Listener::on_connection);
  if (rc != 0) {
    handle_.reset();
    return make_error(ErrorCode::kIo, "bind " + spec_.str() + " failed: " + explain_bind_error(rc));
  }
  return {};
}

// Binds handle_ to the TCP address; 0 or a libuv error.
int Listener::bind_tcp() {
  UvHandle<uv_tcp_t> tcp = new_tcp(loop_, this);
  sockaddr_storage addr{};
  int rc = 0;
  if (spec_.address == "*") {
    rc = uv_ip6_addr("::", spec_.port, reinterpret_cast<sockaddr_in6*>(&addr));
    if (rc == 0) rc = uv_tcp_bind(tcp.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
    if (rc == UV_EAFNOSUPPORT || rc == UV_EADDRNOTAVAIL) {  // no IPv6 on this host
      tcp = new_tcp(loop_, this);  // closes the IPv6 attempt
      uv_ip4_addr("0.0.0.0", spec_.port, reinterpret_cast<sockaddr_in*>(&addr));
      rc = uv_tcp_bind(tcp.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
    }
  } else if (spec_.address.find(':') != std::string::npos) {
    rc = uv_ip6_addr(spec_.address.c_str(), spec_.port, reinterpret_cast<sockaddr_in6*>(&addr));
    if (rc == 0) rc = uv_tcp_bind(tcp.get(), reinterpret_cast<const sockaddr*>(&addr), UV_TCP_IPV6ONLY);
  } else {
    rc = uv_ip4_addr(spec_.address.c_str(), spec_.port, reinterpret_cast<sockaddr_in*>(&addr));
    if (rc == 0) rc = uv_tcp_bind(tcp.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
  }
  handle_.emplace(std::move(tcp));
  return rc;
}

// The socket is bound and its mode set before libuv gets it (uv_pipe_bind would neither replace
// a stale file nor refuse an over-long path), then it listens.
Status Listener::open_unix(int backlog) {
  auto fail = [this](const std::string& why) {
    socket_file_.reset();  // removes the file first, as on close
    handle_.reset();
    return make_error(ErrorCode::kIo, "bind " + spec_.str() + " failed: " + why);
  };
  auto file = net::UnixSocketFile::bind(spec_.unix_path, file_mode_);
  if (!file) return fail(file.error().message);
  socket_file_.emplace(std::move(file).value());
  UvHandle<uv_pipe_t> pipe;
  uv_pipe_init(loop_.raw(), pipe.get(), 0);
  pipe.mark_initialized();
  pipe.get()->data = this;
  int fd = socket_file_->release_fd();
  int rc = uv_pipe_open(pipe.get(), fd);
  if (rc != 0) ::close(fd);  // not libuv's yet
  handle_.emplace(std::move(pipe));
  if (rc == 0) rc = uv_listen(handle_->stream(), backlog, &Listener::on_connection);
  if (rc != 0) return fail(uv_strerror(rc));
  return {};
}

Status Listener::set_file_mode(unsigned mode) {
  file_mode_ = mode;
  if (!socket_file_) return {};
  return socket_file_->set_mode(mode);
}

void Listener::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<Listener*>(server->data);
  if (self == nullptr) return;
  if (status < 0) {
    log::warn("net.accept_error", {{"bind", self->spec_.str()}, {"error", uv_strerror(status)}});
    return;
  }
  auto accept = [&](auto client) {  // closed by its UvHandle unless handed on
    client.mark_initialized();
    if (uv_accept(server, client.stream()) != 0) return;
    guard_callback("accept", [&] { self->on_accept_(StreamHandle(std::move(client))); });
  };
  if (self->spec_.is_unix()) {
    UvHandle<uv_pipe_t> client;
    uv_pipe_init(self->loop_.raw(), client.get(), 0);
    accept(std::move(client));
  } else {
    UvHandle<uv_tcp_t> client;
    uv_tcp_init(self->loop_.raw(), client.get());
    accept(std::move(client));
  }
}

}  // namespace mailroom::core
