// The core's seams, proved by a second protocol that is not POP3: a small SMTP-like module run by
// a real core::Service over loopback sockets. It has its own greeting, strict line framing,
// its own line limit for one state, and a dot-terminated body. Checked: body lines never count
// as over-long commands (no auto-deny for message data) while an over-long command line does;
// a reload changes the service default but not a limit or idle timeout the session set for its
// state; a session that throws loses its connection and the service serves the next client.
#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/config/network_settings.h"
#include "core/loop/event_loop.h"
#include "core/loop/loop_pool.h"
#include "core/module/module_catalog.h"
#include "core/module/module_descriptor.h"
#include "core/module/service.h"
#include "core/net/connection.h"
#include "tests/unit/support/loopback_client.h"

namespace core = mailroom::core;
namespace config = mailroom::config;
using mailroom::test::ClientSocket;

namespace {

// "Seam" protocol: 220 greeting; DATA -> 354, a body (lines up to 100 octets, 1000 in all),
// then "250 lines=N octets=O long=L over=0|1 bare=B"; WIDE -> lines up to 4000 octets for this
// session; THROW -> the session throws; QUIT -> 221 and close; a bare line ending -> 501;
// anything else is echoed "250 <line>".
class SeamSession : public core::ProtocolSession {
 public:
  SeamSession(core::Connection& conn, core::ClientPolicy& policy, std::string greeting)
      : conn_(conn), policy_(policy), greeting_(std::move(greeting)) {}

  void on_open() override {
    conn_.set_line_mode({0, core::LineFraming::kStrict});
    conn_.write("220 " + greeting_ + "\r\n");
  }
  void on_line(std::string_view line, core::LineEnding ending) override {
    if (ending != core::LineEnding::kCrlf) {
      conn_.write("501 bare line ending\r\n");
    } else if (line == "DATA") {
      body_lines_ = 0;
      conn_.write("354 go ahead\r\n");
      core::BodyMode body;
      body.max_line = 100;
      body.max_size = 1000;
      conn_.begin_body(body);
    } else if (line == "WIDE") {
      conn_.set_line_mode({4000, core::LineFraming::kStrict});
      conn_.write("250 wide lines\r\n");
    } else if (line == "SLOW") {  // a state with its own idle timeout
      conn_.set_idle_timeout(150);
      conn_.write("250 idle timeout 150 ms\r\n");
    } else if (line == "THROW") {
      throw std::runtime_error("the seam session fails on purpose");
    } else if (line == "QUIT") {
      conn_.write("221 bye\r\n");
      conn_.close();
    } else {
      conn_.write("250 " + std::string(line.substr(0, 40)) + "\r\n");
    }
  }
  void on_line_too_long() override {
    if (policy_.command_too_long(conn_)) {
      conn_.write("421 denied\r\n");
      conn_.close();
      return;
    }
    conn_.write("500 line too long\r\n");
  }
  std::string on_timeout(core::Timeout which) override { return which == core::Timeout::kIdle ? "421 idle\r\n" : ""; }
  void on_body_line(std::string_view, core::LineEnding) override { ++body_lines_; }
  void on_body_end(const core::BodySummary& s) override {
    conn_.write("250 lines=" + std::to_string(body_lines_) + " octets=" + std::to_string(s.octets) +
                " long=" + std::to_string(s.long_lines) + " over=" + (s.over_size ? "1" : "0") +
                " bare=" + std::to_string(s.bare_endings) + "\r\n");
  }

 private:
  core::Connection& conn_;
  core::ClientPolicy& policy_;
  std::string greeting_;
  int body_lines_ = 0;
};

class SeamModule : public core::Module {
 public:
  std::unique_ptr<core::ProtocolSession> create_session(core::Connection& connection,
                                                        const core::ServiceContext& context) override {
    return std::make_unique<SeamSession>(connection, *context.policy, context.settings->get_string("greeting"));
  }
};

// All the seam module declares: the core adds the network and TLS settings to its catalog.
core::ModuleDescriptor seam_descriptor() {
  core::ModuleDescriptor d;
  d.name = "seam";
  d.port = 2525;
  d.tls_port = 4650;
  d.core_defaults = {{"max_command_length", "64", ""}, {"idle_timeout", "300", ""}};
  d.settings = {config::string_setting("greeting", "seam ready", 200, "The greeting text.")};
  d.replies.busy = "421 busy\r\n";
  d.replies.idle_timeout = "421 idle\r\n";
  d.default_services = {"seam"};
  d.make = [](const core::ModuleStores&) { return std::make_unique<SeamModule>(); };
  return d;
}

// A Service of the seam module on a free loopback port, its loop on this thread and one client
// thread; ends when the client is done (or a watchdog fires).
struct SeamRun {
  core::EventLoop loop;
  core::WorkQueue work{loop};
  core::ModuleDescriptor descriptor = seam_descriptor();
  config::SettingsCatalog catalog = core::compose_settings_catalog(descriptor);
  SeamModule module;
  std::size_t loops = 1;                 // > 1: the service runs on a LoopPool of that many loops
  std::unique_ptr<core::LoopPool> pool;  // outlives `service`
  std::unique_ptr<core::Service> service;
  int port = 0;
  bool timed_out = false;

  std::shared_ptr<const config::ServiceSettings> settings(std::map<std::string, std::string> values) {
    values["binds"] = "127.0.0.1";
    values["port"] = std::to_string(port);
    auto built = config::ServiceSettings::build(catalog, values);
    REQUIRE(built.ok());
    return std::make_shared<const config::ServiceSettings>(std::move(built).value());
  }

  void apply(std::map<std::string, std::string> values) {
    auto s = settings(std::move(values));
    service->apply(s, true, nullptr, core::plan_binds(config::network_settings_from(*s), ""));
  }

  // `client` runs on its own thread; it may ask for a reload through `reload` (run on the loop).
  void run(std::map<std::string, std::string> values,
           std::function<void(int port, std::function<void(std::map<std::string, std::string>)> reload)> client) {
    if (loops > 1) {
      pool = std::make_unique<core::LoopPool>(loop, work);
      pool->start(loops);
      service = std::make_unique<core::Service>(*pool, "seam", descriptor, module);
    } else {
      service = std::make_unique<core::Service>(loop, work, "seam", descriptor, module);
    }
    bool listening = false;
    for (int attempt = 0; attempt < 5 && !listening; ++attempt) {
      port = mailroom::test::pick_free_port();
      apply(values);
      auto status = service->bind_status();
      listening = !status.empty() && status.front().listening;
    }
    REQUIRE(listening);
    std::atomic<bool> done{false};
    // A reload the client asks for: it writes the values, bumps `wanted` and waits for `done`.
    std::atomic<int> reloads_wanted{0}, reloads_done{0};
    std::map<std::string, std::string> reload_values;
    core::Timer ticker(loop), watchdog(loop);
    auto stop = [&] {
      ticker.close();
      watchdog.close();
      service->stop();
      loop.stop();
    };
    watchdog.start(15000, 0, [&] {
      timed_out = true;
      stop();
    });
    ticker.start(5, 5, [&] {
      if (reloads_done.load() < reloads_wanted.load()) {
        apply(reload_values);
        ++reloads_done;
      }
      if (done) stop();
    });
    std::thread thread([&] {
      client(port, [&](std::map<std::string, std::string> v) {
        reload_values = std::move(v);
        const int want = ++reloads_wanted;
        for (int i = 0; i < 400 && reloads_done.load() < want; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      });
      done = true;
    });
    loop.run();
    thread.join();
    service.reset();
    if (pool) pool->stop();
    CHECK_FALSE(timed_out);
  }
};

// Sends `line` and reads one reply line.
std::string ask(ClientSocket& c, const std::string& line) {
  std::string reply;
  if (!c.send(line) || !c.recv_until(reply, "\r\n")) return "<no reply>";
  return reply;
}

std::string greeting(ClientSocket& c) {
  std::string reply;
  return c.recv_until(reply, "\r\n") ? reply : "<no greeting>";
}

}  // namespace

TEST_CASE("seam module: own greeting, strict framing, a body that is data not commands") {
  SeamRun run;
  run.run({{"auto_deny", "on"}, {"greeting", "seam module here"}},  // max_command_length: its own 64
          [](int port, auto) {
            ClientSocket c(port);
            REQUIRE(c.ok());
            CHECK(greeting(c) == "220 seam module here\r\n");
            CHECK(ask(c, "HELLO\r\n") == "250 HELLO\r\n");
            CHECK(ask(c, "HELLO\n") == "501 bare line ending\r\n");
            CHECK(ask(c, "DATA\r\n") == "354 go ahead\r\n");
            // A 300-octet body line (over the body's 100) and a bare-LF dot: data, no auto-deny.
            std::string body = "Subject: seam\r\n" + std::string(300, 'x') + "\r\n.\n..stuffed\r\n.\r\n";
            CHECK(ask(c, body) == "250 lines=3 octets=330 long=1 over=0 bare=1\r\n");
            // Over the body's size cap: read to its end, nothing more reported.
            CHECK(ask(c, "DATA\r\n") == "354 go ahead\r\n");
            std::string big;
            for (int i = 0; i < 30; ++i) big += std::string(60, 'y') + "\r\n";
            CHECK(ask(c, big + ".\r\n") == "250 lines=16 octets=1860 long=0 over=1 bare=0\r\n");
            CHECK(ask(c, "STILL HERE\r\n") == "250 STILL HERE\r\n");
            // An over-long command line is auto-deny material.
            CHECK(ask(c, std::string(100, 'z') + "\r\n") == "421 denied\r\n");
            ClientSocket again(port);
            std::string nothing;
            CHECK_FALSE(again.recv_until(nothing, "\r\n"));  // denied: no greeting
            CHECK(nothing.empty());
          });
}

TEST_CASE("seam module: a reload changes the service's line limit, not the one a session set") {
  SeamRun run;
  run.run({{"max_command_length", "64"}, {"auto_deny", "off"}}, [](int port, auto reload) {
    ClientSocket wide(port), plain(port);
    REQUIRE(wide.ok());
    REQUIRE(plain.ok());
    greeting(wide);
    greeting(plain);
    const std::string line200 = std::string(200, 'w') + "\r\n";
    CHECK(ask(plain, line200) == "500 line too long\r\n");
    CHECK(ask(wide, "WIDE\r\n") == "250 wide lines\r\n");
    CHECK(ask(wide, line200).rfind("250 www", 0) == 0);
    reload({{"max_command_length", "128"}, {"auto_deny", "off"}});
    CHECK(ask(wide, std::string(1000, 'v') + "\r\n").rfind("250 vvv", 0) == 0);  // kept its 4000
    CHECK(ask(plain, std::string(100, 'p') + "\r\n").rfind("250 ppp", 0) == 0);   // now 128
    CHECK(ask(plain, line200) == "500 line too long\r\n");
    // A session's own idle timeout (the service's is 300 s) also outlives a reload.
    CHECK(ask(plain, "SLOW\r\n") == "250 idle timeout 150 ms\r\n");
    reload({{"max_command_length", "128"}, {"auto_deny", "off"}, {"idle_timeout", "200"}});
    std::string last;
    CHECK(plain.recv_to_eof(last) == 0);
    CHECK(last == "421 idle\r\n");
  });
}

TEST_CASE("seam module: a session that throws loses its connection; the service serves on") {
  SeamRun run;
  run.run({}, [](int port, auto) {
    {
      ClientSocket c(port);
      REQUIRE(c.ok());
      greeting(c);
      CHECK(c.send("THROW\r\n"));
      std::string rest;
      CHECK(c.recv_to_eof(rest) == 0);  // closed at once (not left hanging until a timeout)
      CHECK(rest.empty());
    }
    ClientSocket next(port);
    REQUIRE(next.ok());
    CHECK(greeting(next) == "220 seam ready\r\n");
    CHECK(ask(next, "QUIT\r\n") == "221 bye\r\n");
  });
}

TEST_CASE("seam module on two loops: sessions alternate, an auto-deny on loop 1 refuses at accept") {
  SeamRun run;
  run.loops = 2;
  run.run({{"auto_deny", "on"}, {"greeting", "two loops"}}, [&](int port, auto) {
    ClientSocket a(port);
    REQUIRE(a.ok());
    CHECK(greeting(a) == "220 two loops\r\n");
    ClientSocket b(port);
    REQUIRE(b.ok());
    CHECK(greeting(b) == "220 two loops\r\n");
    CHECK(ask(a, "HELLO\r\n") == "250 HELLO\r\n");
    CHECK(ask(b, "HELLO\r\n") == "250 HELLO\r\n");
    auto loads = run.pool->loads();
    REQUIRE(loads.size() == 2);
    CHECK(loads[0].open == 1);  // a
    CHECK(loads[1].open == 1);  // b
    // b (loop 1) sends an over-long line: the deny it places refuses the next accept (main loop).
    CHECK(ask(b, std::string(100, 'z') + "\r\n") == "421 denied\r\n");
    ClientSocket again(port);
    std::string nothing;
    CHECK_FALSE(again.recv_until(nothing, "\r\n"));
    CHECK(nothing.empty());
    CHECK(ask(a, "STILL HERE\r\n") == "250 STILL HERE\r\n");  // open sessions go on
  });
}
