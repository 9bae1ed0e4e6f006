// Test support: a blocking loopback client (TCP, or a unix-domain socket; its own thread drives it
// while the loop runs) and a free loopback port. Every call is bounded by socket timeouts, so a broken server cannot hang a test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

namespace mailroom::test {

using namespace std::chrono_literals;

// A port nothing listens on right now (the caller binds it soon after; retry on a clash).
inline int pick_free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    ::close(fd);
    return port;
  }


struct ClientSocket {
  int fd = -1;
  explicit ClientSocket(int port, int rcvbuf = 0) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return;
    set_timeouts();
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  // A client of the unix-domain socket at `path`.
  explicit ClientSocket(const std::string& path) {
    sockaddr_un a{};
    if (path.size() >= sizeof a.sun_path) return;
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return;
    set_timeouts();
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  void set_timeouts() {
    timeval tv{4, 0};  // never hang a test, even against broken code
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  ~ClientSocket() {
    if (fd >= 0) ::close(fd);
  }
  ClientSocket(const ClientSocket&) = delete;
  ClientSocket& operator=(const ClientSocket&) = delete;
  bool ok() const { return fd >= 0; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Appends to `buf` until it holds `needle`; false on EOF, error or timeout.
  bool recv_until(std::string& buf, std::string_view needle) {
    char chunk[65536];
    while (buf.find(needle) == std::string::npos) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads to EOF; returns 0 on a clean EOF, else the errno (ECONNRESET, EAGAIN on timeout).
  int recv_to_eof(std::string& buf, std::size_t chunk_size = 65536, std::chrono::microseconds pause = 0us) {
    std::string chunk(chunk_size, '\0');
    for (;;) {
      ssize_t n = ::recv(fd, chunk.data(), chunk.size(), 0);
      if (n == 0) return 0;
      if (n < 0) return errno;
      buf.append(chunk.data(), static_cast<std::size_t>(n));
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
    }
  }
};

}  // namespace mailroom::test
