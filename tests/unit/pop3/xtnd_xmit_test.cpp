// XTND XMIT in the pure POP3 session: CAPA, state rules, the message's lines (Bcc stripped), the
// From check, recipients, limits and the replies to each result. Transcripts without sockets.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "modules/pop3/session.h"

using namespace mailroom;
using namespace mailroom::pop3;

namespace {

SessionConfig xmit_config(bool on = true) {
  SessionConfig c;
  c.xtnd_xmit = on;
  c.max_message_size = 4096;
  c.xmit_max_line_length = 1000;
  c.xmit_max_header_size = 1024;
  return c;
}

// A session logged in as alice@example.test; send() performs PrepareXmit (ok) like the adapter.
struct Xmit {
  explicit Xmit(SessionConfig config = xmit_config()) : session(std::move(config)) {
    session.greeting();
    session.on_line("USER alice@example.test");
    Step s = session.on_line("PASS secret");
    REQUIRE(std::holds_alternative<Authenticate>(s.effect));
    session.on_login_result(LoginOutcome::kOk, std::vector<storage::MessageInfo>{});
  }
  Session session;
  std::vector<std::string> written;  // the lines the adapter would store

  // XTND XMIT, then the message's lines; returns the final step (SendXmit or an -ERR).
  Step send(const std::vector<std::string>& lines, core::BodySummary summary = {}) {
    Step start = session.on_line("XTND XMIT");
    REQUIRE(std::holds_alternative<PrepareXmit>(start.effect));
    CHECK(start.reply.empty());
    Step ready = session.on_xmit_ready(Status());
    CHECK(ready.reply.rfind("+OK ", 0) == 0);
    REQUIRE(std::holds_alternative<ReceiveXmit>(ready.effect));
    for (const auto& line : lines) {
      if (session.on_xmit_line(line)) written.push_back(line);
      summary.octets += line.size() + 2;
    }
    return session.on_xmit_end(summary);
  }
};

std::vector<std::string> rcpts(const Step& step) {
  std::vector<std::string> out;
  if (auto* send = std::get_if<SendXmit>(&step.effect)) {
    for (const auto& r : send->recipients) out.push_back(r.str());
  }
  return out;
}

}  // namespace

TEST_CASE("CAPA lists XTND XMIT exactly when xtnd_xmit is on") {
  Session on(xmit_config(true));
  CHECK(on.on_line("CAPA").reply.find("\r\nXTND XMIT\r\n") != std::string::npos);
  Session off(xmit_config(false));
  CHECK(off.on_line("CAPA").reply.find("XTND") == std::string::npos);
}

TEST_CASE("XTND XMIT: off is an unknown command; not in AUTHORIZATION; other subcommands refused") {
  Xmit off(xmit_config(false));
  CHECK(off.session.on_line("XTND XMIT").reply == "-ERR unknown command\r\n");
  Session fresh(xmit_config());
  CHECK(fresh.on_line("XTND XMIT").reply == "-ERR command not valid in this state\r\n");
  Xmit x;
  CHECK(x.session.on_line("XTND LIST").reply == "-ERR unknown XTND command\r\n");
  CHECK(x.session.on_line("XTND").reply == "-ERR unknown XTND command\r\n");
  CHECK(x.session.on_line("XTND XMIT now").reply == "-ERR XTND XMIT takes no arguments\r\n");
  CHECK(x.session.on_line("xtnd xmit").reply.empty());  // accepted: PrepareXmit
  CHECK(x.session.state() == State::kXmitPreparing);
  CHECK(std::string(state_name(x.session.state())) == "TRANSACTION");
}

TEST_CASE("spool not ready: -ERR [SYS/TEMP], back in TRANSACTION") {
  Xmit x;
  x.session.on_line("XTND XMIT");
  Step s = x.session.on_xmit_ready(make_error(ErrorCode::kIo, "disk full"));
  CHECK(s.reply == "-ERR [SYS/TEMP] cannot take a message now, try again later\r\n");
  CHECK(x.session.state() == State::kTransaction);
}

TEST_CASE("recipients from To, Cc and Bcc, deduplicated; Bcc not written; envelope sender is the user") {
  Xmit x;
  Step s = x.send({"From: Alice <Alice@Example.TEST>", "To: bob@example.test, Carol <carol@remote.example>",
                   "Cc: BOB@example.test, bob@EXAMPLE.test", "Bcc: dave@example.test,", "  erin@example.test",
                   "Subject: hello", "", "Bcc: this is body text", "bye"});
  CHECK(rcpts(s) == std::vector<std::string>{"bob@example.test", "carol@remote.example", "BOB@example.test",
                                             "dave@example.test", "erin@example.test"});
  auto* send = std::get_if<SendXmit>(&s.effect);
  REQUIRE(send);
  CHECK(send->sender.str() == "alice@example.test");
  CHECK(x.written == std::vector<std::string>{"From: Alice <Alice@Example.TEST>",
                                              "To: bob@example.test, Carol <carol@remote.example>",
                                              "Cc: BOB@example.test, bob@EXAMPLE.test", "Subject: hello", "",
                                              "Bcc: this is body text", "bye"});
  CHECK(x.session.state() == State::kXmitSending);
  CHECK(x.session.on_xmit_result(XmitResult{XmitOutcome::kSent, {}, 2, 1}).reply ==
        "+OK message sent, delivered to 2 mailboxes, queued for 1 remote recipient\r\n");
  CHECK(x.session.state() == State::kTransaction);
}

TEST_CASE("From must be the logged-in mailbox unless xtnd_xmit_any_sender") {
  Xmit x;
  CHECK(x.send({"From: mallory@example.test", "To: bob@example.test", "", "x"}).reply ==
        "-ERR From must be alice@example.test, not mallory@example.test\r\n");
  CHECK(x.session.state() == State::kTransaction);
  Step none = x.send({"To: bob@example.test", "", "x"});
  CHECK(none.reply == "-ERR the message needs one From address: alice@example.test\r\n");
  CHECK(std::holds_alternative<DiscardXmit>(none.effect));
  CHECK(x.send({"From: alice@example.test, bob@example.test", "To: bob@example.test", ""}).reply.rfind("-ERR", 0) == 0);
  SessionConfig any = xmit_config();
  any.xtnd_xmit_any_sender = true;
  Xmit y(any);
  Step s = y.send({"From: boss@elsewhere.example", "To: bob@example.test", "", "x"});
  REQUIRE(std::holds_alternative<SendXmit>(s.effect));
  CHECK(std::get<SendXmit>(s.effect).sender.str() == "alice@example.test");
}

TEST_CASE("no recipients, an unparsable address, over size, a long line, too many address octets") {
  Xmit x;
  CHECK(x.send({"From: alice@example.test", "To: undisclosed-recipients:;", "", "x"}).reply ==
        "-ERR no recipients: the message has no To, Cc or Bcc address\r\n");
  CHECK(x.send({"From: alice@example.test", "To: Bob <bob@example.test", ""}).reply ==
        "-ERR invalid address in to: missing '>' after bob@example.test\r\n");
  core::BodySummary big;
  big.over_size = true;
  CHECK(x.send({"From: alice@example.test", "To: bob@example.test", ""}, big).reply ==
        "-ERR [SYS/PERM] message too big: at most 4096 octets\r\n");
  core::BodySummary long_line;
  long_line.long_lines = 1;
  CHECK(x.send({"From: alice@example.test", "To: bob@example.test", ""}, long_line).reply ==
        "-ERR [SYS/PERM] message has a line longer than 1000 octets\r\n");
  std::vector<std::string> lines{"From: alice@example.test"};
  for (int i = 0; i < 40; ++i) lines.push_back("To: someone-with-a-long-name-" + std::to_string(i) + "@example.test");
  Step s = x.send(lines);
  CHECK(s.reply == "-ERR [SYS/PERM] address fields longer than 1024 octets\r\n");
  CHECK(std::holds_alternative<DiscardXmit>(s.effect));
}

TEST_CASE("each refusal of SendXmit is a clear -ERR") {
  Xmit x;
  auto result = [&](XmitResult r) {
    x.send({"From: alice@example.test", "To: bob@example.test", "", "x"});
    return x.session.on_xmit_result(r).reply;
  };
  CHECK(result({XmitOutcome::kUnknownRecipient, "nobody@example.test"}) ==
        "-ERR no such mailbox: nobody@example.test; nothing sent\r\n");
  CHECK(result({XmitOutcome::kDisabledRecipient, "off@example.test"}) ==
        "-ERR mailbox disabled: off@example.test; nothing sent\r\n");
  CHECK(result({XmitOutcome::kNoSmarthost, "x@remote.example"}) ==
        "-ERR remote recipient x@remote.example not allowed: no smarthost configured; nothing sent\r\n");
  CHECK(result({XmitOutcome::kOverQuota, "bob@example.test", 0, 0, "mailbox full: 10 of 10 messages"}) ==
        "-ERR bob@example.test: mailbox full: 10 of 10 messages; nothing sent\r\n");
  CHECK(result({XmitOutcome::kOverQuota, "bob@example.test", 0, 0,
                "message of 600 octets exceeds the mailbox quota: 500 of 1000 octets used"}) ==
        "-ERR bob@example.test: message of 600 octets exceeds the mailbox quota: 500 of 1000 octets used; nothing sent\r\n");
  CHECK(result({XmitOutcome::kTemporary, {}}) == "-ERR [SYS/TEMP] message not sent: temporary failure, try again later\r\n");
  CHECK(result({XmitOutcome::kSent, {}, 1, 0}) == "+OK message sent, delivered to 1 mailbox\r\n");
}
