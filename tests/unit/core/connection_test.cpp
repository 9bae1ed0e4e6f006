// Connection on a real libuv loop over loopback: line assembly (CRLF/LF, split writes, over-long
// lines), pause/resume ordering, output batching, write back-pressure and drain, flushing on
// close, the idle timeout and peer EOF. Clients are blocking POSIX sockets on their own thread; every test is
// bounded by a watchdog timer and checks that the loop ends with no handle left open.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <cerrno>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/net/bind_spec.h"
#include "core/net/connection.h"
#include "core/net/listener.h"
#include "core/tls/openssl_ptr.h"
#include "core/tls/tls_context.h"
#include "tests/unit/core/cert_fixture.h"
#include "tests/unit/support/loopback_client.h"
#include "tests/unit/support/temp_dir.h"

namespace core = mailroom::core;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

using mailroom::test::ClientSocket;

namespace {

long ms_between(Clock::time_point a, Clock::time_point b) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 13 + i / 4093) % 26);
  return s;
}

// What the server side saw; touched only on the loop thread (read after the loop ends).
struct Recorder {
  std::vector<std::string> lines;
  std::vector<Clock::time_point> line_times;
  int opens = 0, too_long = 0, drains = 0, idle = 0, closes = 0, destroyed = 0;
  std::vector<core::Timeout> timeouts;
  std::size_t max_queued = 0;  // largest queued_bytes() a test's hook saw
  std::string peer_ip;
  std::string local_ip;
  int local_port = 0;
  bool is_unix = false;
  bool local_client = false;
  bool over_high_water = false;
  std::size_t queued_after_write = 0;
  Clock::time_point resumed_at{};
  std::vector<uint64_t> sends;  // Connection::sends_issued() where a test records it
  std::vector<std::size_t> queued;
};

class Harness;
using LineHook = std::function<void(Harness&, core::Connection&, std::string_view)>;

// A test protocol: records everything; echoes "got:<line>" unless the test installs a hook.
class TestSession : public core::ProtocolSession {
 public:
  TestSession(Harness& harness, core::Connection& conn);
  ~TestSession() override;
  void on_open() override;
  void on_line(std::string_view line, core::LineEnding ending) override;
  void on_line_too_long() override;
  void on_drain() override;
  std::string on_timeout(core::Timeout which) override;
  void on_close() override;

 private:
  Harness& h_;
  core::Connection& conn_;
};

class Harness {
 public:
  core::EventLoop loop;  // first member: destroyed last
  core::WorkQueue work{loop};
  core::ConnectionLimits limits;
  Recorder rec;
  std::string greeting;
  std::string idle_text;
  LineHook on_line;
  std::function<void(Harness&, core::Connection&)> on_drain;
  std::map<core::ConnectionId, std::unique_ptr<core::Connection>> conns;
  std::unique_ptr<core::Timer> extra_timer;  // for tests that act later (resume)
  std::shared_ptr<const mailroom::tls::TlsContext> implicit_tls;  // set: TLS from the first byte
  bool timed_out = false;
  int accepted = 0;
  int port = 0;
  // Set: listen on a unix-domain socket at this path instead of TCP (the client is given port 0).
  std::string unix_path;
  // Set: every connection first reads a PROXY header (as core/module/service_proxy.cpp does);
  // the verdicts and the balancer's address (via()) are recorded, a refused one is closed.
  uint64_t proxy_timeout_ms = 0;
  std::vector<mailroom::net::ProxyParse> proxy_verdicts;
  std::string via;

  // Runs the loop with `client` on its own thread until the client has finished and every
  // accepted connection has closed, or until the watchdog fires.
  void run(std::function<void(int port)> client, int expected_accepts = 1, uint64_t limit_ms = 5000) {
    REQUIRE(open_listener());
    extra_timer = std::make_unique<core::Timer>(loop);
    watchdog_ = std::make_unique<core::Timer>(loop);
    watchdog_->start(limit_ms, 0, [this] {
      timed_out = true;
      teardown();
    });
    // A client thread must not call loop.post(): it would race with stop(). Poll a flag instead.
    ticker_ = std::make_unique<core::Timer>(loop);
    ticker_->start(5, 5, [this, expected_accepts] {
      if (client_done_ && accepted >= expected_accepts && conns.empty()) teardown();
    });
    std::thread thread([this, client, p = port] {
      client(p);
      client_done_ = true;
    });
    loop.run();
    thread.join();
    CHECK_MESSAGE(!timed_out, "watchdog fired after ", limit_ms, " ms");
    CHECK_MESSAGE(open_handles() == 0, "handles still open after the loop ended");
    CHECK(uv_loop_alive(loop.raw()) == 0);
  }

  core::Connection* find(core::ConnectionId id) {
    auto it = conns.find(id);
    return it == conns.end() ? nullptr : it->second.get();
  }

 private:

  bool open_listener() {
    auto on_accept = [this](core::StreamHandle socket) { accept(std::move(socket)); };
    if (!unix_path.empty()) {
      // As mailroomd does (daemon/main.cpp): on a unix socket whose peer has closed, the very
      // next write raises SIGPIPE (TCP only answers it with a reset).
      std::signal(SIGPIPE, SIG_IGN);
      listener_ = std::make_unique<core::Listener>(loop, mailroom::net::BindSpec::unix_socket(unix_path), on_accept);
      auto opened = listener_->open();
      CHECK_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
      return opened.ok();
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      port = mailroom::test::pick_free_port();
      if (port == 0) continue;
      listener_ = std::make_unique<core::Listener>(loop, mailroom::net::BindSpec{"127.0.0.1", port}, on_accept);
      if (listener_->open().ok()) return true;
      listener_.reset();
    }
    return false;
  }

  // As core/module/service.cpp's on_accept does.
  void accept(core::StreamHandle socket) {
    ++accepted;
    core::ConnectionId id = ++next_id_;
    auto conn = std::make_unique<core::Connection>(loop, work, id, std::move(socket), limits,
                                                   [this](core::ConnectionId closed) { conns.erase(closed); });
    core::Connection& ref = *conn;
    conns.emplace(id, std::move(conn));
    if (proxy_timeout_ms > 0) {
      ref.read_proxy_header(proxy_timeout_ms, 1024, [this, &ref](const mailroom::net::ProxyParse& verdict) {
        proxy_verdicts.push_back(verdict);
        if (verdict.status != mailroom::net::ProxyParse::Status::kComplete) {
          ref.close();
          return;
        }
        if (!verdict.header.use_connection_address) ref.set_proxied_peer(verdict.header.source_ip, verdict.header.source_port);
        via = ref.via();
        start_session(ref);
      });
      return;
    }
    start_session(ref);
  }

  void start_session(core::Connection& ref) {
    if (implicit_tls) ref.start_tls(implicit_tls);
    ref.start(std::make_unique<TestSession>(*this, ref));
  }

  void teardown() {
    if (torn_down_) return;
    torn_down_ = true;
    auto doomed = std::move(conns);
    conns.clear();
    for (auto& [id, conn] : doomed) conn->abort();
    doomed.clear();
    listener_.reset();
    extra_timer.reset();
    ticker_.reset();
    watchdog_.reset();
    loop.stop();
  }

  int open_handles() {
    int count = 0;
    uv_walk(loop.raw(), [](uv_handle_t*, void* arg) { ++*static_cast<int*>(arg); }, &count);
    return count;
  }

  std::unique_ptr<core::Listener> listener_;
  std::unique_ptr<core::Timer> watchdog_, ticker_;
  std::atomic<bool> client_done_{false};
  bool torn_down_ = false;
  core::ConnectionId next_id_ = 0;
};

TestSession::TestSession(Harness& harness, core::Connection& conn) : h_(harness), conn_(conn) {}
TestSession::~TestSession() { ++h_.rec.destroyed; }

void TestSession::on_open() {
  ++h_.rec.opens;
  h_.rec.peer_ip = conn_.peer_ip();
  h_.rec.local_ip = conn_.local_ip();
  h_.rec.local_port = conn_.local_port();
  h_.rec.is_unix = conn_.is_unix();
  h_.rec.local_client = conn_.is_local_client();
  if (!h_.greeting.empty()) conn_.write(h_.greeting);
}

void TestSession::on_line(std::string_view line, core::LineEnding) {
  h_.rec.lines.emplace_back(line);
  h_.rec.line_times.push_back(Clock::now());
  if (h_.on_line) {
    h_.on_line(h_, conn_, line);
  } else {
    conn_.write("got:" + std::string(line) + "\r\n");
  }
}

void TestSession::on_line_too_long() {
  ++h_.rec.too_long;
  conn_.write("toolong\r\n");
}

void TestSession::on_drain() {
  ++h_.rec.drains;
  if (h_.on_drain) h_.on_drain(h_, conn_);
}

std::string TestSession::on_timeout(core::Timeout which) {
  h_.rec.timeouts.push_back(which);
  if (which != core::Timeout::kIdle) return "timeout:" + std::string(core::timeout_name(which)) + "\r\n";
  ++h_.rec.idle;
  return h_.idle_text;
}

void TestSession::on_close() { ++h_.rec.closes; }


}  // namespace

// ------------------------------------------------------------------ line assembly

TEST_CASE("lines sent in one write arrive one by one, in order, with CRLF or bare LF") {
  Harness h;
  std::string reply;
  bool connected = false, got_all = false;
  h.run([&](int port) {
    ClientSocket c(port);
    connected = c.ok();
    if (!connected) return;
    c.send("A\r\nB\nC\r\n");
    got_all = c.recv_until(reply, "got:C\r\n");
  });
  REQUIRE(connected);
  CHECK(got_all);
  CHECK(h.rec.lines == std::vector<std::string>{"A", "B", "C"});
  CHECK(reply == "got:A\r\ngot:B\r\ngot:C\r\n");
  CHECK(h.rec.opens == 1);
  CHECK(h.rec.closes == 1);
  CHECK(h.rec.destroyed == 1);
  CHECK(h.rec.peer_ip == "127.0.0.1");
  CHECK(h.rec.local_port == h.port);
  CHECK_FALSE(h.rec.is_unix);
  CHECK(h.rec.local_client);  // loopback
}

TEST_CASE("a line split across several writes is delivered once, whole") {
  Harness h;
  std::string reply, early;
  bool got_all = false;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    for (const char* part : {"HEL", "LO W", "ORLD\r"}) {
      c.send(part);
      std::this_thread::sleep_for(30ms);
    }
    // Nothing may be answered before the line ends.
    char buf[64];
    ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) early.assign(buf, static_cast<std::size_t>(n));
    c.send("\n");
    c.send("NE");
    std::this_thread::sleep_for(20ms);
    c.send("XT\r\n");
    got_all = c.recv_until(reply, "got:NEXT\r\n");
  });
  CHECK(got_all);
  CHECK(early.empty());
  CHECK(h.rec.lines == std::vector<std::string>{"HELLO WORLD", "NEXT"});
  CHECK(reply == "got:HELLO WORLD\r\ngot:NEXT\r\n");
}

TEST_CASE("a line longer than max_line is reported once and the next line still arrives") {
  Harness h;
  h.limits.max_line = 64;
  std::string reply;
  bool got_all = false;

  SUBCASE("in one write") {
    h.run([&](int port) {
      ClientSocket c(port);
      if (!c.ok()) return;
      c.send(std::string(200, 'x') + "\r\nNEXT\r\n");
      got_all = c.recv_until(reply, "got:NEXT\r\n");
    });
    CHECK(got_all);
    CHECK(h.rec.too_long == 1);
    CHECK(h.rec.lines == std::vector<std::string>{"NEXT"});
    CHECK(reply == "toolong\r\ngot:NEXT\r\n");
  }
  SUBCASE("across several writes, without a line end for a while") {
    h.run([&](int port) {
      ClientSocket c(port);
      if (!c.ok()) return;
      for (int i = 0; i < 4; ++i) {
        c.send(std::string(100, 'y'));
        std::this_thread::sleep_for(20ms);
      }
      c.send("tail\r\nNEXT\r\n");
      got_all = c.recv_until(reply, "got:NEXT\r\n");
    });
    CHECK(got_all);
    CHECK(h.rec.too_long == 1);
    CHECK(h.rec.lines == std::vector<std::string>{"NEXT"});  // "tail" belonged to the long line
    CHECK(reply == "toolong\r\ngot:NEXT\r\n");
  }
  SUBCASE("max_line counts the CRLF: 62 bytes + CRLF pass, 63 + CRLF do not") {
    h.run([&](int port) {
      ClientSocket c(port);
      if (!c.ok()) return;
      c.send(std::string(62, 'a') + "\r\n" + std::string(63, 'b') + "\r\n" + std::string(63, 'c') + "\nEND\r\n");
      got_all = c.recv_until(reply, "got:END\r\n");
    });
    CHECK(got_all);
    CHECK(h.rec.too_long == 1);
    CHECK(h.rec.lines == std::vector<std::string>{std::string(62, 'a'), std::string(63, 'c'), "END"});
  }
}

// ------------------------------------------------------------------ pause / resume

TEST_CASE("pause_input holds pipelined lines until resume_input, then delivers them in order") {
  Harness h;
  h.on_line = [](Harness& hh, core::Connection& conn, std::string_view line) {
    conn.write("got:" + std::string(line) + "\r\n");
    if (line != "PAUSE") return;
    conn.pause_input();
    core::ConnectionId id = conn.id();
    hh.extra_timer->start(50, 0, [&hh, id] {
      if (core::Connection* c = hh.find(id)) {
        hh.rec.resumed_at = Clock::now();
        c->resume_input();
      }
    });
  };
  std::string reply;
  bool got_all = false;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    c.send("A\r\nPAUSE\r\nB\r\nC\r\n");
    if (!c.recv_until(reply, "got:PAUSE\r\n")) return;
    c.send("D\r\n");  // arrives while paused: must wait behind B and C
    got_all = c.recv_until(reply, "got:D\r\n");
  });
  CHECK(got_all);
  REQUIRE(h.rec.lines == std::vector<std::string>{"A", "PAUSE", "B", "C", "D"});
  CHECK(reply == "got:A\r\ngot:PAUSE\r\ngot:B\r\ngot:C\r\ngot:D\r\n");
  CHECK(ms_between(h.rec.line_times[1], h.rec.line_times[2]) >= 45);
  CHECK(h.rec.line_times[2] >= h.rec.resumed_at);
  CHECK(h.rec.line_times[4] >= h.rec.resumed_at);
}

// ------------------------------------------------------------------ output

TEST_CASE("a large write to a slow reader goes over the high-water mark, then drains") {
  static const std::string big = pattern(8 << 20);
  Harness h;
  h.on_line = [](Harness& hh, core::Connection& conn, std::string_view line) {
    if (line != "BIG") return;
    conn.write(big);
    hh.rec.over_high_water = conn.over_high_water();
    hh.rec.queued_after_write = conn.queued_bytes();
  };
  h.on_drain = [](Harness&, core::Connection& conn) {
    conn.write("END\r\n");
    conn.close();
  };
  std::string got;
  int rc = -1;
  h.run(
      [&](int port) {
        ClientSocket c(port, 64 * 1024);
        if (!c.ok()) return;
        c.send("BIG\r\n");
        rc = c.recv_to_eof(got, 64 * 1024, 1ms);
      },
      1, 15000);
  CHECK(h.rec.over_high_water);
  CHECK(h.rec.queued_after_write > h.limits.output_high_water);
  CHECK(h.rec.drains == 1);
  CHECK(rc == 0);
  CHECK(got.size() == big.size() + 5);
  CHECK((got.size() == big.size() + 5 && got.compare(0, big.size(), big) == 0));
  CHECK(got.substr(got.size() >= 5 ? got.size() - 5 : 0) == "END\r\n");
  CHECK(h.rec.closes == 1);
}

TEST_CASE("close() after a write flushes everything before EOF and ignores later input") {
  static const std::string body = pattern(2 << 20);
  Harness h;
  h.on_line = [](Harness&, core::Connection& conn, std::string_view line) {
    if (line != "BYE") return;
    conn.write(body);
    conn.write("bye\r\n");
    conn.close();
  };
  std::string got;
  int rc = -1;
  h.run(
      [&](int port) {
        ClientSocket c(port, 64 * 1024);
        if (!c.ok()) return;
        c.send("BYE\r\nAFTER\r\n");
        rc = c.recv_to_eof(got, 32 * 1024, 200us);
      },
      1, 10000);
  CHECK(rc == 0);
  CHECK(got.size() == body.size() + 5);
  CHECK(got.compare(0, body.size(), body) == 0);
  CHECK(got.size() >= 5);
  if (got.size() >= 5) CHECK(got.substr(got.size() - 5) == "bye\r\n");
  CHECK(h.rec.lines == std::vector<std::string>{"BYE"});  // AFTER came after close()
  CHECK(h.rec.closes == 1);
}

// BUG (reported): after close(), reading stops; the Connection is then destroyed and uv_close()
// closes the fd while unread client bytes sit in the kernel's receive buffer, so Linux sends RST
// instead of FIN and discards whatever output is still in the send buffer. A client that sends
// anything while a large final reply is being flushed loses the tail of it (ECONNRESET).
TEST_CASE("close() delivers everything even when the client sends more meanwhile") {
  static const std::string body = pattern(4 << 20);
  Harness h;
  h.on_line = [](Harness&, core::Connection& conn, std::string_view line) {
    if (line != "BYE") return;
    conn.write(body);
    conn.write("bye\r\n");
    conn.close();
  };
  std::string got;
  int rc = -1;
  h.run(
      [&](int port) {
        ClientSocket c(port, 64 * 1024);
        if (!c.ok()) return;
        c.send("BYE\r\n");
        std::this_thread::sleep_for(50ms);
        c.send("NOOP\r\n");  // the server no longer reads: these bytes stay unread
        rc = c.recv_to_eof(got, 32 * 1024, 500us);
      },
      1, 10000);
  CHECK_MESSAGE(rc == 0, "client read ended with errno ", rc, " after ", got.size(), " of ", body.size() + 5, " bytes");
  CHECK(got.size() == body.size() + 5);
}

// ------------------------------------------------------------------ idle timeout and EOF

TEST_CASE("a silent client is closed after idle_timeout with the session's last line") {
  Harness h;
  h.limits.idle_timeout_ms = 200;
  h.greeting = "+OK hi\r\n";
  h.idle_text = "-ERR idle timeout\r\n";
  std::string got;
  int rc = -1;
  long elapsed = -1;
  h.run([&](int port) {
    auto start = Clock::now();
    ClientSocket c(port);
    if (!c.ok()) return;
    rc = c.recv_to_eof(got);
    elapsed = ms_between(start, Clock::now());
  });
  CHECK(rc == 0);
  CHECK(got == "+OK hi\r\n-ERR idle timeout\r\n");
  CHECK(elapsed >= 180);
  CHECK(elapsed < 3000);
  CHECK(h.rec.idle == 1);
  CHECK(h.rec.closes == 1);
}

TEST_CASE("input keeps a connection from idling out") {
  Harness h;
  h.limits.idle_timeout_ms = 200;
  h.idle_text = "-ERR idle timeout\r\n";
  std::string got;
  int rc = -1;
  long elapsed = -1;
  h.run([&](int port) {
    auto start = Clock::now();
    ClientSocket c(port);
    if (!c.ok()) return;
    for (int i = 0; i < 6; ++i) {  // 600 ms of activity, a line every 100 ms
      c.send("PING\r\n");
      std::this_thread::sleep_for(100ms);
    }
    rc = c.recv_to_eof(got);
    elapsed = ms_between(start, Clock::now());
  });
  CHECK(rc == 0);
  CHECK(h.rec.lines.size() == 6);
  CHECK(h.rec.idle == 1);
  std::string expected;
  for (int i = 0; i < 6; ++i) expected += "got:PING\r\n";
  CHECK(got == expected + "-ERR idle timeout\r\n");
  CHECK(elapsed >= 600);
}

// ------------------------------------------------------------------ deadlines (slowloris)

TEST_CASE("a command line dribbled a byte at a time is cut off after command_timeout") {
  Harness h;
  h.limits.command_timeout_ms = 200;  // the idle timer (10 min) never fires: bytes keep coming
  std::string got;
  int rc = -1;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    for (int i = 0; i < 60; ++i) {  // at most 3 s of one byte every 50 ms, never a line end
      if (!c.send("x")) break;
      std::this_thread::sleep_for(50ms);
      char probe;
      if (::recv(c.fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) > 0) break;  // the server spoke
    }
    rc = c.recv_to_eof(got);
  });
  CHECK(rc == 0);
  CHECK(got == "timeout:command\r\n");
  CHECK(h.rec.timeouts == std::vector<core::Timeout>{core::Timeout::kCommand});
  CHECK(h.rec.lines.empty());
}

TEST_CASE("lines that arrive in pieces but complete within command_timeout are served") {
  Harness h;
  h.limits.command_timeout_ms = 300;
  h.limits.idle_timeout_ms = 200;
  h.idle_text = "idle\r\n";
  std::string got;
  int rc = -1;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    for (int i = 0; i < 5; ++i) {  // each line takes ~60 ms; together far longer than 300 ms
      c.send("PI");
      std::this_thread::sleep_for(60ms);
      c.send("NG\r\n");
      std::this_thread::sleep_for(60ms);
    }
    rc = c.recv_to_eof(got);
  });
  CHECK(rc == 0);
  CHECK(h.rec.lines.size() == 5);
  CHECK(h.rec.timeouts == std::vector<core::Timeout>{core::Timeout::kIdle});
}

TEST_CASE("a client that never logs in is closed after login_timeout, however busy it is") {
  Harness h;
  h.limits.login_timeout_ms = 300;
  h.on_line = [](Harness&, core::Connection& conn, std::string_view line) {
    if (line == "LOGIN") conn.login_done();
    conn.write("got:" + std::string(line) + "\r\n");
  };
  std::string got;
  int rc = -1;

  SUBCASE("never logged in: closed with the session's last line") {
    h.run([&](int port) {
      ClientSocket c(port);
      if (!c.ok()) return;
      for (int i = 0; i < 30; ++i) {  // at most 3 s of NOOPs, 10 a second
        if (!c.send("NOOP\r\n")) break;
        std::this_thread::sleep_for(100ms);
        char probe[4096];
        ssize_t n = ::recv(c.fd, probe, sizeof probe, MSG_DONTWAIT);
        if (n == 0) break;
        if (n > 0) got.append(probe, static_cast<std::size_t>(n));
        if (got.find("timeout:") != std::string::npos) break;
      }
      rc = c.recv_to_eof(got);
    });
    CHECK(rc == 0);
    CHECK(got.find("timeout:login\r\n") != std::string::npos);
    CHECK(h.rec.timeouts == std::vector<core::Timeout>{core::Timeout::kLogin});
    CHECK(h.rec.lines.size() < 30);
  }
  SUBCASE("logged in: the deadline no longer applies") {
    h.limits.idle_timeout_ms = 200;
    h.idle_text = "idle\r\n";
    h.run([&](int port) {
      ClientSocket c(port);
      if (!c.ok()) return;
      c.send("LOGIN\r\n");
      for (int i = 0; i < 6; ++i) {  // 600 ms of activity, twice the login deadline
        std::this_thread::sleep_for(100ms);
        c.send("NOOP\r\n");
      }
      rc = c.recv_to_eof(got);
    });
    CHECK(rc == 0);
    CHECK(h.rec.lines.size() == 7);
    CHECK(h.rec.timeouts == std::vector<core::Timeout>{core::Timeout::kIdle});
  }
}

TEST_CASE("a client that sends commands but never reads the replies is not read any further") {
  // Each short command gets a 4 KiB reply. Without a stop, the server would read every command
  // the kernel hands it and queue 40 MB of replies for a client that reads nothing.
  Harness h;
  h.limits.output_high_water = 64 * 1024;
  const std::string reply(4096 - 2, 'r');
  h.on_line = [&reply](Harness& hh, core::Connection& conn, std::string_view) {
    conn.write(reply + "\r\n");
    hh.rec.max_queued = std::max(hh.rec.max_queued, conn.queued_bytes());
  };
  constexpr std::size_t kLines = 10000;
  std::size_t received = 0;
  bool sent_all = false;
  h.run(
      [&](int port) {
        ClientSocket c(port, 16 * 1024);
        if (!c.ok()) return;
        std::thread writer([&] {
          std::string batch;
          for (std::size_t i = 0; i < kLines; ++i) batch += "CMD " + std::string(94, 'c') + "\r\n";
          sent_all = c.send(batch);
        });
        std::this_thread::sleep_for(500ms);  // read nothing for a while: the server must stop
        char chunk[65536];
        while (received < kLines * 4096) {
          ssize_t n = ::recv(c.fd, chunk, sizeof chunk, 0);
          if (n <= 0) break;
          received += static_cast<std::size_t>(n);
        }
        writer.join();
      },
      1, 20000);
  CHECK(sent_all);
  CHECK(received == kLines * 4096);  // nothing lost: every command was answered once read
  CHECK(h.rec.lines.size() == kLines);
  CHECK(h.rec.max_queued > 0);
  CHECK(h.rec.max_queued <= h.limits.output_high_water + 2 * 4096);
}

TEST_CASE("peer EOF closes the connection and calls on_close exactly once") {
  Harness h;
  bool sent = false;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    sent = c.send("A\r\nPARTIAL");
    ::shutdown(c.fd, SHUT_WR);
    std::string rest;
    c.recv_to_eof(rest);
  });
  CHECK(sent);
  CHECK(h.rec.lines == std::vector<std::string>{"A"});  // a partial line is not a line
  CHECK(h.rec.closes == 1);
  CHECK(h.rec.destroyed == 1);
  CHECK(h.rec.idle == 0);
}

TEST_CASE("several clients are served independently on one loop") {
  Harness h;
  std::string replies[3];
  h.run(
      [&](int port) {
        ClientSocket a(port), b(port), c(port);
        if (!a.ok() || !b.ok() || !c.ok()) return;
        c.send("from-c\r\n");
        a.send("from-a\r\n");
        b.send("from-b\r\n");
        a.recv_until(replies[0], "\r\n");
        b.recv_until(replies[1], "\r\n");
        c.recv_until(replies[2], "\r\n");
      },
      3);
  CHECK(h.accepted == 3);
  CHECK(replies[0] == "got:from-a\r\n");
  CHECK(replies[1] == "got:from-b\r\n");
  CHECK(replies[2] == "got:from-c\r\n");
  CHECK(h.rec.closes == 3);
  CHECK(h.rec.destroyed == 3);
}

// ------------------------------------------------------------------ TLS over real sockets

namespace {

// A self-signed pair for "localhost" in a temp dir, made once for the binary.
struct TestCert {
  std::string dir, cert, key;
  std::shared_ptr<mailroom::tls::TlsContext> context;
  TestCert() {
    char tmpl[] = "/tmp/mailroom-conn-test-XXXXXX";
    const char* made = mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    dir = made;
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    REQUIRE(mailroom::test::write_self_signed(cert, key, "localhost", 30).ok());
    auto ctx = mailroom::tls::TlsContext::create({cert, key, "1.2", "", ""});
    REQUIRE(ctx.ok());
    context = *ctx;
  }
  ~TestCert() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

const TestCert& test_cert() {
  static TestCert cert;
  return cert;
}

// A blocking OpenSSL client on a connected socket (the socket's timeouts bound every call).
struct SocketTlsClient {
  mailroom::tls::SslCtxPtr ctx{SSL_CTX_new(TLS_client_method())};
  mailroom::tls::SslPtr ssl;
  bool handshake(int fd) {
    if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), test_cert().cert.c_str(), nullptr) != 1) return false;
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    ssl.reset(SSL_new(ctx.get()));
    SSL_set1_host(ssl.get(), "localhost");
    SSL_set_fd(ssl.get(), fd);
    return SSL_connect(ssl.get()) == 1;
  }
  bool write(std::string_view data) {
    return SSL_write(ssl.get(), data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
  }
  bool read_until(std::string& buf, std::string_view needle) {
    char chunk[16384];
    while (buf.find(needle) == std::string::npos) {
      int n = SSL_read(ssl.get(), chunk, sizeof chunk);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }
};

}  // namespace

TEST_CASE("implicit TLS: the greeting waits for the handshake, then lines flow encrypted") {
  Harness h;
  h.implicit_tls = test_cert().context;
  h.greeting = "+OK secure hello\r\n";
  bool handshake = false, got_all = false;
  std::string reply;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    SocketTlsClient tls;
    handshake = tls.handshake(c.fd);
    if (!handshake) return;
    if (!tls.read_until(reply, "hello\r\n")) return;
    tls.write("A\r\nB\r\n");
    got_all = tls.read_until(reply, "got:B\r\n");
    SSL_shutdown(tls.ssl.get());
  });
  CHECK(handshake);
  CHECK(got_all);
  CHECK(reply == "+OK secure hello\r\ngot:A\r\ngot:B\r\n");
  CHECK(h.rec.lines == std::vector<std::string>{"A", "B"});
  CHECK(h.rec.closes == 1);
}

// STLS with a command pipelined after it in plaintext (an injection attempt): it is discarded,
// the session goes on under TLS. Over TCP, or over the unix socket at `unix_path` when given.
void check_stls_discards_pipelined_plaintext(const std::string& unix_path) {
  Harness h;
  h.unix_path = unix_path;
  std::string tls_version;
  h.on_line = [&tls_version](Harness&, core::Connection& conn, std::string_view line) {
    if (line == "STLS") {
      conn.write("+OK begin TLS\r\n");
      conn.start_tls(test_cert().context);
      return;
    }
    tls_version = conn.tls_version();
    conn.write("got:" + std::string(line) + "\r\n");
  };
  bool handshake = false, got_all = false;
  std::string plain_reply, reply;
  h.run([&](int port) {
    auto c = unix_path.empty() ? std::make_unique<ClientSocket>(port) : std::make_unique<ClientSocket>(unix_path);
    if (!c->ok()) return;
    c->send("STLS\r\nCAPA\r\n");  // CAPA is an injection attempt
    if (!c->recv_until(plain_reply, "+OK begin TLS\r\n")) return;
    SocketTlsClient tls;
    handshake = tls.handshake(c->fd);
    if (!handshake) return;
    tls.write("NOOP\r\n");
    got_all = tls.read_until(reply, "got:NOOP\r\n");
  });
  CHECK(plain_reply == "+OK begin TLS\r\n");
  CHECK(handshake);
  CHECK(got_all);
  CHECK(reply == "got:NOOP\r\n");
  CHECK(h.rec.lines == std::vector<std::string>{"STLS", "NOOP"});
  CHECK(tls_version == "TLSv1.3");
}

TEST_CASE("STLS: plaintext pipelined after the upgrade command is discarded, not executed") {
  check_stls_discards_pipelined_plaintext("");
}

TEST_CASE("a TLS client that never finishes its handshake is dropped after handshake_timeout") {
  Harness h;
  h.implicit_tls = test_cert().context;
  h.limits.handshake_timeout_ms = 200;
  h.greeting = "+OK never seen\r\n";
  std::string got;
  int rc = -1;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    c.send(std::string("\x16\x03\x01", 3));  // the first bytes of a ClientHello, then nothing
    rc = c.recv_to_eof(got);                 // 4 s receive timeout: EAGAIN if never dropped
  });
  CHECK((rc == 0 || rc == ECONNRESET));
  CHECK(got.find("never seen") == std::string::npos);
  CHECK(h.rec.timeouts == std::vector<core::Timeout>{core::Timeout::kHandshake});
}

TEST_CASE("a failed TLS handshake closes the connection") {
  Harness h;
  h.implicit_tls = test_cert().context;
  h.greeting = "+OK secret greeting\r\n";
  std::string got;
  int rc = -1;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    c.send("USER alice\r\n");
    rc = c.recv_to_eof(got);
  });
  CHECK((rc == 0 || rc == ECONNRESET));
  CHECK(got.find("secret greeting") == std::string::npos);
  CHECK(h.rec.lines.empty());
  CHECK(h.rec.closes == 1);
}

// ------------------------------------------------------------------ output batching

namespace {

// "MANY": 100 numbered replies from one callback; "COUNT": records sends so far, answers "n".
void many_replies(Harness& h, core::Connection& conn, std::string_view line) {
  if (line == "MANY") {
    h.rec.sends.push_back(conn.sends_issued());
    for (int i = 0; i < 100; ++i) conn.write("reply " + std::to_string(i) + "\r\n");
    h.rec.queued.push_back(conn.queued_bytes());
    h.rec.sends.push_back(conn.sends_issued());
  } else if (line == "COUNT") {
    h.rec.sends.push_back(conn.sends_issued());
    conn.write("n\r\n");
  } else if (line == "QUIT") {
    conn.close();
  }
}

std::string many_expected() {
  std::string out;
  for (int i = 0; i < 100; ++i) out += "reply " + std::to_string(i) + "\r\n";
  return out;
}

}  // namespace

TEST_CASE("replies written in one callback leave in one send, in order") {
  Harness h;
  h.on_line = many_replies;
  std::string got;
  bool counted = false;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    c.send("MANY\r\n");
    if (!c.recv_until(got, "reply 99\r\n")) return;
    c.send("COUNT\r\n");
    counted = c.recv_until(got, "n\r\n");
    c.send("QUIT\r\n");
    std::string rest;
    c.recv_to_eof(rest);
  });
  CHECK(counted);
  CHECK(got == many_expected() + "n\r\n");
  REQUIRE(h.rec.sends.size() == 3);
  CHECK(h.rec.sends[1] == h.rec.sends[0]);      // held while the callback runs ...
  CHECK(h.rec.queued[0] == many_expected().size());
  CHECK(h.rec.sends[2] == h.rec.sends[0] + 1);  // ... then one send for all 100
}

TEST_CASE("under TLS, replies written in one callback leave in one send") {
  Harness h;
  h.implicit_tls = test_cert().context;
  h.on_line = many_replies;
  std::string got;
  bool handshake = false, counted = false;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    SocketTlsClient tls;
    handshake = tls.handshake(c.fd);
    if (!handshake) return;
    tls.write("MANY\r\n");
    if (!tls.read_until(got, "reply 99\r\n")) return;
    tls.write("COUNT\r\n");
    counted = tls.read_until(got, "n\r\n");
    SSL_shutdown(tls.ssl.get());
  });
  CHECK(handshake);
  CHECK(counted);
  CHECK(got == many_expected() + "n\r\n");
  REQUIRE(h.rec.sends.size() == 3);
  CHECK(h.rec.sends[2] == h.rec.sends[0] + 1);
}

TEST_CASE("while input is paused a command's output is held, then sent in one piece on resume") {
  Harness h;
  h.on_line = [](Harness& hh, core::Connection& conn, std::string_view line) {
    if (line == "COUNT") {
      hh.rec.sends.push_back(conn.sends_issued());
      conn.write("n\r\n");
      return;
    }
    if (line != "RETR") return;
    hh.rec.sends.push_back(conn.sends_issued());
    conn.write("+OK 6 octets\r\n");  // as POP3 RETR: the status line, then the body from a worker
    conn.pause_input();
    core::ConnectionId id = conn.id();
    hh.extra_timer->start(30, 0, [&hh, id] {
      core::Connection* c = hh.find(id);
      if (c == nullptr) return;
      hh.rec.sends.push_back(c->sends_issued());  // nothing sent while the command ran
      c->write("body\r\n");
      c->write(".\r\n");
      c->resume_input();
    });
  };
  std::string got;
  bool counted = false;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    c.send("RETR\r\n");
    if (!c.recv_until(got, ".\r\n")) return;
    c.send("COUNT\r\n");
    counted = c.recv_until(got, "n\r\n");
  });
  CHECK(counted);
  CHECK(got == "+OK 6 octets\r\nbody\r\n.\r\nn\r\n");
  REQUIRE(h.rec.sends.size() == 3);
  CHECK(h.rec.sends[1] == h.rec.sends[0]);
  CHECK(h.rec.sends[2] == h.rec.sends[0] + 1);
}

TEST_CASE("output written from a timer is sent without waiting for other activity") {
  Harness h;
  Clock::time_point written{};
  h.on_line = [&written](Harness& hh, core::Connection& conn, std::string_view line) {
    if (line != "LATER") return;
    core::ConnectionId id = conn.id();
    hh.extra_timer->start(30, 0, [&hh, &written, id] {
      if (core::Connection* c = hh.find(id)) {
        written = Clock::now();
        c->write("late\r\n");
      }
    });
  };
  std::string got;
  bool received = false;
  Clock::time_point arrived{};
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    c.send("LATER\r\n");
    received = c.recv_until(got, "late\r\n");  // nothing else happens on this connection
    arrived = Clock::now();
  });
  CHECK(received);
  CHECK(got == "late\r\n");
  CHECK(ms_between(written, arrived) < 500);
}

TEST_CASE("small writes held for batching are not over the high-water mark; a large one goes at once") {
  Harness h;
  h.limits.output_high_water = 1000;
  static const std::string large = pattern(5000);
  h.on_line = [](Harness& hh, core::Connection& conn, std::string_view line) {
    if (line == "SMALL") {
      uint64_t before = conn.sends_issued();
      conn.write(std::string(600, 's'));
      conn.write("\r\n");
      hh.rec.over_high_water = conn.over_high_water();
      hh.rec.queued.push_back(conn.queued_bytes());
      hh.rec.sends.push_back(conn.sends_issued() - before);
    } else if (line == "LARGE") {
      uint64_t before = conn.sends_issued();
      conn.write(large);
      hh.rec.queued.push_back(conn.queued_bytes());
      hh.rec.sends.push_back(conn.sends_issued() - before);
      conn.write("\r\n");
    }
  };
  std::string got;
  bool received = false;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    c.send("SMALL\r\n");
    if (!c.recv_until(got, "\r\n")) return;
    c.send("LARGE\r\n");
    received = c.recv_until(got, large + "\r\n");
  });
  CHECK(received);
  CHECK(got == std::string(600, 's') + "\r\n" + large + "\r\n");
  CHECK_FALSE(h.rec.over_high_water);
  REQUIRE(h.rec.queued.size() == 2);
  CHECK(h.rec.queued[0] == 602);
  CHECK(h.rec.sends[0] == 0);  // held for the idle phase
  CHECK(h.rec.queued[1] == 0);  // 5,000 bytes: sent within write(), the socket took them all
  CHECK(h.rec.sends[1] == 1);
  CHECK(h.rec.drains == 0);
}

TEST_CASE("abort() right after a write still sends what the socket takes at once") {
  Harness h;
  h.on_line = [](Harness&, core::Connection& conn, std::string_view line) {
    if (line != "DIE") return;
    conn.write("last words\r\n");
    conn.abort();
  };
  std::string got;
  int rc = -1;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    c.send("DIE\r\n");
    rc = c.recv_to_eof(got);
  });
  CHECK(rc == 0);
  CHECK(got == "last words\r\n");
  CHECK(h.rec.closes == 1);
}


// ------------------------------------------------------------------ unix-domain sockets

TEST_CASE("a unix-domain socket client exchanges lines; its peer is 'local', its local address the path") {
  mailroom::testing::TempDir dir("unix-conn");
  Harness h;
  h.unix_path = dir.sub("test.sock");
  h.greeting = "+OK hello\r\n";
  std::string reply;
  bool connected = false, got_all = false;
  h.run([&](int) {
    ClientSocket c(h.unix_path);
    connected = c.ok();
    if (!connected) return;
    if (!c.recv_until(reply, "hello\r\n")) return;
    c.send("A\r\nB\n");
    got_all = c.recv_until(reply, "got:B\r\n");
  });
  REQUIRE(connected);
  CHECK(got_all);
  CHECK(reply == "+OK hello\r\ngot:A\r\ngot:B\r\n");
  CHECK(h.rec.lines == std::vector<std::string>{"A", "B"});
  CHECK(h.rec.is_unix);
  CHECK(h.rec.local_client);
  CHECK(h.rec.peer_ip == core::Connection::kUnixPeer);
  CHECK(h.rec.local_ip == h.unix_path);
  CHECK(h.rec.local_port == 0);
  CHECK(h.rec.closes == 1);
  // The listener is gone with the harness's loop: its file with it.
  CHECK_FALSE(std::filesystem::exists(h.unix_path));
}

TEST_CASE("over a unix-domain socket, a command that runs while the client hangs up sees peer_gone()") {
  mailroom::testing::TempDir dir("unix-gone");
  Harness h;
  h.unix_path = dir.sub("test.sock");
  bool gone_before = true, gone_after = false;
  h.on_line = [&](Harness& harness, core::Connection& conn, std::string_view) {
    conn.pause_input();  // a command runs: input is not read, EOF only shows to a peek
    gone_before = conn.peer_gone();
    harness.extra_timer->start(200, 0, [&conn, &gone_after] {
      gone_after = conn.peer_gone();
      conn.close();
    });
  };
  h.run([&](int) {
    ClientSocket c(h.unix_path);
    if (!c.ok()) return;
    c.send("WAIT\r\n");
    std::this_thread::sleep_for(50ms);
    ::close(c.fd);
    c.fd = -1;
  });
  CHECK(h.rec.lines == std::vector<std::string>{"WAIT"});
  CHECK_FALSE(gone_before);
  CHECK(gone_after);
}

TEST_CASE("STLS over a unix-domain socket: TLS runs above the socket as over TCP") {
  mailroom::testing::TempDir dir("unix-tls");
  check_stls_discards_pipelined_plaintext(dir.sub("test.sock"));
}

// ------------------------------------------------------------------ ended by the administrator

TEST_CASE("end() on an idle session sends the last line and closes at once") {
  Harness h;
  h.greeting = "+OK hi\r\n";
  h.on_line = [](Harness&, core::Connection& conn, std::string_view line) {
    conn.write("got:" + std::string(line) + "\r\n");
    conn.end("-ERR ended\r\n", 5000);
    conn.end("-ERR twice\r\n", 5000);  // once only
  };
  std::string got;
  int rc = -1;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    c.send("A\r\n");
    rc = c.recv_to_eof(got);
  });
  CHECK(rc == 0);
  CHECK(got == "+OK hi\r\ngot:A\r\n-ERR ended\r\n");
  CHECK(h.rec.closes == 1);
}

TEST_CASE("end() while a command runs waits for its reply; pipelined lines are not run; bytes are counted") {
  Harness h;
  uint64_t bytes_in = 0, bytes_out = 0;
  h.on_line = [&bytes_in, &bytes_out](Harness& hh, core::Connection& conn, std::string_view line) {
    if (line != "WORK") {
      conn.write("got:" + std::string(line) + "\r\n");
      return;
    }
    conn.pause_input();          // a worker job runs
    conn.end("bye\r\n", 5000);   // the administrator ends the session meanwhile
    CHECK(conn.ending());
    core::ConnectionId id = conn.id();
    hh.extra_timer->start(100, 0, [&hh, id, &bytes_in, &bytes_out] {
      core::Connection* c = hh.find(id);
      if (c == nullptr) return;
      c->write("done\r\n");  // the job's reply
      c->resume_input();
      bytes_in = c->bytes_in();
      bytes_out = c->bytes_out();
    });
  };
  std::string got;
  int rc = -1;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    c.send("FIRST\r\n");
    if (!c.recv_until(got, "got:FIRST\r\n")) return;
    c.send("WORK\r\nNEXT\r\n");
    rc = c.recv_to_eof(got);
  });
  CHECK(rc == 0);
  CHECK(got == "got:FIRST\r\ndone\r\nbye\r\n");
  CHECK(h.rec.lines == std::vector<std::string>{"FIRST", "WORK"});
  CHECK(bytes_in >= 13);  // FIRST and WORK at least
  CHECK(bytes_out == 11);  // "got:FIRST\r\n"; done and bye were still queued
}

TEST_CASE("end() drops a connection whose command outlives the grace period, without the last line") {
  Harness h;
  h.on_line = [](Harness&, core::Connection& conn, std::string_view) {
    conn.pause_input();  // a job that never finishes in time
    conn.end("bye\r\n", 100);
  };
  std::string got;
  long elapsed = -1;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    auto start = Clock::now();
    c.send("WORK\r\n");
    c.recv_to_eof(got);
    elapsed = ms_between(start, Clock::now());
  });
  CHECK(got.empty());
  CHECK(elapsed >= 90);
  CHECK(elapsed < 3000);
  CHECK(h.rec.closes == 1);
}

// ------------------------------------------------------------------ PROXY header

TEST_CASE("a PROXY header read in pieces names the peer; the line sent with it reaches the session") {
  Harness h;
  h.proxy_timeout_ms = 2000;
  std::string reply;
  bool got = false;
  h.run([&](int port) {
    ClientSocket c(port);
    if (!c.ok()) return;
    c.send("PROXY TCP4 192.0.");
    std::this_thread::sleep_for(30ms);
    c.send("2.7 127.0.0.1 50000 110\r\nA\r\n");  // the rest of the header and a line together
    got = c.recv_until(reply, "got:A\r\n");
  });
  CHECK(got);
  REQUIRE(h.proxy_verdicts.size() == 1);
  CHECK(h.proxy_verdicts[0].status == mailroom::net::ProxyParse::Status::kComplete);
  CHECK(h.rec.peer_ip == "192.0.2.7");
  CHECK_FALSE(h.rec.local_client);  // the named client is not on this host, the balancer is
  CHECK(h.via == "127.0.0.1");
  CHECK(h.rec.lines == std::vector<std::string>{"A"});
  CHECK(reply == "got:A\r\n");
}

TEST_CASE("no PROXY header, a bad one, or a late one: closed without a byte, the reason given") {
  struct Case {
    std::string sent;
    const char* reason;
  };
  for (const Case& k : {Case{"USER bob\r\n", "not a PROXY v1 or v2 signature"},
                        Case{"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", "destination port"},
                        Case{"PROXY TCP4 1.2", "no complete PROXY header within 300 ms (14 octets received)"}}) {
    Harness h;
    h.greeting = "hello\r\n";
    h.proxy_timeout_ms = 300;
    std::string reply;
    int rc = -2;
    Clock::time_point start, end;
    h.run([&](int port) {
      ClientSocket c(port);
      if (!c.ok()) return;
      start = Clock::now();
      c.send(k.sent);
      rc = c.recv_to_eof(reply);
      end = Clock::now();
    });
    INFO("sent: " << k.sent);
    CHECK(rc == 0);  // a clean close
    CHECK(reply.empty());
    CHECK(h.rec.opens == 0);
    REQUIRE(h.proxy_verdicts.size() == 1);
    CHECK(h.proxy_verdicts[0].status == mailroom::net::ProxyParse::Status::kInvalid);
    CHECK(h.proxy_verdicts[0].error.find(k.reason) != std::string::npos);
    if (k.sent.find("\r\n") == std::string::npos) CHECK(ms_between(start, end) >= 250);  // proxy_timeout
  }
}
