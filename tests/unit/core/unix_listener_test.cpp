// plan_binds() placing `unix_socket` in the data directory, and a Listener on a unix-domain
// socket, file system side: the file's mode (at open and changed
// later), removal on close, a stale socket file replaced, and what is never touched: a socket a
// live process listens on, a file that is not a socket, a file put there after the bind.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "core/config/network_settings.h"
#include "core/loop/event_loop.h"
#include "core/module/service.h"
#include "core/net/bind_spec.h"
#include "core/net/listener.h"
#include "tests/unit/support/loopback_client.h"
#include "tests/unit/support/temp_dir.h"

namespace core = mailroom::core;
using mailroom::net::BindSpec;
using mailroom::testing::TempDir;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::unique_ptr<core::Listener> make_listener(core::EventLoop& loop, const std::string& path) {
  return std::make_unique<core::Listener>(loop, BindSpec::unix_socket(path), [](core::StreamHandle) {});
}

std::string open_error(core::Listener& listener) {
  auto status = listener.open();
  REQUIRE_FALSE(status.ok());
  return status.error().message;
}

bool is_socket(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

unsigned mode_of(const std::string& path) {
  struct stat st{};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// A socket bound to `path` (listening when asked): closed with the object, its file left behind
// as a dead process leaves it.
struct RawUnixSocket {
  int fd = -1;
  RawUnixSocket(const std::string& path, bool listening) {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    if (listening) REQUIRE(::listen(fd, 4) == 0);
  }
  ~RawUnixSocket() { ::close(fd); }
};

}  // namespace

TEST_CASE("a unix listener's file gets its mode, can change it, and goes when the listener closes") {
  TempDir dir("unix-listener");
  const std::string path = dir.sub("s.sock");
  core::EventLoop loop;
  auto listener = make_listener(loop, path);
  REQUIRE(listener->set_file_mode(0600).ok());
  auto opened = listener->open();
  REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
  CHECK(is_socket(path));
  CHECK(mode_of(path) == 0600u);
  CHECK(listener->spec().str() == "unix:" + path);
  REQUIRE(listener->set_file_mode(0666).ok());
  CHECK(mode_of(path) == 0666u);
  mailroom::test::ClientSocket client(path);  // it listens: the kernel queues the connection
  CHECK(client.ok());
  listener.reset();
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a stale socket file (nobody listens) is replaced") {
  TempDir dir("unix-stale");
  const std::string path = dir.sub("s.sock");
  { RawUnixSocket dead(path, true); }  // a daemon that died without cleaning up
  REQUIRE(is_socket(path));
  core::EventLoop loop;
  auto listener = make_listener(loop, path);
  auto opened = listener->open();
  REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
  mailroom::test::ClientSocket client(path);
  CHECK(client.ok());
  CHECK(mode_of(path) == 0660u);  // the default
}

TEST_CASE("a socket another process listens on is a bind error and stays") {
  TempDir dir("unix-busy");
  const std::string path = dir.sub("s.sock");
  RawUnixSocket other(path, true);
  core::EventLoop loop;
  auto listener = make_listener(loop, path);
  std::string error = open_error(*listener);
  CHECK(contains(error, "bind unix:" + path + " failed"));
  CHECK(contains(error, "in use by another process"));
  listener.reset();
  CHECK(is_socket(path));
  mailroom::test::ClientSocket client(path);  // still the other process's
  CHECK(client.ok());
}

TEST_CASE("a path that is not a socket is a bind error and is never removed") {
  TempDir dir("unix-file");
  const std::string path = dir.sub("s.sock");
  { std::ofstream(path) << "precious\n"; }
  core::EventLoop loop;
  auto listener = make_listener(loop, path);
  CHECK(contains(open_error(*listener), "not a socket"));
  listener.reset();
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  CHECK(line == "precious");
}

TEST_CASE("a missing directory and an over-long path are bind errors that say so") {
  TempDir dir("unix-bad");
  core::EventLoop loop;
  auto missing = make_listener(loop, dir.sub("nowhere/s.sock"));
  CHECK(contains(open_error(*missing), "no such directory"));
  auto too_long = make_listener(loop, dir.sub(std::string(120, 'x')));
  CHECK(contains(open_error(*too_long), "107 bytes"));
}

TEST_CASE("a file put at the path after the bind is not the listener's to remove") {
  TempDir dir("unix-replaced");
  const std::string path = dir.sub("s.sock");
  core::EventLoop loop;
  auto listener = make_listener(loop, path);
  REQUIRE(listener->open().ok());
  REQUIRE(::unlink(path.c_str()) == 0);
  RawUnixSocket newcomer(path, true);
  listener.reset();
  CHECK(is_socket(path));  // the newcomer's socket stays
}

TEST_CASE("plan_binds takes a relative unix_socket from the data directory and keeps an absolute one") {
  mailroom::config::NetworkSettings n;
  n.binds = "none";
  n.port = 110;
  CHECK(core::plan_binds(n, "/var/lib/mailroom").unix_socket.empty());  // none by default
  n.unix_socket = "lmtp.sock";
  auto plan = core::plan_binds(n, "/var/lib/mailroom");
  CHECK(plan.unix_socket == "/var/lib/mailroom/lmtp.sock");
  CHECK(plan.plain.binds.empty());  // binds none
  CHECK(plan.plain.errors.empty());
  n.unix_socket = "/run/mailroom/../mailroom/lmtp.sock";
  CHECK(core::plan_binds(n, "/var/lib/mailroom").unix_socket == "/run/mailroom/lmtp.sock");
  n.unix_socket = "lmtp.sock";
  auto relative = core::plan_binds(n, "data").unix_socket;  // a relative data dir: from the cwd
  CHECK(relative == (std::filesystem::current_path() / "data/lmtp.sock").string());
}
