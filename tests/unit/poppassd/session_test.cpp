// Tests for the poppassd session state machine, as C:/S: transcripts with canned effect results.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "modules/poppassd/poppassd_settings.h"
#include "modules/poppassd/session.h"

using namespace mailroom;
using namespace mailroom::poppassd;

namespace {

SessionConfig allowed() {
  SessionConfig c;
  c.hostname = "mx.example.test";
  c.changes_allowed = true;
  return c;
}

// Drives a Session and answers its effects, so a transcript reads like the wire.
struct Harness {
  explicit Harness(SessionConfig config = allowed()) : session(std::move(config)) {}

  Session session;
  auth::LoginOutcome login_outcome = auth::LoginOutcome::kOk;
  ChangeResult change_result{ChangeResult::Outcome::kChanged, ""};
  std::vector<Authenticate> auths;
  std::vector<RejectLogin> rejects;
  std::vector<ChangePassword> changes;
  bool closed = false;

  std::string perform(Step step) {
    std::string out = step.reply;
    if (auto* a = std::get_if<Authenticate>(&step.effect)) {
      auths.push_back(*a);
      out += session.on_login_result(login_outcome).reply;
    } else if (auto* r = std::get_if<RejectLogin>(&step.effect)) {
      rejects.push_back(*r);
      out += session.on_login_result(auth::LoginOutcome::kAuthFailed).reply;
    } else if (auto* c = std::get_if<ChangePassword>(&step.effect)) {
      changes.push_back(*c);
      Step next = session.on_change_result(change_result);
      closed = closed || std::holds_alternative<Close>(next.effect);
      out += next.reply;
    } else if (std::holds_alternative<Close>(step.effect)) {
      closed = true;
    }
    return out;
  }
  std::string line(const std::string& l) { return perform(session.on_line(l)); }
  // USER and PASS accepted: NEWPASS is next.
  void logged_in() {
    line("USER alice@example.test");
    line("PASS old-password");
  }
};

}  // namespace

TEST_CASE("the Eudora exchange: USER, PASS, NEWPASS, QUIT") {
  Harness h;
  CHECK(h.session.greeting().reply == "200 mx.example.test poppassd ready\r\n");
  CHECK(h.line("user alice@example.test") == "200 Your password please.\r\n");
  CHECK(h.line("pass old secret") == "200 Your new password please.\r\n");
  REQUIRE(h.auths.size() == 1);
  CHECK(h.auths[0].address.str() == "alice@example.test");
  CHECK(h.auths[0].password == "old secret");  // spaces belong to the password
  CHECK(h.session.user() == "alice@example.test");
  CHECK(h.line("newpass New Secret 9") == "200 Password changed, thank-you.\r\n");
  REQUIRE(h.changes.size() == 1);
  CHECK(h.changes[0].old_password == "old secret");
  CHECK(h.changes[0].new_password == "New Secret 9");
  CHECK(h.session.state() == State::kDone);
  CHECK(h.line("QUIT") == "200 Bye.\r\n");
  CHECK(h.closed);
}

TEST_CASE("a wrong old password: 500, back to USER") {
  Harness h;
  h.login_outcome = auth::LoginOutcome::kAuthFailed;
  h.line("USER alice@example.test");
  CHECK(h.line("PASS wrong") == "500 Old password is incorrect.\r\n");
  CHECK(h.session.state() == State::kUser);
  CHECK(h.line("NEWPASS whatever1") == "500 Command out of sequence.\r\n");
  h.login_outcome = auth::LoginOutcome::kTemporary;
  h.line("USER alice@example.test");
  CHECK(h.line("PASS right") == "500 Server error, try again later.\r\n");
}

TEST_CASE("a user name that is no address is refused like a wrong password, and counted") {
  Harness h;
  h.line("USER no-at-sign");
  CHECK(h.line("PASS x") == "500 Old password is incorrect.\r\n");
  REQUIRE(h.rejects.size() == 1);
  CHECK(h.rejects[0].user == "no-at-sign");
  CHECK(h.auths.empty());
}

TEST_CASE("a policy refusal is a 500 with the reason; another NEWPASS may follow") {
  Harness h;
  h.logged_in();
  h.change_result = {ChangeResult::Outcome::kRefused, "The new password is too short: at least 8 characters."};
  CHECK(h.line("NEWPASS short") == "500 The new password is too short: at least 8 characters.\r\n");
  CHECK(h.session.state() == State::kNewPass);
  h.change_result = {ChangeResult::Outcome::kFailed, "disk I/O error"};
  CHECK(h.line("NEWPASS long-enough-1") == "500 Server error, password not changed.\r\n");
  h.change_result = {ChangeResult::Outcome::kChanged, ""};
  CHECK(h.line("NEWPASS long-enough-1") == "200 Password changed, thank-you.\r\n");
}

TEST_CASE("allow_password_change off: USER is refused, no password is ever checked") {
  SessionConfig c = allowed();
  c.changes_allowed = false;
  Harness h(c);
  CHECK(h.line("USER alice@example.test") == "500 Password changes are not allowed on this server.\r\n");
  CHECK(h.line("PASS secret") == "500 Command out of sequence.\r\n");
  CHECK(h.auths.empty());
}

TEST_CASE("tls_required_for_login: USER refused on a plain connection") {
  SessionConfig c = allowed();
  c.plaintext_login_allowed = false;
  Harness h(c);
  CHECK(h.line("USER alice@example.test") == "500 Password changes need an encrypted connection: use the TLS port.\r\n");
}

TEST_CASE("unknown and out-of-order commands count; max_bad_commands ends the session") {
  SessionConfig c = allowed();
  c.max_bad_commands = 3;
  Harness h(c);
  CHECK(h.line("HELO") == "500 Unknown command.\r\n");
  CHECK(h.line("PASS x") == "500 Command out of sequence.\r\n");
  CHECK_FALSE(h.closed);
  CHECK(h.line("NOOP") == "500 Unknown command. Too many errors, closing connection.\r\n");
  CHECK(h.closed);
}

TEST_CASE("empty arguments and long lines") {
  Harness h;
  CHECK(h.line("USER") == "500 Username required.\r\n");
  CHECK(h.session.on_line_too_long().reply == "500 Line too long.\r\n");
}

TEST_CASE("transcripts redact PASS and NEWPASS arguments") {
  Harness h;
  CHECK(h.session.loggable_line("USER alice@example.test") == "USER alice@example.test");
  CHECK(h.session.loggable_line("pass my secret") == "pass <redacted>");
  CHECK(h.session.loggable_line("NEWPASS new one") == "NEWPASS <redacted>");
}

TEST_CASE("reply text cannot break framing") {
  Harness h;
  h.logged_in();
  h.change_result = {ChangeResult::Outcome::kRefused, "bad\r\n200 fake"};
  CHECK(h.line("NEWPASS x") == "500 bad  200 fake\r\n");
}

TEST_CASE("the catalog: allow_password_change off, implicit TLS off, port 106") {
  const auto& catalog = poppassd_settings_catalog();
  CHECK(catalog.find("allow_password_change")->default_value == "off");
  CHECK(catalog.find("implicit_tls")->default_value == "off");
  CHECK(catalog.find("starttls")->default_value == "off");
  CHECK(catalog.find("port")->default_value == "106");
}
