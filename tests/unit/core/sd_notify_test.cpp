// sd::notify(): datagrams to $NOTIFY_SOCKET received on a real unix datagram socket (a path and an
// abstract name), a no-op when the variable is unset, and the errors for names it cannot use.
#include "core/system/sd_notify.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "tests/unit/support/temp_dir.h"

namespace sd = mailroom::sd;
using mailroom::testing::TempDir;

namespace {

// A bound unix datagram socket standing in for systemd's notification socket.
class FakeServiceManager {
 public:
  // `name`: a path, or an abstract name with a leading '@'.
  explicit FakeServiceManager(const std::string& name) : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(name.size() < sizeof(address.sun_path));
    std::memcpy(address.sun_path, name.data(), name.size());
    socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (name[0] == '@') {
      address.sun_path[0] = '\0';
    } else {
      ++length;
    }
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) == 0);
  }
  ~FakeServiceManager() { ::close(fd_); }
  FakeServiceManager(const FakeServiceManager&) = delete;
  FakeServiceManager& operator=(const FakeServiceManager&) = delete;

  // The next datagram, waiting at most a second; "" when none came.
  std::string receive() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return "";
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
  }

 private:
  int fd_;
};

// Sets $NOTIFY_SOCKET for one test and restores what was there.
class NotifySocketVariable {
 public:
  explicit NotifySocketVariable(const char* value) {
    if (const char* old = ::getenv("NOTIFY_SOCKET")) {
      saved_ = old;
      had_ = true;
    }
    if (value) {
      ::setenv("NOTIFY_SOCKET", value, 1);
    } else {
      ::unsetenv("NOTIFY_SOCKET");
    }
  }
  ~NotifySocketVariable() {
    if (had_) {
      ::setenv("NOTIFY_SOCKET", saved_.c_str(), 1);
    } else {
      ::unsetenv("NOTIFY_SOCKET");
    }
  }
  NotifySocketVariable(const NotifySocketVariable&) = delete;
  NotifySocketVariable& operator=(const NotifySocketVariable&) = delete;

 private:
  std::string saved_;
  bool had_ = false;
};

}  // namespace

TEST_CASE("sd::notify is a no-op when NOTIFY_SOCKET is unset or empty") {
  {
    NotifySocketVariable unset(nullptr);
    auto sent = sd::notify(sd::kReady);
    REQUIRE(sent.ok());
    CHECK_FALSE(*sent);
  }
  NotifySocketVariable empty("");
  auto sent = sd::notify(sd::kReady);
  REQUIRE(sent.ok());
  CHECK_FALSE(*sent);
}

TEST_CASE("sd::notify sends each message as one datagram to a socket path") {
  TempDir dir("sd-notify");
  const std::string path = dir.sub("notify");
  FakeServiceManager manager(path);
  NotifySocketVariable variable(path.c_str());

  auto ready = sd::notify(sd::kReady);
  REQUIRE(ready.ok());
  CHECK(*ready);
  CHECK(manager.receive() == "READY=1");

  REQUIRE(sd::notify(sd::status_message("serving 3 services\nsecond line")).ok());
  CHECK(manager.receive() == "STATUS=serving 3 services second line");

  REQUIRE(sd::notify(sd::reloading_message()).ok());
  const std::string reloading = manager.receive();
  CHECK(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
  CHECK(reloading.size() > std::strlen("RELOADING=1\nMONOTONIC_USEC="));

  REQUIRE(sd::notify(sd::kStopping).ok());
  CHECK(manager.receive() == "STOPPING=1");
}

TEST_CASE("sd::notify reaches an abstract socket named with '@'") {
  const std::string name = "@mailroom-sd-notify-test-" + std::to_string(::getpid());
  FakeServiceManager manager(name);
  NotifySocketVariable variable(name.c_str());
  auto sent = sd::notify(sd::kReady);
  REQUIRE(sent.ok());
  CHECK(*sent);
  CHECK(manager.receive() == "READY=1");
}

TEST_CASE("sd::notify reports a socket it cannot use") {
  TempDir dir("sd-notify");
  SUBCASE("nobody listens at the path") {
    NotifySocketVariable variable(dir.sub("absent").c_str());
    auto sent = sd::notify(sd::kReady);
    REQUIRE_FALSE(sent.ok());
    CHECK(sent.error().message.find("absent") != std::string::npos);
  }
  SUBCASE("a relative path") {
    CHECK_FALSE(sd::notify_socket("run/notify", sd::kReady).ok());
  }
  SUBCASE("a name longer than a socket address") {
    CHECK_FALSE(sd::notify_socket("/" + std::string(200, 'x'), sd::kReady).ok());
  }
}
