// The relay's socket: connect with a timeout, bounded reads and writes, the TLS switch.
#include "relay/smarthost_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace mailroom::relay {

namespace {

// The longest single poll(): how soon a stop request is noticed.
constexpr std::chrono::milliseconds kSlice{200};

struct AddrInfoFree {
  void operator()(addrinfo* p) const { freeaddrinfo(p); }
};

Error temporary(std::string why) { return make_error(ErrorCode::kTemporary, std::move(why)); }

}  // namespace

Result<std::unique_ptr<SmarthostConnection>> SmarthostConnection::open(const std::string& host, int port,
                                                                       std::chrono::milliseconds timeout,
                                                                       const std::atomic<bool>& stop) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return temporary("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, AddrInfoFree> list(found);
  std::string last = "no address";
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    storage::UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd.valid()) {
      last = std::strerror(errno);
      continue;
    }
    auto conn = std::make_unique<SmarthostConnection>(std::move(fd), timeout, stop);
    if (::connect(conn->fd_.get(), ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = std::strerror(errno);
      continue;
    }
    if (Status s = conn->wait(POLLOUT); !s) {
      last = s.error().message;
      continue;
    }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(conn->fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      last = std::strerror(err);
      continue;
    }
    return conn;
  }
  return temporary("cannot connect to " + host + ":" + service + ": " + last);
}

Status SmarthostConnection::wait(short events) {
  auto left = timeout_;
  while (left.count() > 0) {
    if (stop_.load()) return temporary("the relay is stopping");
    const auto slice = std::min(left, kSlice);
    pollfd p{fd_.get(), events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(slice.count()));
    if (rc > 0) return {};
    if (rc < 0 && errno != EINTR) return temporary(std::string("poll: ") + std::strerror(errno));
    left -= slice;
  }
  return temporary("timed out after " + std::to_string(timeout_.count() / 1000) + " s");
}

Status SmarthostConnection::send_raw(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (Status s = wait(POLLOUT); !s) return s;
      continue;
    }
    return temporary(std::string("connection lost: ") + std::strerror(errno));
  }
  return {};
}

Result<std::string> SmarthostConnection::recv_raw() {
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
    if (n == 0) return temporary("the smarthost closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (Status s = wait(POLLIN); !s) return s.error();
      continue;
    }
    return temporary(std::string("connection lost: ") + std::strerror(errno));
  }
}

Status SmarthostConnection::start_tls(std::shared_ptr<const tls::TlsClientContext> context, const std::string& host) {
  tls_ = std::make_unique<tls::TlsStream>(std::move(context), host);
  std::string plain;
  std::string cipher;
  if (Status s = tls_->feed("", plain, cipher); !s) return temporary(s.error().message);
  while (true) {
    if (Status s = send_raw(cipher); !s) return s;
    cipher.clear();
    if (tls_->handshake_done()) return {};
    auto in = recv_raw();
    if (!in) return in.error();
    if (Status s = tls_->feed(*in, plain, cipher); !s) {
      (void)send_raw(cipher);  // the alert, best effort
      return temporary(s.error().message);
    }
  }
}

Result<std::string> SmarthostConnection::read() {
  if (!tls_) return recv_raw();
  while (true) {
    auto in = recv_raw();
    if (!in) return in.error();
    std::string plain;
    std::string cipher;
    Status fed = tls_->feed(*in, plain, cipher);
    if (!cipher.empty()) {
      if (Status s = send_raw(cipher); !s) return s.error();
    }
    if (!fed) return temporary(fed.error().message);
    if (!plain.empty()) return plain;
    if (tls_->peer_closed()) return temporary("the smarthost closed the connection");
  }
}

Status SmarthostConnection::write(std::string_view data) {
  if (!tls_) return send_raw(data);
  std::string cipher;
  if (Status s = tls_->write(data, cipher); !s) return temporary(s.error().message);
  return send_raw(cipher);
}

void SmarthostConnection::close() {
  if (tls_ && fd_.valid()) {
    std::string cipher;
    tls_->close_notify(cipher);
    (void)send_raw(cipher);
  }
  fd_.reset();
}

}  // namespace mailroom::relay
