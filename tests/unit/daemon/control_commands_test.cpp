// The control socket's request handling without sockets: malformed and oversize requests,
// unknown commands and keys, argument checks, replies (one JSON object, "ok" first), and
// requests answered later (reload, service actions).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "daemon/control_commands.h"

namespace control = mailroom::daemon;
using control::Json;
using mailroom::ErrorCode;
using mailroom::Result;

namespace {

struct FakeTarget final : control::ControlTarget {
  std::vector<std::string> calls;
  std::vector<control::KillTarget> kills;
  control::ControlDone pending;  // a reload or service action not answered yet

  Json status() override {
    calls.push_back("status");
    return {{"pid", 42}, {"services", Json::object()}};
  }
  Result<Json> sessions(const std::string& service) override {
    calls.push_back("sessions:" + service);
    if (service == "nosuch") return mailroom::make_error(ErrorCode::kNotFound, "no service 'nosuch'");
    return Json{{"sessions", Json::array()}};
  }
  Result<Json> kill(const control::KillTarget& target) override {
    calls.push_back("kill");
    kills.push_back(target);
    return Json{{"sessions_ended", 1}};
  }
  void service(control::ServiceAction action, const std::string& name, control::ControlDone done) override {
    calls.push_back(std::string(action == control::ServiceAction::kStart  ? "start:"
                                : action == control::ServiceAction::kStop ? "stop:"
                                                                         : "restart:") +
                    name);
    pending = std::move(done);
  }
  void reload(control::ControlDone done) override {
    calls.push_back("reload");
    pending = std::move(done);
  }
};

// The reply to one request line, parsed; fails the test if there is none or it is not JSON.
Json ask(FakeTarget& target, std::string_view line) {
  std::vector<std::string> replies;
  control::handle_control_request(line, target, [&](std::string reply) { replies.push_back(std::move(reply)); });
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].find('\n') == std::string::npos);  // one line
  Json parsed = Json::parse(replies[0]);
  REQUIRE(parsed.is_object());
  CHECK(parsed.begin().key() == "ok");
  return parsed;
}

void check_error(const Json& reply, const char* code, const char* text) {
  CHECK(reply["ok"] == false);
  CHECK(reply["code"] == code);
  CHECK(reply["error"].get<std::string>().find(text) != std::string::npos);
}

}  // namespace

TEST_CASE("status: the target's report behind ok:true") {
  FakeTarget t;
  Json r = ask(t, R"({"command":"status"})");
  CHECK(r["ok"] == true);
  CHECK(r["pid"] == 42);
  CHECK(t.calls == std::vector<std::string>{"status"});
}

TEST_CASE("malformed requests are refused with invalid_argument and reach no command") {
  FakeTarget t;
  check_error(ask(t, "status"), "invalid_argument", "not a JSON object");
  check_error(ask(t, "{\"command\":\"status\""), "invalid_argument", "not a JSON object");
  check_error(ask(t, "[\"status\"]"), "invalid_argument", "not a JSON object");
  check_error(ask(t, "\"status\""), "invalid_argument", "not a JSON object");
  check_error(ask(t, ""), "invalid_argument", "not a JSON object");
  check_error(ask(t, "{}"), "invalid_argument", "missing key 'command'");
  check_error(ask(t, R"({"command":7})"), "invalid_argument", "'command' must be a string");
  check_error(ask(t, R"({"command":""})"), "invalid_argument", "'command' is empty");
  check_error(ask(t, "{\"command\":\"st\xff\"}"), "invalid_argument", "not a JSON object");  // not UTF-8
  CHECK(t.calls.empty());
}

TEST_CASE("an unknown command is not_found and names the known ones") {
  FakeTarget t;
  Json r = ask(t, R"({"command":"shutdown"})");
  check_error(r, "not_found", "unknown command 'shutdown'");
  CHECK(r["error"].get<std::string>().find("service-restart") != std::string::npos);
  CHECK(t.calls.empty());
}

TEST_CASE("an oversize request is refused before it is parsed") {
  FakeTarget t;
  std::string line = R"({"command":"status","pad":")" + std::string(control::kMaxControlRequest, 'x') + "\"}";
  check_error(ask(t, line), "invalid_argument", "request longer than 4096 bytes");
  CHECK(t.calls.empty());
  Json too_long = Json::parse(control::control_request_too_long());
  CHECK(too_long["ok"] == false);
}

TEST_CASE("keys a command does not take are refused (a typo never acts on everything)") {
  FakeTarget t;
  check_error(ask(t, R"({"command":"status","verbose":true})"), "invalid_argument", "takes no key 'verbose'");
  check_error(ask(t, R"({"command":"sessions","servce":"pop3"})"), "invalid_argument", "takes no key 'servce'");
  check_error(ask(t, R"({"command":"kill","mailbox":"a@b.test"})"), "invalid_argument", "takes no key 'mailbox'");
  CHECK(t.calls.empty());
}

TEST_CASE("sessions: every service, or one; the target's errors keep their code") {
  FakeTarget t;
  CHECK(ask(t, R"({"command":"sessions"})")["sessions"].is_array());
  CHECK(ask(t, R"({"command":"sessions","service":"pop3"})")["ok"] == true);
  check_error(ask(t, R"({"command":"sessions","service":"nosuch"})"), "not_found", "nosuch");
  check_error(ask(t, R"({"command":"sessions","service":3})"), "invalid_argument", "must be a string");
  CHECK(t.calls == std::vector<std::string>{"sessions:", "sessions:pop3", "sessions:nosuch"});
}

TEST_CASE("kill takes exactly one of id, address, ip") {
  FakeTarget t;
  CHECK(ask(t, R"({"command":"kill","id":17})")["sessions_ended"] == 1);
  CHECK(ask(t, R"({"command":"kill","address":"alice@example.test"})")["ok"] == true);
  CHECK(ask(t, R"({"command":"kill","ip":"127.0.0.1"})")["ok"] == true);
  REQUIRE(t.kills.size() == 3);
  CHECK(t.kills[0].id == 17u);
  CHECK(t.kills[1].address == "alice@example.test");
  CHECK(t.kills[2].ip == "127.0.0.1");
  check_error(ask(t, R"({"command":"kill"})"), "invalid_argument", "exactly one of");
  check_error(ask(t, R"({"command":"kill","id":1,"ip":"127.0.0.1"})"), "invalid_argument", "exactly one of");
  check_error(ask(t, R"({"command":"kill","id":-1})"), "invalid_argument", "positive number");
  check_error(ask(t, R"({"command":"kill","id":"1"})"), "invalid_argument", "positive number");
  CHECK(t.kills.size() == 3);
}

TEST_CASE("service actions and reload answer when the target finishes, exactly once") {
  FakeTarget t;
  std::vector<std::string> replies;
  auto collect = [&](std::string reply) { replies.push_back(std::move(reply)); };
  control::handle_control_request(R"({"command":"service-stop","service":"pop3"})", t, collect);
  CHECK(replies.empty());
  REQUIRE(t.pending);
  t.pending(Json{{"service", "pop3"}, {"enabled", false}});
  REQUIRE(replies.size() == 1);
  Json stopped = Json::parse(replies[0]);
  CHECK(stopped["ok"] == true);
  CHECK(stopped["enabled"] == false);

  control::handle_control_request(R"({"command":"service-start","service":"pop3"})", t, collect);
  t.pending(mailroom::make_error(ErrorCode::kIo, "service pop3 is started, but 1 bind failed"));
  REQUIRE(replies.size() == 2);
  check_error(Json::parse(replies[1]), "io", "1 bind failed");

  control::handle_control_request(R"({"command":"reload"})", t, collect);
  t.pending(Json::object());
  REQUIRE(replies.size() == 3);
  CHECK(Json::parse(replies[2]) == Json{{"ok", true}});
  CHECK(t.calls == std::vector<std::string>{"stop:pop3", "start:pop3", "reload"});

  check_error(ask(t, R"({"command":"service-restart"})"), "invalid_argument", "missing key 'service'");
  check_error(ask(t, R"({"command":"service-restart","service":""})"), "invalid_argument", "is empty");
}

TEST_CASE("error replies carry the code's name, and the name maps back to the code") {
  Json r = Json::parse(control::control_error(mailroom::make_error(ErrorCode::kUnavailable, "x")));
  CHECK(r["code"] == "unavailable");
  for (ErrorCode code : {ErrorCode::kNotFound, ErrorCode::kInvalidArgument, ErrorCode::kIo, ErrorCode::kUnavailable}) {
    CHECK(mailroom::error_code_from_name(mailroom::error_code_name(code)) == code);
  }
  CHECK_FALSE(mailroom::error_code_from_name("no_such_code").has_value());
}
