// sd_notify without libsystemd: a datagram to $NOTIFY_SOCKET (sd_notify(3)'s protocol).
#include "core/system/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

namespace mailroom::sd {

namespace {

// The datagram socket of one notification, closed when it goes.
class DatagramSocket {
 public:
  DatagramSocket() : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
  ~DatagramSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  DatagramSocket(const DatagramSocket&) = delete;
  DatagramSocket& operator=(const DatagramSocket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Error notify_error(std::string_view socket_name, const std::string& why) {
  return make_error(ErrorCode::kIo, "cannot notify the service manager at " + std::string(socket_name) + ": " + why);
}

}  // namespace

Status notify_socket(std::string_view socket_name, std::string_view state) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // A path must be absolute; '@' names an abstract socket (a leading NUL, not NUL-terminated).
  if (socket_name.size() < 2 || (socket_name[0] != '/' && socket_name[0] != '@')) {
    return notify_error(socket_name, "not an absolute path or an @abstract name");
  }
  if (socket_name.size() >= sizeof(address.sun_path)) {
    return notify_error(socket_name, "name longer than a unix socket address");
  }
  std::memcpy(address.sun_path, socket_name.data(), socket_name.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_name.size());
  if (socket_name[0] == '@') {
    address.sun_path[0] = '\0';
  } else {
    ++length;  // the path's terminating NUL
  }
  DatagramSocket socket;
  if (socket.get() < 0) return notify_error(socket_name, std::strerror(errno));
  const ssize_t sent = ::sendto(socket.get(), state.data(), state.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), length);
  if (sent < 0) return notify_error(socket_name, std::strerror(errno));
  if (static_cast<size_t>(sent) != state.size()) return notify_error(socket_name, "short send");
  return {};
}

Result<bool> notify(std::string_view state) {
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (socket_name == nullptr || *socket_name == '\0') return false;
  if (auto sent = notify_socket(socket_name, state); !sent) return sent.error();
  return true;
}

std::string reloading_message() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1000000LL + now.tv_nsec / 1000;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

std::string status_message(std::string_view text) {
  std::string message = "STATUS=";
  for (char c : text) message += (c == '\n' || c == '\r') ? ' ' : c;
  return message;
}

}  // namespace mailroom::sd
