// Tests for the SMTP/LMTP session state machine, as C:/S: transcripts against a fake directory of
// mailboxes and a fake store: the harness performs each effect with canned results, so a
// transcript reads like the wire.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "modules/smtp-stub/smtp_session.h"

using namespace mailroom;
using namespace mailroom::smtp;

namespace {

SessionConfig smtp_config() {
  SessionConfig c;
  c.hostname = "mx.example.test";
  c.max_message_size = 10000;
  c.max_recipients = 3;
  c.max_received_headers = 2;
  c.max_bad_commands = 3;
  c.peer_ip = "192.0.2.7";
  return c;
}

SessionConfig lmtp_config() {
  SessionConfig c = smtp_config();
  c.protocol = Protocol::kLmtp;
  c.count_unknown_recipients = false;
  return c;
}

struct Harness {
  explicit Harness(SessionConfig config) : session(std::move(config)) {
    directory["alice@example.test"] = {RecipientStatus::kOk, "/m/alice", "alice@example.test", {}, {}};
    directory["bob@example.test"] = {RecipientStatus::kOk, "/m/bob", "bob@example.test", {}, {}};
    directory["carol@example.test"] = {RecipientStatus::kOk, "/m/carol", "carol@example.test", {}, {}};
    directory["dave@example.test"] = {RecipientStatus::kOk, "/m/dave", "dave@example.test", {}, {}};
    directory["off@example.test"] = {RecipientStatus::kDisabled, "", "", {}, {}};
    directory["flaky@example.test"] = {RecipientStatus::kTemporary, "", "", {}, {}};
  }

  Session session;
  std::map<std::string, RecipientVerdict> directory;  // by lower-case address
  bool block_on_failure = false;
  std::vector<bool> commit_ok;       // per recipient; empty: all succeed
  std::map<std::string, std::string> held_back;  // maildir -> the quota refusal the commit reports
  std::vector<std::optional<uint64_t>> lookup_sizes;  // LookupRecipient::size, in order
  std::optional<Error> commit_error;  // no copy at all
  std::vector<ReceiveData> received;
  int commits = 0, discards = 0, failures = 0, tls_starts = 0;
  bool closed = false;

  std::string send(std::string_view line, core::LineEnding ending = core::LineEnding::kCrlf) {
    return perform(session.on_line(line, ending));
  }

  // DATA's lines then the terminator, as the line reader would hand them over.
  std::string data(const std::vector<std::string>& lines, core::BodySummary summary = {}) {
    for (const auto& l : lines) {
      session.on_data_line(l);
      summary.octets += l.size() + 2;
    }
    return perform(session.on_data_end(summary));
  }

  std::string perform(Step step) {
    std::string wire = step.reply;
    if (auto* lookup = std::get_if<LookupRecipient>(&step.effect)) {
      CHECK(wire.empty());
      CHECK(session.state() == State::kAwaitingLookup);
      lookup_sizes.push_back(lookup->size);
      std::string key = lookup->rcpt.local + "@" + lookup->rcpt.domain;
      for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      RecipientVerdict verdict;
      if (auto it = directory.find(key); it != directory.end()) {
        verdict = it->second;
      } else if (lookup->rcpt.domain == "example.test") {
        verdict.status = RecipientStatus::kUnknownMailbox;
      } else {
        verdict.status = RecipientStatus::kForeignDomain;
      }
      wire += perform(session.on_recipient(verdict));
    } else if (std::get_if<CountFailure>(&step.effect)) {
      CHECK(wire.empty());
      ++failures;
      wire += perform(session.on_failure_counted(block_on_failure));
    } else if (auto* r = std::get_if<ReceiveData>(&step.effect)) {
      received.push_back(*r);
    } else if (std::get_if<CommitData>(&step.effect)) {
      CHECK(wire.empty());
      ++commits;
      CommitResult result;
      if (commit_error) {
        result.error = commit_error;
      } else {
        for (std::size_t i = 0; i < received.back().maildirs.size(); ++i) {
          const bool ok = i >= commit_ok.size() || commit_ok[i];
          auto held = held_back.find(received.back().maildirs[i]);
          if (held != held_back.end()) {
            result.per_recipient.push_back(make_error(ErrorCode::kPermanent, held->second));
            result.over_quota.resize(received.back().maildirs.size());
            result.over_quota[i] = held->second;
            continue;
          }
          result.per_recipient.push_back(ok ? Status() : Status(make_error(ErrorCode::kIo, "link failed")));
        }
      }
      wire += perform(session.on_commit_result(result));
    } else if (std::get_if<DiscardData>(&step.effect)) {
      ++discards;
    } else if (std::get_if<Close>(&step.effect)) {
      closed = true;
    } else if (std::get_if<StartTls>(&step.effect)) {
      ++tls_starts;
      session.on_tls_started();
    }
    return wire;
  }
};

}  // namespace

TEST_CASE("a whole SMTP transaction") {
  Harness h(smtp_config());
  CHECK(h.session.greeting().reply == "220 mx.example.test ESMTP ready\r\n");
  CHECK(h.send("EHLO client.example.org") ==
        "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250-8BITMIME\r\n"
        "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 HELP\r\n");
  CHECK(h.send("MAIL FROM:<sender@example.org> SIZE=120 BODY=8BITMIME") == "250 2.1.0 OK\r\n");
  CHECK(h.send("RCPT TO:<Alice@Example.Test>") == "250 2.1.5 <Alice@Example.Test> OK\r\n");
  CHECK(h.send("DATA") == "354 End data with <CR><LF>.<CR><LF>\r\n");
  REQUIRE(h.received.size() == 1);
  const ReceiveData& r = h.received[0];
  CHECK(r.maildirs == std::vector<std::string>{"/m/alice"});
  CHECK(r.trace.reverse_path == "sender@example.org");
  CHECK(r.trace.helo == "client.example.org");
  CHECK(r.trace.peer_ip == "192.0.2.7");
  CHECK(r.trace.with == "ESMTP");
  CHECK(r.trace.recipient == "Alice@Example.Test");
  CHECK(r.max_size == 10000);
  CHECK(h.data({"Subject: hi", "", "body"}) == "250 2.0.0 OK delivered\r\n");
  CHECK(h.commits == 1);
  CHECK(h.session.delivered() == 1);
  CHECK(h.send("QUIT") == "221 2.0.0 Bye\r\n");
  CHECK(h.closed);
}

TEST_CASE("HELO is plain SMTP: no parameters, 'with SMTP'") {
  Harness h(smtp_config());
  CHECK(h.send("HELO client") == "250 mx.example.test\r\n");
  CHECK(h.send("MAIL FROM:<a@example.org> SIZE=10") == "555 5.5.4 parameters need EHLO\r\n");
  CHECK(h.send("MAIL FROM:<a@example.org>") == "250 2.1.0 OK\r\n");
  h.send("RCPT TO:<bob@example.test>");
  h.send("DATA");
  CHECK(h.received.back().trace.with == "SMTP");
}

TEST_CASE("sequence errors are 503, and the transaction state is kept") {
  Harness h(smtp_config());
  CHECK(h.send("MAIL FROM:<a@example.org>") == "503 5.5.1 send EHLO first\r\n");
  h.send("EHLO c");
  CHECK(h.send("RCPT TO:<alice@example.test>") == "503 5.5.1 need MAIL before RCPT\r\n");
  CHECK(h.send("DATA") == "503 5.5.1 need MAIL before DATA\r\n");
  CHECK(h.session.bad_commands() == 3);
  CHECK_FALSE(h.closed);
  CHECK(h.send("MAIL FROM:<a@example.org>") == "250 2.1.0 OK\r\n");
  CHECK(h.send("MAIL FROM:<a@example.org>") ==
        "503 5.5.1 nested MAIL command\r\n421 4.7.0 mx.example.test too many errors, closing connection\r\n");
  CHECK(h.closed);
  CHECK(h.session.state() == State::kClosed);
}

TEST_CASE("unknown commands are 500, syntax errors 501, a bare CR is no line end") {
  Harness h(smtp_config());
  CHECK(h.send("FROB") == "500 5.5.2 command not recognised\r\n");
  CHECK(h.send("") == "500 5.5.2 empty command\r\n");
  CHECK(h.send("EHLO") == "501 5.5.4 Syntax: EHLO hostname\r\n");
  CHECK(h.send("NOOP", core::LineEnding::kCr) == "500 5.5.2 bare CR in command line\r\n421 4.7.0 mx.example.test too many errors, closing connection\r\n");
}

TEST_CASE("a bare LF ends a command line (only the data's end is strict)") {
  Harness h(smtp_config());
  CHECK(h.send("NOOP", core::LineEnding::kLf) == "250 2.0.0 OK\r\n");
}

TEST_CASE("VRFY discloses nothing, EXPN and AUTH are not offered, HELP and RSET") {
  Harness h(smtp_config());
  CHECK(h.send("VRFY alice") == "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n");
  CHECK(h.send("EXPN staff").rfind("502 5.5.1", 0) == 0);
  CHECK(h.send("HELP").rfind("214 2.0.0 Commands: EHLO HELO MAIL", 0) == 0);
  h.send("EHLO c");
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  CHECK(h.send("RSET") == "250 2.0.0 OK\r\n");
  CHECK(h.send("DATA") == "503 5.5.1 need MAIL before DATA\r\n");
  CHECK(h.session.state() == State::kReady);
}

TEST_CASE("recipients: local only, each refusal with its code") {
  Harness h(smtp_config());
  h.send("EHLO c");
  h.send("MAIL FROM:<a@example.org>");
  CHECK(h.send("RCPT TO:<x@elsewhere.example>") == "550 5.7.1 <x@elsewhere.example>: relaying denied\r\n");
  CHECK(h.send("RCPT TO:<nobody@example.test>") == "550 5.1.1 <nobody@example.test>: mailbox unknown\r\n");
  CHECK(h.failures == 1);  // counted with the anti-hammering guard
  CHECK(h.send("RCPT TO:<off@example.test>") == "550 5.2.1 <off@example.test>: mailbox disabled\r\n");
  CHECK(h.send("RCPT TO:<flaky@example.test>").rfind("451 4.3.0 <flaky@example.test>", 0) == 0);
  CHECK(h.send("DATA") == "554 5.5.1 no valid recipients\r\n");
  CHECK(h.send("RCPT TO:<alice@example.test>") == "250 2.1.5 <alice@example.test> OK\r\n");
  CHECK(h.send("RCPT TO:<ALICE@example.test>") == "250 2.1.5 <ALICE@example.test> OK (duplicate)\r\n");
  CHECK(h.send("RCPT TO:<bob@example.test>") == "250 2.1.5 <bob@example.test> OK\r\n");
  // A duplicate counts towards max_recipients (3): every accepted RCPT is held (LMTP answers each).
  CHECK(h.send("RCPT TO:<carol@example.test>") == "452 4.5.3 too many recipients\r\n");
  h.send("DATA");
  CHECK(h.received.back().maildirs == std::vector<std::string>{"/m/alice", "/m/bob"});
  CHECK(h.received.back().trace.recipient.empty());  // several: no "for <...>"
}

TEST_CASE("harvesting: an unknown recipient that gets the client blocked ends the session") {
  Harness h(smtp_config());
  h.block_on_failure = true;
  h.send("EHLO c");
  h.send("MAIL FROM:<a@example.org>");
  CHECK(h.send("RCPT TO:<guess@example.test>") ==
        "550 5.1.1 <guess@example.test>: mailbox unknown\r\n"
        "421 4.7.0 mx.example.test too many errors, closing connection\r\n");
  CHECK(h.closed);
}

TEST_CASE("LMTP does not count unknown recipients when told not to; DATA without one is 503") {
  Harness h(lmtp_config());
  h.send("LHLO mta");
  h.send("MAIL FROM:<a@example.org>");
  CHECK(h.send("RCPT TO:<nobody@example.test>") == "550 5.1.1 <nobody@example.test>: mailbox unknown\r\n");
  CHECK(h.failures == 0);
  CHECK(h.send("DATA") == "503 5.5.1 need RCPT before DATA\r\n");  // RFC 2033 4.2
}

TEST_CASE("SIZE: declared too big at MAIL, or too much data") {
  Harness h(smtp_config());
  h.send("EHLO c");
  CHECK(h.send("MAIL FROM:<a@example.org> SIZE=10001") ==
        "552 5.3.4 message too big (this server accepts 10000 octets)\r\n");
  CHECK(h.session.bad_commands() == 0);
  CHECK(h.send("MAIL FROM:<a@example.org> SIZE=10000") == "250 2.1.0 OK\r\n");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  core::BodySummary over;
  over.over_size = true;
  CHECK(h.data({"x"}, over) == "552 5.3.4 message too big (this server accepts 10000 octets)\r\n");
  CHECK(h.discards == 1);
  CHECK(h.commits == 0);
  // The transaction is over: a new one starts with MAIL.
  CHECK(h.send("RCPT TO:<alice@example.test>") == "503 5.5.1 need MAIL before RCPT\r\n");
}

TEST_CASE("bare line endings in the data: refused, or stored normalised") {
  core::BodySummary bare;
  bare.bare_endings = 1;
  {
    Harness h(smtp_config());
    h.send("EHLO c");
    h.send("MAIL FROM:<a@example.org>");
    h.send("RCPT TO:<alice@example.test>");
    h.send("DATA");
    CHECK(h.data({"a", "b"}, bare) == "554 5.6.0 bare LF or CR in message data (only CRLF ends a line)\r\n");
    CHECK(h.discards == 1);
  }
  {
    SessionConfig c = smtp_config();
    c.reject_bare_line_endings = false;
    Harness h(c);
    h.send("EHLO c");
    h.send("MAIL FROM:<a@example.org>");
    h.send("RCPT TO:<alice@example.test>");
    h.send("DATA");
    CHECK(h.data({"a", "b"}, bare) == "250 2.0.0 OK delivered\r\n");
  }
}

TEST_CASE("an over-long data line refuses the message instead of storing it cut") {
  Harness h(smtp_config());
  h.send("EHLO c");
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  core::BodySummary s;
  s.long_lines = 1;
  CHECK(h.data({"a"}, s).rfind("554 5.6.0 message has a line over", 0) == 0);
}

TEST_CASE("a mail loop: more Received headers than allowed, counted in the header only") {
  Harness h(smtp_config());
  h.send("EHLO c");
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  CHECK(h.data({"Received: one", "received: two", "Subject: x", "", "Received: in the body", "Received: again"}) ==
        "250 2.0.0 OK delivered\r\n");
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  CHECK(h.data({"Received: 1", "Received: 2", "RECEIVED: 3", "", "body"}) ==
        "554 5.4.6 mail loop detected (3 Received headers)\r\n");
}

TEST_CASE("SMTP: 250 only when every copy is durable") {
  Harness h(smtp_config());
  h.commit_ok = {true, false};
  h.send("EHLO c");
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("RCPT TO:<bob@example.test>");
  h.send("DATA");
  CHECK(h.data({"x"}) == "451 4.3.0 local error in processing, try again later\r\n");
  h.commit_ok.clear();
  h.commit_error = make_error(ErrorCode::kTemporary, "disk full");
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  CHECK(h.data({"x"}) == "452 4.3.1 insufficient system storage, try again later\r\n");
}

TEST_CASE("LMTP: LHLO only, one reply per accepted recipient after the data") {
  Harness h(lmtp_config());
  CHECK(h.session.greeting().reply == "220 mx.example.test LMTP ready\r\n");
  CHECK(h.send("EHLO mta") == "500 5.5.1 this is an LMTP server: use LHLO\r\n");
  CHECK(h.send("HELO mta") == "500 5.5.1 this is an LMTP server: use LHLO\r\n");
  CHECK(h.send("LHLO mta").rfind("250-mx.example.test\r\n250-PIPELINING", 0) == 0);
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("RCPT TO:<nobody@example.test>");
  h.send("RCPT TO:<bob@example.test>");
  h.commit_ok = {true, false};
  h.send("DATA");
  CHECK(h.received.back().trace.with == "LMTP");
  CHECK(h.data({"x"}) ==
        "250 2.0.0 <alice@example.test> delivered\r\n"
        "451 4.3.0 <bob@example.test> local error in processing, try again later\r\n");
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("RCPT TO:<bob@example.test>");
  h.send("DATA");
  core::BodySummary over;
  over.over_size = true;
  CHECK(h.data({"x"}, over) ==
        "552 5.3.4 message too big (this server accepts 10000 octets)\r\n"
        "552 5.3.4 message too big (this server accepts 10000 octets)\r\n");
}

TEST_CASE("LMTP: a mailbox named twice gets one copy and two replies (RFC 2033 4.2)") {
  Harness h(lmtp_config());
  h.send("LHLO mta");
  h.send("MAIL FROM:<a@example.org>");
  CHECK(h.send("RCPT TO:<alice@example.test>") == "250 2.1.5 <alice@example.test> OK\r\n");
  CHECK(h.send("RCPT TO:<bob@example.test>") == "250 2.1.5 <bob@example.test> OK\r\n");
  CHECK(h.send("RCPT TO:<ALICE@example.test>") == "250 2.1.5 <ALICE@example.test> OK (duplicate)\r\n");
  h.commit_ok = {false, true};  // alice's copy fails, bob's is made
  h.send("DATA");
  CHECK(h.received.back().maildirs == std::vector<std::string>{"/m/alice", "/m/bob"});
  CHECK(h.data({"x"}) ==
        "451 4.3.0 <alice@example.test> local error in processing, try again later\r\n"
        "250 2.0.0 <bob@example.test> delivered\r\n"
        "451 4.3.0 <ALICE@example.test> local error in processing, try again later\r\n");
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  core::BodySummary bare;
  bare.bare_endings = 1;
  const std::string refusal = "554 5.6.0 bare LF or CR in message data (only CRLF ends a line)\r\n";
  CHECK(h.data({"x"}, bare) == refusal + refusal);
}

TEST_CASE("STARTTLS: offered when available, then a fresh EHLO is required") {
  SessionConfig c = smtp_config();
  c.starttls_available = true;
  Harness h(c);
  CHECK(h.send("STARTTLS") == "503 5.5.1 send EHLO first\r\n");
  CHECK(h.send("EHLO c").find("250-STARTTLS\r\n") != std::string::npos);
  h.send("MAIL FROM:<a@example.org>");
  CHECK(h.send("STARTTLS") == "220 2.0.0 Ready to start TLS\r\n");
  CHECK(h.tls_starts == 1);
  CHECK(h.session.secure());
  CHECK(h.send("RCPT TO:<alice@example.test>") == "503 5.5.1 send EHLO first\r\n");
  const std::string ehlo = h.send("EHLO c");
  CHECK(ehlo.find("STARTTLS") == std::string::npos);
  CHECK(h.send("STARTTLS") == "503 5.5.1 TLS already active\r\n");
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  CHECK(h.received.back().trace.with == "ESMTPS");
}

TEST_CASE("STARTTLS is refused when not available") {
  Harness h(smtp_config());
  h.send("EHLO c");
  CHECK(h.send("STARTTLS") == "502 5.5.1 STARTTLS not available\r\n");
}

TEST_CASE("SMTPUTF8: a UTF-8 transaction is recorded as such; off, it is not advertised") {
  Harness h(smtp_config());
  h.send("EHLO c");
  CHECK(h.send("MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8") == "250 2.1.0 OK\r\n");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  CHECK(h.received.back().trace.with == "UTF8SMTP");
  SessionConfig c = smtp_config();
  c.smtputf8 = false;
  Harness off(c);
  CHECK(off.send("EHLO c").find("SMTPUTF8") == std::string::npos);
}

TEST_CASE("loggable_line redacts AUTH's arguments past the mechanism, nothing else") {
  CHECK(Session::loggable_line("AUTH PLAIN AGFsaWNlAHNlY3JldA==") == "AUTH PLAIN <redacted>");
  CHECK(Session::loggable_line("auth login") == "auth login");
  CHECK(Session::loggable_line("MAIL FROM:<a@example.test>") == "MAIL FROM:<a@example.test>");
  CHECK(Session::loggable_line("EHLO client.example.test") == "EHLO client.example.test");
}

TEST_CASE("quota: a full mailbox is refused at RCPT with 552 5.2.2, the others are accepted; SIZE is passed on") {
  Harness h(smtp_config());
  h.directory["full@example.test"] = {RecipientStatus::kOverQuota, "/m/full", "full@example.test", {},
                                      "mailbox full: 10 of 10 messages"};
  h.send("EHLO c");
  h.send("MAIL FROM:<a@example.org> SIZE=500");
  CHECK(h.send("RCPT TO:<full@example.test>") == "552 5.2.2 <full@example.test>: mailbox full: 10 of 10 messages\r\n");
  CHECK(h.send("RCPT TO:<alice@example.test>") == "250 2.1.5 <alice@example.test> OK\r\n");
  CHECK(h.lookup_sizes == std::vector<std::optional<uint64_t>>{500, 500});
  CHECK(h.failures == 0);  // a full mailbox is no guess at a name
  h.send("DATA");
  CHECK(h.received.back().maildirs == std::vector<std::string>{"/m/alice"});
  CHECK(!h.received.back().quota_per_copy);
  CHECK(h.data({"x"}) == "250 2.0.0 OK delivered\r\n");
  // Only refused recipients: pipelined DATA gets 554.
  h.send("MAIL FROM:<a@example.org>");
  CHECK(h.lookup_sizes.size() == 2);
  h.send("RCPT TO:<full@example.test>");
  CHECK(h.lookup_sizes.back() == std::nullopt);
  CHECK(h.send("DATA") == "554 5.5.1 no valid recipients\r\n");
}

TEST_CASE("quota: SMTP refuses at the end of DATA only when every copy is over, whole") {
  Harness h(smtp_config());
  h.directory["alice@example.test"].quota.bytes = 1000;
  h.send("EHLO c");
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("DATA");
  REQUIRE(h.received.back().quotas.size() == 1);
  CHECK(h.received.back().quotas[0].bytes == 1000u);
  h.held_back["/m/alice"] = "message of 900 octets exceeds the mailbox quota: 200 of 1000 octets used";
  CHECK(h.data({"x"}) ==
        "552 5.2.2 message of 900 octets exceeds the mailbox quota: 200 of 1000 octets used\r\n");
  CHECK(h.session.delivered() == 0);
  h.held_back["/m/bob"] = "mailbox full: 3 of 3 messages";
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("RCPT TO:<bob@example.test>");
  h.send("DATA");
  CHECK(h.data({"x"}) == "552 5.2.2 every recipient's mailbox is full or over its quota\r\n");
}

TEST_CASE("quota: LMTP answers each recipient after DATA: 552 5.2.2 for one over its quota, 250 for the others") {
  Harness h(lmtp_config());
  h.send("LHLO mta");
  h.send("MAIL FROM:<a@example.org>");
  h.send("RCPT TO:<alice@example.test>");
  h.send("RCPT TO:<bob@example.test>");
  h.send("RCPT TO:<Bob@example.test>");
  h.send("DATA");
  CHECK(h.received.back().quota_per_copy);
  h.held_back["/m/bob"] = "mailbox full: 3 of 3 messages";
  CHECK(h.data({"x"}) ==
        "250 2.0.0 <alice@example.test> delivered\r\n"
        "552 5.2.2 <bob@example.test> mailbox full: 3 of 3 messages\r\n"
        "552 5.2.2 <Bob@example.test> mailbox full: 3 of 3 messages\r\n");
  CHECK(h.session.delivered() == 1);
}
