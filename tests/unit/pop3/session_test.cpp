// Tests for the POP3 session state machine, as C:/S: transcripts against a fake maildrop.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "auth/sasl/base64.h"
#include "auth/sasl/cram_md5.h"
#include "auth/sasl/crypto.h"
#include "auth/sasl/scram.h"
#include "auth/secrets.h"
#include "modules/pop3/expiry.h"
#include "modules/pop3/session.h"

#include <openssl/evp.h>

using namespace mailroom;
using namespace mailroom::pop3;

namespace {

std::vector<storage::MessageInfo> three_messages() {
  return {{"uid-one", 120, "/m/1"}, {"uid-two", 250, "/m/2"}, {"uid-three", 1030, "/m/3"}};
}

// Drives a Session and performs its effects with canned results, so a transcript reads like the
// wire: the login reply follows PASS; RETR/TOP send the effect's +OK line as the adapter does once
// the message is open (no message body), or the session's -ERR for a message in `unreadable`.
struct Harness {
  explicit Harness(SessionConfig config = {}) : session(std::move(config)) {}

  Session session;
  LoginOutcome login_outcome = LoginOutcome::kOk;
  std::optional<AccountLimits> limits;  // given to the session before each login's result
  std::optional<CommitDeletions> last_commit;
  Status update_status;
  std::vector<Authenticate> auths;
  std::vector<RejectLogin> rejects;
  std::vector<FetchSecret> fetches;
  // Stored secrets by "address kind" (kind as secrets.h names it).
  std::map<std::string, std::string> secrets;
  std::vector<StreamMessage> streams;
  std::set<std::size_t> unreadable;  // indexes whose StreamMessage fails to open
  std::optional<std::vector<std::size_t>> committed;
  mailroom::storage::Listing released;  // what release_listing() handed over at QUIT
  bool closed = false;
  int tls_starts = 0;

  std::string send(std::string_view line) { return perform(session.on_line(line)); }

  std::string perform(Step step) {
    std::string wire = step.reply;
    if (auto* a = std::get_if<Authenticate>(&step.effect)) {
      CHECK(wire.empty());
      auths.push_back(*a);
      CHECK(session.state() == State::kAwaitingLogin);
      if (limits) session.set_account_limits(*limits);
      wire += perform(session.on_login_result(login_outcome, three_messages()));
    } else if (auto* r = std::get_if<RejectLogin>(&step.effect)) {
      CHECK(wire.empty());
      rejects.push_back(*r);
      CHECK(session.state() == State::kAwaitingLogin);
      wire += perform(session.on_login_result(LoginOutcome::kAuthFailed));
    } else if (auto* f = std::get_if<FetchSecret>(&step.effect)) {
      CHECK(wire.empty());
      fetches.push_back(*f);
      CHECK(session.state() == State::kAwaitingSecret);
      std::optional<auth::sasl::Secret> found;
      for (auto kind : f->accepted) {
        auto it = secrets.find(f->address.str() + " " + std::string(auth::secret_kind_name(kind)));
        if (it != secrets.end()) {
          found = auth::sasl::Secret{kind, it->second};
          break;
        }
      }
      wire += perform(session.on_secret(found));
    } else if (auto* s = std::get_if<StreamMessage>(&step.effect)) {
      CHECK(wire.empty());  // the +OK waits until the message is open
      streams.push_back(*s);
      CHECK(session.state() == State::kStreaming);
      if (unreadable.count(s->index) != 0) {
        wire += perform(session.on_stream_failed());
      } else {
        wire += s->ok_reply;
        session.on_stream_done();
      }
    } else if (auto* c = std::get_if<CommitDeletions>(&step.effect)) {
      CHECK(wire.empty());
      committed = c->indexes;
      last_commit = *c;
      CHECK(session.state() == State::kUpdate);
      // As the adapter does: the listing goes (to be freed on a worker) before the result.
      released = session.release_listing();
      CHECK(released != nullptr);
      CHECK(session.release_listing() == nullptr);
      wire += perform(session.on_update_result(update_status));
    } else if (std::holds_alternative<Close>(step.effect)) {
      closed = true;
    } else if (std::holds_alternative<StartTls>(step.effect)) {
      ++tls_starts;
      session.on_tls_started();
    }
    return wire;
  }

  // Lines "C: ..." are sent; the "S: ..." lines after one are the expected reply (CRLF-joined).
  void run(std::string_view transcript) {
    std::istringstream in{std::string(transcript)};
    std::string line, command, expected, actual;
    bool have_command = false;
    auto flush = [&] {
      if (!have_command) return;
      CAPTURE(command);
      CHECK(actual == expected);
      expected.clear();
      have_command = false;
    };
    while (std::getline(in, line)) {
      const std::size_t start = line.find_first_not_of(" \t");
      if (start == std::string::npos) continue;
      line = line.substr(start);
      if (line.rfind("C:", 0) == 0) {
        flush();
        command = line.size() > 3 ? line.substr(3) : "";
        actual = send(command);
        have_command = true;
      } else if (line.rfind("S:", 0) == 0) {
        expected += (line.size() > 3 ? line.substr(3) : "") + "\r\n";
      } else {
        FAIL("bad transcript line: " << line);
      }
    }
    flush();
  }

  void login() {
    run(R"(
      C: USER bob@example.com
      S: +OK send PASS
      C: PASS secret
      S: +OK maildrop has 3 messages (1400 octets)
    )");
    REQUIRE(session.state() == State::kTransaction);
  }
};

}  // namespace

TEST_CASE("greeting carries the banner and the APOP timestamp") {
  SessionConfig config;
  config.apop_timestamp = "<1234.5678@mail.example.com>";
  Session session(config);
  Step step = session.greeting();
  CHECK(step.reply == "+OK POP3 server ready <1234.5678@mail.example.com>\r\n");
  CHECK(std::holds_alternative<NoEffect>(step.effect));
  CHECK(session.state() == State::kAuthorization);
}

TEST_CASE("a huge banner is truncated so the greeting fits 512 octets and keeps the timestamp") {
  SessionConfig config;
  config.apop_timestamp = "<1.2@host>";
  config.banner = std::string(2000, 'b');
  Session session(config);
  const std::string reply = session.greeting().reply;
  CHECK(reply.size() == 512);
  CHECK(reply.rfind("+OK bbb", 0) == 0);
  CHECK(reply.substr(reply.size() - 13) == " <1.2@host>\r\n");
}

TEST_CASE("control bytes in the banner cannot break reply framing") {
  SessionConfig config;
  config.apop_timestamp = "<1.2@host>";
  config.banner = "evil\r\n+OK injected";
  Session session(config);
  CHECK(session.greeting().reply == "+OK evil  +OK injected <1.2@host>\r\n");
}

TEST_CASE("the longest banner and the longest APOP timestamp fill the 512-octet line, neither cut") {
  SessionConfig config;
  config.banner = std::string(kMaxBannerLength, 'b');
  config.apop_timestamp = "<" + std::string(kMaxApopTimestampLength - 2, 't') + ">";
  Session session(config);
  const std::string reply = session.greeting().reply;
  CHECK(reply == "+OK " + config.banner + " " + config.apop_timestamp + "\r\n");
  CHECK(reply.size() == 512);
}

TEST_CASE("the default banner names no product, and the sign-off follows the banner") {
  SessionConfig config;
  CHECK(config.banner == "POP3 server ready");
  config.apop_timestamp = "<1.2@host>";
  CHECK(Session(config).greeting().reply == "+OK POP3 server ready <1.2@host>\r\n");

  SessionConfig custom;
  custom.banner = "Acme mail service READY.";
  Harness h(custom);
  CHECK(h.session.greeting().reply == "+OK Acme mail service READY.\r\n");
  h.run(R"(
    C: QUIT
    S: +OK Acme mail service signing off
  )");

  custom.banner = "Welcome to Acme";  // no final "ready": the whole banner names the server
  Harness welcome(custom);
  welcome.login();
  welcome.run(R"(
    C: DELE 1
    S: +OK message 1 deleted
    C: DELE 2
    S: +OK message 2 deleted
    C: QUIT
    S: +OK Welcome to Acme signing off (1 message left)
  )");

  custom.banner = "already";  // "ready" only as a whole word
  Harness word(custom);
  word.run(R"(
    C: QUIT
    S: +OK already signing off
  )");

  custom.banner = "ready";
  Harness bare(custom);
  bare.run(R"(
    C: QUIT
    S: +OK signing off
  )");
}

TEST_CASE("one message is counted in the singular") {
  Harness h;
  h.login();
  h.run(R"(
    C: DELE 1
    S: +OK message 1 deleted
    C: DELE 2
    S: +OK message 2 deleted
    C: LIST
    S: +OK 1 message (1030 octets)
    S: 3 1030
    S: .
  )");
}

TEST_CASE("login succeeds and reports the maildrop size") {
  Harness h;
  h.login();
  REQUIRE(h.auths.size() == 1);
  CHECK(h.auths[0].address.mailbox == "bob");
  CHECK(h.auths[0].address.postoffice == "example.com");
  CHECK(h.auths[0].password == "secret");
  REQUIRE(h.session.user() != nullptr);
  CHECK(h.session.user()->str() == "bob@example.com");
}

TEST_CASE("PASS passes a password with spaces verbatim") {
  Harness h;
  h.run(R"(
    C: user Bob@Example.COM
    S: +OK send PASS
    C: pass  two words
    S: +OK maildrop has 3 messages (1400 octets)
  )");
  REQUIRE(h.auths.size() == 1);
  CHECK(h.auths[0].password == " two words");
  CHECK(h.auths[0].address.str() == "bob@example.com");
}

TEST_CASE("a failed login returns to AUTHORIZATION, forgets USER and is not a bad command") {
  Harness h;
  h.login_outcome = LoginOutcome::kAuthFailed;
  h.run(R"(
    C: USER bob@example.com
    S: +OK send PASS
    C: PASS wrong
    S: -ERR [AUTH] invalid user name or password
    C: PASS again
    S: -ERR send USER first
  )");
  CHECK(h.session.state() == State::kAuthorization);
  CHECK(h.session.user() == nullptr);
  CHECK(h.session.bad_commands() == 1);  // only the PASS without USER
  CHECK(h.auths.size() == 1);
}

TEST_CASE("a locked maildrop answers IN-USE, a storage failure SYS/TEMP") {
  Harness h;
  h.login_outcome = LoginOutcome::kInUse;
  h.run(R"(
    C: USER bob@example.com
    S: +OK send PASS
    C: PASS secret
    S: -ERR [IN-USE] mailbox is locked by another session
  )");
  CHECK(h.session.state() == State::kAuthorization);
  h.login_outcome = LoginOutcome::kTemporary;
  h.run(R"(
    C: USER bob@example.com
    S: +OK send PASS
    C: PASS secret
    S: -ERR [SYS/TEMP] temporary failure, try again later
  )");
  CHECK(h.session.state() == State::kAuthorization);
  CHECK(h.session.bad_commands() == 0);
}

TEST_CASE("USER with an unparsable login still says +OK, then PASS fails with AUTH") {
  Harness h;
  h.run(R"(
    C: USER not-an-address
    S: +OK send PASS
    C: PASS secret
    S: -ERR [AUTH] invalid user name or password
  )");
  CHECK(h.auths.empty());
  REQUIRE(h.rejects.size() == 1);  // counted as a failed login (anti-hammering)
  CHECK(h.rejects[0].user == "not-an-address");
  CHECK(h.rejects[0].mechanism == "USER");
  CHECK(h.session.bad_commands() == 0);
  CHECK(h.session.state() == State::kAuthorization);
}

TEST_CASE("alternate @ characters are accepted in USER") {
  SessionConfig config;
  config.alt_at_chars = "%!";
  Harness h(config);
  h.run(R"(
    C: USER bob%example.com
    S: +OK send PASS
    C: PASS secret
    S: +OK maildrop has 3 messages (1400 octets)
  )");
  REQUIRE(h.auths.size() == 1);
  CHECK(h.auths[0].address.str() == "bob@example.com");

  Harness plain;  // without the setting, '%' is not a separator
  plain.run(R"(
    C: USER bob%example.com
    S: +OK send PASS
    C: PASS secret
    S: -ERR [AUTH] invalid user name or password
  )");
  CHECK(plain.auths.empty());
}

TEST_CASE("QUIT in AUTHORIZATION closes without an UPDATE") {
  Harness h;
  h.run(R"(
    C: QUIT
    S: +OK POP3 server signing off
  )");
  CHECK(h.closed);
  CHECK_FALSE(h.committed.has_value());
  CHECK(h.session.state() == State::kClosed);
}

TEST_CASE("STAT, LIST and UIDL with and without arguments") {
  Harness h;
  h.login();
  h.run(R"(
    C: STAT
    S: +OK 3 1400
    C: LIST
    S: +OK 3 messages (1400 octets)
    S: 1 120
    S: 2 250
    S: 3 1030
    S: .
    C: LIST 2
    S: +OK 2 250
    C: UIDL
    S: +OK unique-id listing follows
    S: 1 uid-one
    S: 2 uid-two
    S: 3 uid-three
    S: .
    C: uidl 3
    S: +OK 3 uid-three
    C: NOOP
    S: +OK
  )");
  CHECK(h.session.bad_commands() == 0);
}

TEST_CASE("bad message numbers answer no such message") {
  Harness h;
  h.login();
  h.run(R"(
    C: LIST 0
    S: -ERR no such message
    C: LIST 4
    S: -ERR no such message
    C: LIST 99999999999999999999999
    S: -ERR no such message
    C: RETR +1
    S: -ERR no such message
    C: RETR -1
    S: -ERR no such message
    C: DELE abc
    S: -ERR no such message
    C: UIDL 1x
    S: -ERR no such message
    C: STAT
    S: +OK 3 1400
  )");
  CHECK(h.streams.empty());
}

TEST_CASE("extra or missing arguments are rejected with a reason") {
  Harness h;
  h.login();
  h.run(R"(
    C: STAT 1
    S: -ERR STAT takes no arguments
    C: LIST 1 2
    S: -ERR LIST takes at most one argument
    C: RETR
    S: -ERR RETR takes one message number
    C: RETR 1 2
    S: -ERR RETR takes one message number
    C: DELE
    S: -ERR DELE takes one message number
    C: NOOP x
    S: -ERR NOOP takes no arguments
  )");
  CHECK(h.session.bad_commands() == 6);
  CHECK(h.session.state() == State::kTransaction);
}

TEST_CASE("DELE hides a message from STAT and LIST, and a second DELE fails") {
  Harness h;
  h.login();
  h.run(R"(
    C: DELE 2
    S: +OK message 2 deleted
    C: STAT
    S: +OK 2 1150
    C: LIST
    S: +OK 2 messages (1150 octets)
    S: 1 120
    S: 3 1030
    S: .
    C: UIDL
    S: +OK unique-id listing follows
    S: 1 uid-one
    S: 3 uid-three
    S: .
    C: LIST 2
    S: -ERR message 2 already deleted
    C: UIDL 2
    S: -ERR message 2 already deleted
    C: DELE 2
    S: -ERR message 2 already deleted
    C: RETR 2
    S: -ERR message 2 already deleted
    C: TOP 2 0
    S: -ERR message 2 already deleted
  )");
  CHECK(h.streams.empty());
  CHECK(h.session.bad_commands() == 0);
}

TEST_CASE("RSET restores deleted messages") {
  Harness h;
  h.login();
  h.run(R"(
    C: DELE 1
    S: +OK message 1 deleted
    C: DELE 3
    S: +OK message 3 deleted
    C: STAT
    S: +OK 1 250
    C: RSET
    S: +OK maildrop has 3 messages (1400 octets)
    C: STAT
    S: +OK 3 1400
    C: QUIT
    S: +OK POP3 server signing off (3 messages left)
  )");
  REQUIRE(h.committed.has_value());
  CHECK(h.committed->empty());
  CHECK(h.closed);
}

TEST_CASE("RETR answers the size and asks to stream the message") {
  Harness h;
  h.login();
  h.run(R"(
    C: RETR 3
    S: +OK 1030 octets
    C: STAT
    S: +OK 3 1400
  )");
  REQUIRE(h.streams.size() == 1);
  CHECK(h.streams[0].index == 2);
  CHECK_FALSE(h.streams[0].top_lines.has_value());
  CHECK(h.session.state() == State::kTransaction);
}

TEST_CASE("RETR holds the session in streaming until the adapter is done") {
  Harness h;
  h.login();
  Step step = h.session.on_line("RETR 1");
  auto* stream = std::get_if<StreamMessage>(&step.effect);
  REQUIRE(stream != nullptr);
  CHECK(stream->index == 0);
  CHECK(h.session.state() == State::kStreaming);
  h.session.on_stream_done();
  CHECK(h.session.state() == State::kTransaction);
}

TEST_CASE("RETR and TOP leave their +OK to the adapter, to be sent only once the message is open") {
  Harness h;
  h.login();
  Step retr = h.session.on_line("RETR 2");
  CHECK(retr.reply.empty());
  auto* stream = std::get_if<StreamMessage>(&retr.effect);
  REQUIRE(stream != nullptr);
  CHECK(stream->index == 1);
  CHECK(stream->ok_reply == "+OK 250 octets\r\n");
  h.session.on_stream_done();
  Step top = h.session.on_line("TOP 3 5");
  CHECK(top.reply.empty());
  stream = std::get_if<StreamMessage>(&top.effect);
  REQUIRE(stream != nullptr);
  CHECK(stream->index == 2);
  CHECK(stream->ok_reply == "+OK top of message follows\r\n");
  h.session.on_stream_done();
  CHECK(h.session.state() == State::kTransaction);
}

TEST_CASE("RETR or TOP of a message that cannot be opened answers SYS/TEMP; the session keeps its deletions") {
  Harness h;
  h.login();
  h.unreadable = {1};
  h.run(R"(
    C: DELE 1
    S: +OK message 1 deleted
    C: RETR 2
    S: -ERR [SYS/TEMP] message 2 cannot be read now
    C: TOP 2 0
    S: -ERR [SYS/TEMP] message 2 cannot be read now
    C: RETR 3
    S: +OK 1030 octets
    C: STAT
    S: +OK 2 1280
    C: LIST 2
    S: +OK 2 250
    C: QUIT
    S: +OK POP3 server signing off (2 messages left)
  )");
  REQUIRE(h.committed.has_value());
  CHECK(*h.committed == std::vector<std::size_t>{0});
  CHECK(h.session.bad_commands() == 0);
  CHECK(h.closed);
}

TEST_CASE("a failed stream returns to TRANSACTION without marking the message") {
  Harness h;
  h.login();
  Step step = h.session.on_line("RETR 3");
  REQUIRE(std::holds_alternative<StreamMessage>(step.effect));
  Step failed = h.session.on_stream_failed();
  CHECK(failed.reply == "-ERR [SYS/TEMP] message 3 cannot be read now\r\n");
  CHECK(std::holds_alternative<NoEffect>(failed.effect));
  CHECK(h.session.state() == State::kTransaction);
  CHECK_FALSE(h.session.marked_deleted(2));
  CHECK(h.session.bad_commands() == 0);
  CHECK(h.send("RETR 3") == "+OK 1030 octets\r\n");  // it may be tried again
}

TEST_CASE("TOP validates its message number and line count") {
  Harness h;
  h.login();
  h.run(R"(
    C: TOP 1 0
    S: +OK top of message follows
    C: TOP 2 10
    S: +OK top of message follows
    C: TOP 1
    S: -ERR TOP takes a message number and a line count
    C: TOP
    S: -ERR TOP takes a message number and a line count
    C: TOP 1 2 3
    S: -ERR TOP takes a message number and a line count
    C: TOP 1 -1
    S: -ERR invalid line count
    C: TOP 1 x
    S: -ERR invalid line count
    C: TOP 1 99999999999999999999999
    S: -ERR invalid line count
    C: TOP 4 1
    S: -ERR no such message
  )");
  REQUIRE(h.streams.size() == 2);
  CHECK(h.streams[0].index == 0);
  REQUIRE(h.streams[0].top_lines.has_value());
  CHECK(*h.streams[0].top_lines == 0);
  CHECK(h.streams[1].index == 1);
  CHECK(*h.streams[1].top_lines == 10);
}

TEST_CASE("QUIT in TRANSACTION commits exactly the deleted messages") {
  Harness h;
  h.login();
  h.run(R"(
    C: DELE 3
    S: +OK message 3 deleted
    C: DELE 1
    S: +OK message 1 deleted
    C: QUIT
    S: +OK POP3 server signing off (1 message left)
  )");
  REQUIRE(h.committed.has_value());
  CHECK(*h.committed == std::vector<std::size_t>{0, 2});
  REQUIRE(h.released != nullptr);
  CHECK(h.released->size() == 3);  // the whole listing; "1 messages left" was counted before
  CHECK(h.closed);
  CHECK(h.session.state() == State::kClosed);
}

TEST_CASE("QUIT in TRANSACTION first enters UPDATE with an empty reply") {
  Harness h;
  h.login();
  Step step = h.session.on_line("quit");
  CHECK(step.reply.empty());
  auto* commit = std::get_if<CommitDeletions>(&step.effect);
  REQUIRE(commit != nullptr);
  CHECK(commit->indexes.empty());
  CHECK(h.session.state() == State::kUpdate);
}

TEST_CASE("a failed UPDATE answers SYS/TEMP and closes") {
  Harness h;
  h.login();
  h.update_status = make_error(ErrorCode::kIo, "disk full");
  h.run(R"(
    C: DELE 1
    S: +OK message 1 deleted
    C: QUIT
    S: -ERR [SYS/TEMP] some deleted messages not removed
  )");
  REQUIRE(h.committed.has_value());
  CHECK(*h.committed == std::vector<std::size_t>{0});
  CHECK(h.closed);
}

TEST_CASE("commands in the wrong state are rejected and counted") {
  Harness h;
  h.run(R"(
    C: STAT
    S: -ERR command not valid in this state
    C: LIST
    S: -ERR command not valid in this state
    C: RETR 1
    S: -ERR command not valid in this state
    C: NOOP
    S: -ERR command not valid in this state
    C: PASS secret
    S: -ERR send USER first
  )");
  CHECK(h.session.bad_commands() == 5);
  h.login();
  h.run(R"(
    C: USER bob@example.com
    S: -ERR command not valid in this state
    C: PASS secret
    S: -ERR command not valid in this state
  )");
  CHECK(h.session.bad_commands() == 7);
  CHECK(h.auths.size() == 1);
}

TEST_CASE("unknown commands and future-work commands are rejected") {
  Harness h;
  h.run(R"(
    C: HELO
    S: -ERR unknown command
    C: APOP bob 0123456789abcdef
    S: -ERR [AUTH] APOP is not offered by this server
    C: STLS
    S: -ERR STLS is not available
    C: X
    S: -ERR invalid command keyword
  )");
  CHECK(h.session.bad_commands() == 3);
  CHECK_FALSE(h.closed);
}

TEST_CASE("the bad-command limit closes the connection") {
  SessionConfig config;
  config.max_bad_commands = 3;
  Harness h(config);
  h.run(R"(
    C: FOO
    S: -ERR unknown command
    C: STAT
    S: -ERR command not valid in this state
  )");
  CHECK_FALSE(h.closed);
  Step last = h.session.on_line_too_long();
  CHECK(last.reply == "-ERR too many bad commands, closing connection\r\n");
  CHECK(std::holds_alternative<Close>(last.effect));
  CHECK(h.session.state() == State::kClosed);
  CHECK(h.session.bad_commands() == 3);
}

TEST_CASE("a too-long line is answered and counted as a bad command") {
  Harness h;
  Step step = h.session.on_line_too_long();
  CHECK(step.reply == "-ERR line too long\r\n");
  CHECK(std::holds_alternative<NoEffect>(step.effect));
  CHECK(h.session.bad_commands() == 1);
}

TEST_CASE("wrong passwords never trip the bad-command limit") {
  SessionConfig config;
  config.max_bad_commands = 2;
  Harness h(config);
  h.login_outcome = LoginOutcome::kAuthFailed;
  for (int i = 0; i < 5; ++i) {
    h.run(R"(
      C: USER bob@example.com
      S: +OK send PASS
      C: PASS nope
      S: -ERR [AUTH] invalid user name or password
    )");
  }
  CHECK_FALSE(h.closed);
  CHECK(h.session.bad_commands() == 0);
}

TEST_CASE("NUL bytes in a command are a bad command") {
  Harness h;
  using namespace std::string_literals;
  CHECK(h.send("USER bob\0@example.com"s) == "-ERR control characters are not allowed\r\n");
  CHECK(h.session.bad_commands() == 1);
}

TEST_CASE("CAPA lists USER only before login") {
  Harness h;
  h.run(R"(
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: EXPIRE NEVER USER
    S: UTF8 USER
    S: USER
    S: SASL PLAIN LOGIN
    S: .
  )");
  h.login();
  h.run(R"(
    C: capa
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: EXPIRE NEVER
    S: UTF8 USER
    S: .
  )");
}

TEST_CASE("CAPA advertises IMPLEMENTATION only when configured") {
  SessionConfig config;
  config.capa_implementation = true;
  Harness h(config);
  h.run(R"(
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: EXPIRE NEVER USER
    S: UTF8 USER
    S: USER
    S: SASL PLAIN LOGIN
    S: IMPLEMENTATION Mailroom
    S: .
  )");
  h.login();
  h.run(R"(
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: EXPIRE NEVER
    S: UTF8 USER
    S: IMPLEMENTATION Mailroom
    S: .
  )");
}

TEST_CASE("an empty maildrop lists nothing") {
  Session session(SessionConfig{});
  (void)session.on_line("USER a@b.c");
  Step pass = session.on_line("PASS x");
  REQUIRE(std::holds_alternative<Authenticate>(pass.effect));
  CHECK(session.on_login_result(LoginOutcome::kOk, std::vector<mailroom::storage::MessageInfo>{}).reply == "+OK maildrop has 0 messages (0 octets)\r\n");
  CHECK(session.on_line("LIST").reply == "+OK 0 messages (0 octets)\r\n.\r\n");
  CHECK(session.on_line("UIDL").reply == "+OK unique-id listing follows\r\n.\r\n");
  CHECK(session.on_line("RETR 1").reply == "-ERR no such message\r\n");
}

TEST_CASE("every reply line stays within 512 octets and ends in CRLF") {
  Harness h;
  const std::string long_user = "USER " + std::string(600, 'u') + "@example.com";
  const std::vector<std::string> lines = {long_user, "PASS x", "CAPA", "FOO " + std::string(600, 'a')};
  for (const std::string& line : lines) {
    const std::string reply = h.send(line);
    CAPTURE(line);
    CHECK(reply.size() >= 2);
    CHECK(reply.substr(reply.size() - 2) == "\r\n");
    std::size_t start = 0;
    while (start < reply.size()) {
      const std::size_t end = reply.find("\r\n", start);
      REQUIRE(end != std::string::npos);
      CHECK(end + 2 - start <= 512);
      start = end + 2;
    }
  }
}

TEST_CASE("STLS is offered in CAPA only when available and before TLS is active") {
  SessionConfig config;
  config.stls_available = true;
  Harness h(config);
  h.run(R"(
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: EXPIRE NEVER USER
    S: UTF8 USER
    S: USER
    S: STLS
    S: SASL PLAIN LOGIN
    S: .
    C: STLS
    S: +OK Begin TLS negotiation
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: EXPIRE NEVER USER
    S: UTF8 USER
    S: USER
    S: SASL PLAIN LOGIN
    S: .
    C: STLS
    S: -ERR TLS is already active
  )");
  CHECK(h.tls_starts == 1);
  CHECK(h.session.secure());
}

TEST_CASE("a USER sent before STLS is forgotten after the handshake") {
  SessionConfig config;
  config.stls_available = true;
  Harness h(config);
  h.run(R"(
    C: USER bob@example.com
    S: +OK send PASS
    C: STLS
    S: +OK Begin TLS negotiation
    C: PASS secret
    S: -ERR send USER first
  )");
  CHECK(h.auths.empty());
}

TEST_CASE("STLS is refused after login") {
  SessionConfig config;
  config.stls_available = true;
  Harness h(config);
  h.login();
  h.run(R"(
    C: STLS
    S: -ERR command not valid in this state
  )");
  CHECK(h.tls_starts == 0);
}

TEST_CASE("plaintext login is hidden and refused when TLS is required, allowed after STLS") {
  SessionConfig config;
  config.stls_available = true;
  config.plaintext_login_allowed = false;
  Harness h(config);
  h.run(R"(
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: EXPIRE NEVER USER
    S: UTF8 USER
    S: STLS
    S: .
    C: USER bob@example.com
    S: -ERR [AUTH] plaintext login is not allowed on an unencrypted connection; use STLS first
    C: PASS secret
    S: -ERR [AUTH] plaintext login is not allowed on an unencrypted connection; use STLS first
    C: STLS
    S: +OK Begin TLS negotiation
  )");
  CHECK(h.auths.empty());
  h.login();
  CHECK(h.auths.size() == 1);
}

TEST_CASE("an implicit TLS session allows login without STLS and does not offer it") {
  SessionConfig config;
  config.secure = true;
  config.plaintext_login_allowed = false;
  Harness h(config);
  h.run(R"(
    C: STLS
    S: -ERR TLS is already active
  )");
  h.login();
  CHECK(h.auths.size() == 1);
}

// "\0bob@example.com\0secret" and "bob@example.com" / "secret" in base64.
TEST_CASE("AUTH PLAIN with an initial response asks for the password check") {
  Harness h;
  h.run(R"(
    C: AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQBzZWNyZXQ=
    S: +OK maildrop has 3 messages (1400 octets)
  )");
  REQUIRE(h.auths.size() == 1);
  CHECK(h.auths[0].address.str() == "bob@example.com");
  CHECK(h.auths[0].password == "secret");
  CHECK(h.auths[0].mechanism == "PLAIN");
  CHECK(h.session.state() == State::kTransaction);
}

TEST_CASE("AUTH PLAIN without an initial response sends an empty challenge") {
  Harness h;
  h.run(R"(
    C: auth plain
    S: + 
    C: AGJvYkBleGFtcGxlLmNvbQBzZWNyZXQ=
    S: +OK maildrop has 3 messages (1400 octets)
  )");
  CHECK(h.auths.size() == 1);
}

TEST_CASE("AUTH LOGIN asks for user name and password") {
  Harness h;
  h.run(R"(
    C: AUTH LOGIN
    S: + VXNlcm5hbWU6
    C: Ym9iQGV4YW1wbGUuY29t
    S: + UGFzc3dvcmQ6
    C: c2VjcmV0
    S: +OK maildrop has 3 messages (1400 octets)
  )");
  REQUIRE(h.auths.size() == 1);
  CHECK(h.auths[0].mechanism == "LOGIN");
  CHECK(h.auths[0].password == "secret");
}

TEST_CASE("AUTH can be cancelled with '*', and a failed AUTH returns [AUTH]") {
  Harness h;
  h.login_outcome = LoginOutcome::kAuthFailed;
  h.run(R"(
    C: AUTH LOGIN
    S: + VXNlcm5hbWU6
    C: *
    S: -ERR authentication cancelled
    C: AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQB3cm9uZw==
    S: -ERR [AUTH] invalid user name or password
  )");
  CHECK(h.session.state() == State::kAuthorization);
  CHECK(h.session.bad_commands() == 0);
}

TEST_CASE("malformed AUTH data and unknown mechanisms are refused") {
  Harness h;
  h.run(R"(
    C: AUTH PLAIN !!!notbase64
    S: -ERR malformed authentication data
    C: AUTH CRAM-MD5
    S: -ERR [AUTH] unsupported authentication mechanism
    C: AUTH
    S: +OK SASL mechanisms follow
    S: PLAIN
    S: LOGIN
    S: .
  )");
  CHECK(h.session.bad_commands() == 1);
  CHECK(h.auths.empty());
}

TEST_CASE("AUTH follows the TLS rule for plaintext passwords") {
  SessionConfig config;
  config.stls_available = true;
  config.plaintext_login_allowed = false;
  Harness h(config);
  h.run(R"(
    C: AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQBzZWNyZXQ=
    S: -ERR [AUTH] plaintext authentication is not allowed on an unencrypted connection; use STLS first
    C: STLS
    S: +OK Begin TLS negotiation
    C: AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQBzZWNyZXQ=
    S: +OK maildrop has 3 messages (1400 octets)
  )");
  CHECK(h.auths.size() == 1);
}

TEST_CASE("no mechanisms configured means no SASL line and AUTH refused") {
  SessionConfig config;
  config.sasl_mechanisms = {};
  Harness h(config);
  h.run(R"(
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: EXPIRE NEVER USER
    S: UTF8 USER
    S: USER
    S: .
    C: AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQBzZWNyZXQ=
    S: -ERR [AUTH] unsupported authentication mechanism
  )");
  CHECK(h.auths.empty());
}

TEST_CASE("AUTH is not valid after login") {
  Harness h;
  h.login();
  h.run(R"(
    C: AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQBzZWNyZXQ=
    S: -ERR command not valid in this state
  )");
}

// ---- APOP and the secret-based mechanisms ----

TEST_CASE("APOP checks the RFC 1939 digest against the stored secret") {
  SessionConfig config;
  config.apop_timestamp = "<1896.697170952@dbc.mtview.ca.us>";
  Harness h(config);
  h.secrets["mrose@example.com plaintext"] = "tanstaaf";
  h.run(R"(
    C: APOP mrose@example.com c4c9334bac560ecc979e58001b3e22fb
    S: +OK maildrop has 3 messages (1400 octets)
  )");
  REQUIRE(h.auths.size() == 1);
  CHECK(h.auths[0].verified);
  CHECK(h.auths[0].mechanism == "APOP");
  CHECK(h.auths[0].password.empty());
  REQUIRE(h.fetches.size() == 1);
  CHECK(h.fetches[0].accepted == std::vector<auth::sasl::SecretKind>{auth::sasl::SecretKind::kPlaintextPassword});
}

TEST_CASE("APOP with a wrong digest, an unknown user or a malformed digest fails") {
  SessionConfig config;
  config.apop_timestamp = "<1896.697170952@dbc.mtview.ca.us>";
  Harness h(config);
  h.secrets["mrose@example.com plaintext"] = "tanstaaf";
  h.run(R"(
    C: APOP mrose@example.com 00000000000000000000000000000000
    S: -ERR [AUTH] invalid user name or password
    C: APOP nobody@example.com c4c9334bac560ecc979e58001b3e22fb
    S: -ERR [AUTH] invalid user name or password
    C: APOP no-at-sign c4c9334bac560ecc979e58001b3e22fb
    S: -ERR [AUTH] invalid user name or password
    C: APOP mrose@example.com xyz
    S: -ERR APOP digest must be 32 hex digits
  )");
  CHECK(h.auths.empty());
  CHECK(h.rejects.size() == 3);
  CHECK(h.fetches.size() == 2);  // the unparsable name is refused without a lookup
  CHECK(h.session.bad_commands() == 1);
  CHECK(h.session.state() == State::kAuthorization);
}

TEST_CASE("AUTH CRAM-MD5 reproduces RFC 2195 with stored HMAC contexts") {
  SessionConfig config;
  config.sasl_mechanisms = {"CRAM-MD5"};
  config.cram_md5_challenge = "<1896.697170952@postoffice.reston.mci.net>";
  config.plaintext_login_allowed = false;  // CRAM-MD5 never sends the password: still offered
  Harness h(config);
  h.secrets["tim@example.com cram-md5"] = auth::sasl::cram_md5_contexts("tanstaaftanstaaf");
  std::string challenge = auth::sasl::base64_encode(config.cram_md5_challenge);
  std::string answer = auth::sasl::base64_encode("tim@example.com b913a602c7eda7a495b4e6e7334d3890");
  std::string wrong = auth::sasl::base64_encode("tim@example.com 00000000000000000000000000000000");
  h.run("C: CAPA\n S: +OK Capability list follows\n S: TOP\n S: UIDL\n S: RESP-CODES\n S: AUTH-RESP-CODE\n"
        " S: PIPELINING\n S: EXPIRE NEVER USER\n S: UTF8 USER\n S: SASL CRAM-MD5\n S: .\n"
        "C: AUTH CRAM-MD5\n S: + " + challenge + "\n C: " + wrong +
        "\n S: -ERR [AUTH] invalid user name or password\n"
        "C: AUTH CRAM-MD5\n S: + " + challenge + "\n C: " + answer + "\n S: +OK maildrop has 3 messages (1400 octets)\n");
  REQUIRE(h.auths.size() == 1);
  CHECK(h.auths[0].verified);
  CHECK(h.auths[0].address.str() == "tim@example.com");
  CHECK(h.rejects.size() == 1);
}

namespace {
std::string xor_bytes(std::string a, const std::string& b) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<char>(a[i] ^ b[i]);
  return a;
}
}  // namespace

TEST_CASE("AUTH SCRAM-SHA-256 runs to the server proof, then logs in on the empty line") {
  SessionConfig config;
  config.sasl_mechanisms = {"SCRAM-SHA-256"};
  config.scram_server_nonce = "serverpart";
  Harness h(config);
  const std::string salt = "0123456789abcdef";
  auto keys = auth::sasl::scram_derive_keys("pencil", salt, 4096, auth::sasl::ScramHash::kSha256);
  h.secrets["user@example.com scram-sha-256"] = auth::sasl::scram_encode(keys);

  const std::string client_first_bare = "n=user@example.com,r=clientnonce";
  std::string wire = h.send("AUTH SCRAM-SHA-256 " + auth::sasl::base64_encode("n,," + client_first_bare));
  REQUIRE(wire.rfind("+ ", 0) == 0);
  auto server_first = auth::sasl::base64_decode(wire.substr(2, wire.size() - 4));
  REQUIRE(server_first.ok());
  CHECK(*server_first == "r=clientnonceserverpart,s=" + auth::sasl::base64_encode(salt) + ",i=4096");

  unsigned char salted[32];
  REQUIRE(PKCS5_PBKDF2_HMAC("pencil", 6, reinterpret_cast<const unsigned char*>(salt.data()),
                            static_cast<int>(salt.size()), 4096, EVP_sha256(), 32, salted) == 1);
  std::string salted_password(reinterpret_cast<const char*>(salted), 32);
  const std::string without_proof = "c=biws,r=clientnonceserverpart";
  const std::string auth_message = client_first_bare + "," + *server_first + "," + without_proof;
  std::string client_key = auth::sasl::crypto::hmac(auth::sasl::crypto::Hash::kSha256, salted_password, "Client Key");
  std::string stored_key = auth::sasl::crypto::hash(auth::sasl::crypto::Hash::kSha256, client_key);
  std::string proof = xor_bytes(client_key, auth::sasl::crypto::hmac(auth::sasl::crypto::Hash::kSha256, stored_key, auth_message));
  std::string server_key = auth::sasl::crypto::hmac(auth::sasl::crypto::Hash::kSha256, salted_password, "Server Key");
  std::string server_sig = auth::sasl::crypto::hmac(auth::sasl::crypto::Hash::kSha256, server_key, auth_message);

  wire = h.send(auth::sasl::base64_encode(without_proof + ",p=" + auth::sasl::base64_encode(proof)));
  CHECK(wire == "+ " + auth::sasl::base64_encode("v=" + auth::sasl::base64_encode(server_sig)) + "\r\n");
  CHECK(h.session.state() == State::kSaslFinal);
  CHECK(h.auths.empty());
  CHECK(h.send("") == "+OK maildrop has 3 messages (1400 octets)\r\n");
  REQUIRE(h.auths.size() == 1);
  CHECK(h.auths[0].verified);
  CHECK(h.auths[0].mechanism == "SCRAM-SHA-256");
}

TEST_CASE("AUTH SCRAM with a wrong proof or an unknown user is a counted failure") {
  SessionConfig config;
  config.sasl_mechanisms = {"SCRAM-SHA-256"};
  config.scram_server_nonce = "serverpart";
  Harness h(config);
  h.secrets["user@example.com scram-sha-256"] =
      auth::sasl::scram_encode(auth::sasl::scram_derive_keys("pencil", "salt-salt-salt16", 4096, auth::sasl::ScramHash::kSha256));
  for (const char* user : {"user@example.com", "ghost@example.com", "no-at-sign"}) {
    CAPTURE(user);
    std::string wire = h.send("AUTH SCRAM-SHA-256 " + auth::sasl::base64_encode(std::string("n,,n=") + user + ",r=abc"));
    REQUIRE(wire.rfind("+ ", 0) == 0);  // a fake salt for unknown users: no difference visible
    std::string bogus_proof = auth::sasl::base64_encode(std::string(32, 'x'));
    CHECK(h.send(auth::sasl::base64_encode("c=biws,r=abcserverpart,p=" + bogus_proof)) ==
          "-ERR [AUTH] invalid user name or password\r\n");
  }
  CHECK(h.rejects.size() == 3);
  CHECK(h.auths.empty());
  CHECK(h.session.bad_commands() == 0);
}

TEST_CASE("the SASL line offers secret-based mechanisms even where plaintext logins are hidden") {
  SessionConfig config;
  config.sasl_mechanisms = {"PLAIN", "CRAM-MD5", "NTLM", "SCRAM-SHA-256"};
  config.plaintext_login_allowed = false;
  Harness h(config);
  std::string capa = h.send("CAPA");
  CHECK(capa.find("SASL CRAM-MD5 NTLM SCRAM-SHA-256\r\n") != std::string::npos);
  CHECK(h.send("AUTH PLAIN") ==
        "-ERR [AUTH] plaintext authentication is not allowed on an unencrypted connection; use STLS first\r\n");
  CHECK(h.send("AUTH NTLM") == "+ \r\n");
  CHECK(h.send("*") == "-ERR authentication cancelled\r\n");
}

TEST_CASE("a database error while fetching a secret answers SYS/TEMP and returns to AUTHORIZATION") {
  SessionConfig config;
  config.apop_timestamp = "<1.2@host>";
  Session s(config);
  Step step = s.on_line("APOP bob@example.com 0123456789abcdef0123456789abcdef");
  REQUIRE(std::holds_alternative<FetchSecret>(step.effect));
  CHECK(s.on_secret_error().reply == "-ERR [SYS/TEMP] temporary failure, try again later\r\n");
  CHECK(s.state() == State::kAuthorization);
}

// debug_transcript: what a transcript may show of each client line (asked before the line is
// handled, so an AUTH exchange's lines are known to be secret).
TEST_CASE("loggable_line redacts PASS, APOP, AUTH's initial response and every SASL exchange line") {
  Harness h;
  CHECK(h.session.loggable_line("USER bob@example.com") == "USER bob@example.com");
  CHECK(h.session.loggable_line("PASS my secret pw") == "PASS <redacted>");
  CHECK(h.session.loggable_line("pass secret") == "pass <redacted>");
  CHECK(h.session.loggable_line("  PASS\tsecret") == "  PASS <redacted>");  // even a line the parser refuses
  CHECK(h.session.loggable_line("PASS") == "PASS");
  CHECK(h.session.loggable_line("APOP bob@example.com c4c9334bac560ecc979e58001b3e22fb") == "APOP <redacted>");
  CHECK(h.session.loggable_line("AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQBzZWNyZXQ=") == "AUTH PLAIN <redacted>");
  CHECK(h.session.loggable_line("AUTH") == "AUTH");
  CHECK(h.session.loggable_line("STAT") == "STAT");

  // AUTH LOGIN: the user name and password lines are redacted while the exchange runs.
  CHECK(h.session.loggable_line("AUTH LOGIN") == "AUTH LOGIN");
  CHECK(h.send("AUTH LOGIN") == "+ VXNlcm5hbWU6\r\n");
  CHECK(h.session.loggable_line("Ym9iQGV4YW1wbGUuY29t") == "<redacted>");
  CHECK(h.send("Ym9iQGV4YW1wbGUuY29t") == "+ UGFzc3dvcmQ6\r\n");
  CHECK(h.session.loggable_line("c2VjcmV0") == "<redacted>");
  CHECK(h.session.loggable_line("*") == "<redacted>");
  CHECK(h.send("c2VjcmV0") == "+OK maildrop has 3 messages (1400 octets)\r\n");
  // Logged in: commands are shown again.
  CHECK(h.session.loggable_line("RETR 1") == "RETR 1");
}

TEST_CASE("loggable_line redacts the continuation of AUTH PLAIN without an initial response") {
  Harness h;
  CHECK(h.send("AUTH PLAIN") == "+ \r\n");
  CHECK(h.session.loggable_line("AGJvYkBleGFtcGxlLmNvbQBzZWNyZXQ=") == "<redacted>");
}

// ---- issue 18: LOGIN-DELAY, EXPIRE, bare AUTH, LAST ----

TEST_CASE("CAPA shows the service's LOGIN-DELAY and EXPIRE with USER before login, the mailbox's after") {
  SessionConfig config;
  config.login_delay = 300;
  config.expire_days = 7;
  Harness h(config);
  h.limits = AccountLimits{900, 0, {}};
  h.run(R"(
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: LOGIN-DELAY 300 USER
    S: EXPIRE 7 USER
    S: UTF8 USER
    S: USER
    S: SASL PLAIN LOGIN
    S: .
  )");
  h.login();
  h.run(R"(
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: LOGIN-DELAY 900
    S: EXPIRE 0
    S: UTF8 USER
    S: .
  )");
}

TEST_CASE("a mailbox without a delay shows no LOGIN-DELAY after login, and EXPIRE NEVER") {
  SessionConfig config;
  config.login_delay = 300;
  Harness h(config);
  h.limits = AccountLimits{0, std::nullopt, {}};
  h.login();
  const std::string capa = h.send("CAPA");
  CHECK(capa.find("LOGIN-DELAY") == std::string::npos);
  CHECK(capa.find("EXPIRE NEVER\r\n") != std::string::npos);
}

TEST_CASE("a login too soon is refused with [LOGIN-DELAY] and the session may try again") {
  Harness h;
  h.limits = AccountLimits{600, std::nullopt, {}};
  h.login_outcome = LoginOutcome::kLoginDelay;
  h.run(R"(
    C: USER bob@example.com
    S: +OK send PASS
    C: PASS secret
    S: -ERR [LOGIN-DELAY] logins to this mailbox must be at least 600 seconds apart, try again later
  )");
  CHECK(h.session.state() == State::kAuthorization);
  CHECK(h.session.bad_commands() == 0);
  h.login_outcome = LoginOutcome::kOk;
  h.login();
}

TEST_CASE("EXPIRE 0: what RETR sent whole is removed at QUIT; TOP and a failed RETR are not retrievals") {
  SessionConfig config;
  config.clock = [] { return int64_t{1'000'000}; };
  Harness h(config);
  h.limits = AccountLimits{0, 0, {}};
  h.unreadable = {2};
  h.login();
  h.run(R"(
    C: RETR 1
    S: +OK 120 octets
    C: TOP 2 0
    S: +OK top of message follows
    C: RETR 3
    S: -ERR [SYS/TEMP] message 3 cannot be read now
    C: QUIT
    S: +OK POP3 server signing off (2 messages left)
  )");
  REQUIRE(h.last_commit);
  CHECK(h.last_commit->indexes == std::vector<std::size_t>{0});
  CHECK(h.last_commit->expired == 1);
  CHECK_FALSE(h.last_commit->record);  // nothing to remember: the record stays as it was (empty)
}

TEST_CASE("EXPIRE 7: first retrievals are stamped; messages retrieved 7 days ago go with the DELEs") {
  const int64_t now = 50 * kSecondsPerDay;
  SessionConfig config;
  config.clock = [now] { return now; };
  Harness h(config);
  h.limits = AccountLimits{0, 7, {{"uid-two", now - 7 * kSecondsPerDay}, {"uid-three", now - kSecondsPerDay},
                                  {"uid-gone", 5}}};
  h.login();
  h.run(R"(
    C: RETR 1
    S: +OK 120 octets
    C: RETR 3
    S: +OK 1030 octets
    C: QUIT
    S: +OK POP3 server signing off (2 messages left)
  )");
  REQUIRE(h.last_commit);
  CHECK(h.last_commit->indexes == std::vector<std::size_t>{1});
  REQUIRE(h.last_commit->record);
  // uid-one stamped now, uid-three keeps its first time, uid-gone (no longer listed) is dropped.
  CHECK(*h.last_commit->record == storage::Retrievals{{"uid-one", now}, {"uid-three", now - kSecondsPerDay}});
}

TEST_CASE("EXPIRE: a DELE'd message leaves the record; a session without QUIT commits nothing") {
  const int64_t now = 10 * kSecondsPerDay;
  SessionConfig config;
  config.clock = [now] { return now; };
  Harness h(config);
  h.limits = AccountLimits{0, 30, {{"uid-one", now - kSecondsPerDay}}};
  h.login();
  h.run(R"(
    C: DELE 1
    S: +OK message 1 deleted
    C: QUIT
    S: +OK POP3 server signing off (2 messages left)
  )");
  REQUIRE(h.last_commit);
  CHECK(h.last_commit->indexes == std::vector<std::size_t>{0});
  CHECK(h.last_commit->expired == 0);
  REQUIRE(h.last_commit->record);
  CHECK(h.last_commit->record->empty());

  Harness dropped(config);
  dropped.limits = AccountLimits{0, 0, {}};
  dropped.login();
  dropped.run("C: RETR 1\n S: +OK 120 octets\n");
  CHECK_FALSE(dropped.last_commit);  // the connection just ends: no UPDATE, nothing expires
}

TEST_CASE("bare AUTH lists the mechanisms unless auth_list_bare is off") {
  SessionConfig config;
  config.auth_list_bare = false;
  Harness h(config);
  h.run(R"(
    C: AUTH
    S: -ERR AUTH needs a mechanism name
  )");
  CHECK(h.session.bad_commands() == 1);
}

TEST_CASE("LAST is unknown by default") {
  Harness h;
  h.login();
  h.run(R"(
    C: LAST
    S: -ERR unknown command
  )");
}

TEST_CASE("LAST: the highest message RETR or TOP sent, 0 after RSET") {
  SessionConfig config;
  config.last_command = true;
  Harness h(config);
  h.unreadable = {2};
  h.run(R"(
    C: USER bob@example.com
    S: +OK send PASS
    C: LAST
    S: -ERR command not valid in this state
  )");
  h.login();
  h.run(R"(
    C: LAST
    S: +OK 0
    C: RETR 2
    S: +OK 250 octets
    C: LAST
    S: +OK 2
    C: RETR 3
    S: -ERR [SYS/TEMP] message 3 cannot be read now
    C: TOP 1 0
    S: +OK top of message follows
    C: LAST
    S: +OK 2
    C: RSET
    S: +OK maildrop has 3 messages (1400 octets)
    C: LAST
    S: +OK 0
    C: LAST now
    S: -ERR LAST takes no arguments
  )");
}

TEST_CASE("UTF8 (RFC 6856): the command in AUTHORIZATION, then a UTF-8 user name and password") {
  Harness h;
  h.run(
      "C: UTF8 now\n S: -ERR UTF8 takes no arguments\n"
      "C: utf8\n S: +OK UTF8 enabled\n"
      "C: USER J\xc3\xb6rg@example.com\n S: +OK send PASS\n"
      "C: PASS p\xc3\xa4ssw\xc3\xb6rd\n S: +OK maildrop has 3 messages (1400 octets)\n"
      "C: UTF8\n S: -ERR command not valid in this state\n");
  CHECK(h.session.utf8());
  REQUIRE(h.auths.size() == 1);
  CHECK(h.auths[0].address.mailbox == "j\xc3\xb6rg");
  CHECK(h.auths[0].password == "p\xc3\xa4ssw\xc3\xb6rd");
}

TEST_CASE("a user name that is not UTF-8 is refused like a wrong password") {
  Harness h;
  h.run(
      "C: USER j\xf6rg@example.com\n S: +OK send PASS\n"
      "C: PASS secret\n S: -ERR [AUTH] invalid user name or password\n");
  CHECK(h.auths.empty());
  REQUIRE(h.rejects.size() == 1);
}
