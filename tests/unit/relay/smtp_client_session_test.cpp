// Tests for the relay's SMTP client state machine as wire transcripts: each server reply in,
// the commands and effects out, and the per-recipient outcomes at the end.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "relay/smtp_client_session.h"

using mailroom::relay::ClientConfig;
using mailroom::relay::ClientStep;
using mailroom::relay::RecipientOutcome;
using mailroom::relay::SmtpClientSession;

namespace {

const char* kEhloTls = "250-smart.test\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250 STARTTLS\r\n";

ClientConfig plain_config() { return ClientConfig{"a.test", false, "", ""}; }

std::string joined(const ClientStep& step) {
  std::string out;
  for (const auto& line : step.send) out += line;
  return out;
}

bool transcript_contains(const SmtpClientSession& s, const std::string& text) {
  for (const auto& line : s.transcript()) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("happy path with STARTTLS: EHLO twice, SIZE, every recipient delivered") {
  SmtpClientSession s(ClientConfig{"a.test", true, "", ""}, "alice@a.test", {"bob@remote.test", "carol@remote.test"}, 42);
  CHECK(joined(s.on_bytes("220 smart.test ESMTP\r\n")) == "EHLO a.test\r\n");
  CHECK(joined(s.on_bytes(kEhloTls)) == "STARTTLS\r\n");
  ClientStep tls = s.on_bytes("220 go ahead\r\n");
  CHECK(tls.start_tls);
  CHECK(tls.send.empty());
  CHECK(joined(s.on_tls_started()) == "EHLO a.test\r\n");
  CHECK(s.tls_active());
  CHECK(joined(s.on_bytes("250-smart.test\r\n250 SIZE 1000000\r\n")) == "MAIL FROM:<alice@a.test> SIZE=42\r\n");
  CHECK(joined(s.on_bytes("250 2.1.0 ok\r\n")) == "RCPT TO:<bob@remote.test>\r\n");
  CHECK(joined(s.on_bytes("250 2.1.5 ok\r\n")) == "RCPT TO:<carol@remote.test>\r\n");
  CHECK(joined(s.on_bytes("250 2.1.5 ok\r\n")) == "DATA\r\n");
  ClientStep body = s.on_bytes("354 go\r\n");
  CHECK(body.send_body);
  CHECK(joined(s.on_bytes("250 2.0.0 queued as X\r\n")) == "QUIT\r\n");
  CHECK(s.on_bytes("221 bye\r\n").close);
  CHECK(s.finished());
  CHECK(s.failure().empty());
  for (const auto& r : s.results()) {
    CHECK(r.outcome == RecipientOutcome::kDelivered);
    CHECK(r.reply == "250 2.0.0 queued as X");
  }
}

TEST_CASE("replies split across reads and bare LF endings are reassembled") {
  SmtpClientSession s(plain_config(), "a@a.test", {"b@b.test"}, 1);
  CHECK(s.on_bytes("22").send.empty());
  CHECK(joined(s.on_bytes("0 hi\n")) == "EHLO a.test\r\n");
  CHECK(s.on_bytes("250-x\r\n250-SI").send.empty());
  CHECK(joined(s.on_bytes("ZE\r\n250 HELP\r\n")) == "MAIL FROM:<a@a.test> SIZE=1\r\n");
}

TEST_CASE("no STARTTLS offered: temporary failure, nothing sent") {
  SmtpClientSession s(ClientConfig{"a.test", true, "u", "secret"}, "a@a.test", {"b@b.test"}, 1);
  s.on_bytes("220 hi\r\n");
  CHECK(joined(s.on_bytes("250-smart.test\r\n250 AUTH PLAIN\r\n")) == "QUIT\r\n");
  CHECK(s.failure() == "smarthost offers no STARTTLS");
  CHECK(s.results()[0].outcome == RecipientOutcome::kTemporary);
  CHECK(!transcript_contains(s, "MAIL"));
  CHECK(!transcript_contains(s, "C: AUTH"));
  CHECK(s.on_bytes("221 bye\r\n").close);
}

TEST_CASE("EHLO refused: HELO fallback; with STARTTLS required that is a temporary failure") {
  SmtpClientSession plain(plain_config(), "a@a.test", {"b@b.test"}, 5);
  plain.on_bytes("220 hi\r\n");
  CHECK(joined(plain.on_bytes("502 no EHLO\r\n")) == "HELO a.test\r\n");
  CHECK(joined(plain.on_bytes("250 hello\r\n")) == "MAIL FROM:<a@a.test>\r\n");  // no SIZE= without EHLO

  SmtpClientSession tls(ClientConfig{"a.test", true, "", ""}, "a@a.test", {"b@b.test"}, 5);
  tls.on_bytes("220 hi\r\n");
  tls.on_bytes("500 what\r\n");
  CHECK(joined(tls.on_bytes("250 hello\r\n")) == "QUIT\r\n");
  CHECK(tls.failure() == "smarthost offers no STARTTLS");
}

TEST_CASE("AUTH PLAIN after TLS; the credentials never reach the transcript") {
  SmtpClientSession s(ClientConfig{"a.test", true, "relayuser", "s3cret-pw"}, "a@a.test", {"b@b.test"}, 1);
  s.on_bytes("220 hi\r\n");
  s.on_bytes(kEhloTls);
  s.on_bytes("220 go\r\n");
  s.on_tls_started();
  // base64("\0relayuser\0s3cret-pw")
  CHECK(joined(s.on_bytes("250-smart\r\n250 AUTH LOGIN PLAIN\r\n")) == "AUTH PLAIN AHJlbGF5dXNlcgBzM2NyZXQtcHc=\r\n");
  CHECK(joined(s.on_bytes("235 ok\r\n")) == "MAIL FROM:<a@a.test>\r\n");
  CHECK(transcript_contains(s, "AUTH PLAIN [credentials]"));
  CHECK(!transcript_contains(s, "AHJlbGF5"));
  CHECK(!transcript_contains(s, "s3cret"));
}

TEST_CASE("AUTH LOGIN when only LOGIN is offered; a refusal is temporary") {
  SmtpClientSession s(ClientConfig{"a.test", false, "relayuser", "s3cret-pw"}, "a@a.test", {"b@b.test"}, 1);
  s.on_bytes("220 hi\r\n");
  CHECK(joined(s.on_bytes("250-smart\r\n250 AUTH=LOGIN\r\n")) == "AUTH LOGIN\r\n");
  CHECK(joined(s.on_bytes("334 VXNlcm5hbWU6\r\n")) == "cmVsYXl1c2Vy\r\n");
  CHECK(joined(s.on_bytes("334 UGFzc3dvcmQ6\r\n")) == "czNjcmV0LXB3\r\n");
  CHECK(joined(s.on_bytes("535 5.7.8 no\r\n")) == "QUIT\r\n");
  CHECK(s.results()[0].outcome == RecipientOutcome::kTemporary);
  CHECK(s.failure() == "smarthost refused the credentials: 535 5.7.8 no");
  CHECK(!transcript_contains(s, "cmVsYXl1c2Vy"));
  CHECK(!transcript_contains(s, "czNjcmV0LXB3"));
  CHECK(transcript_contains(s, "C: [password]"));
}

TEST_CASE("credentials but no AUTH PLAIN or LOGIN offered: temporary failure") {
  SmtpClientSession s(ClientConfig{"a.test", false, "u", "p"}, "a@a.test", {"b@b.test"}, 1);
  s.on_bytes("220 hi\r\n");
  CHECK(joined(s.on_bytes("250-smart\r\n250 AUTH CRAM-MD5\r\n")) == "QUIT\r\n");
  CHECK(s.failure() == "smarthost offers no AUTH PLAIN or LOGIN");
}

TEST_CASE("mixed RCPT results: 250, 450, 550; only the accepted one is sent") {
  SmtpClientSession s(plain_config(), "a@a.test", {"ok@b.test", "later@b.test", "nobody@b.test"}, 1);
  s.on_bytes("220 hi\r\n");
  s.on_bytes("250 smart\r\n");
  s.on_bytes("250 ok\r\n");
  s.on_bytes("250 ok\r\n");
  s.on_bytes("450 4.2.1 try later\r\n");
  CHECK(joined(s.on_bytes("550 5.1.1 no such user\r\n")) == "DATA\r\n");
  CHECK(s.on_bytes("354 go\r\n").send_body);
  s.on_bytes("250 done\r\n");
  const auto& r = s.results();
  CHECK(r[0].outcome == RecipientOutcome::kDelivered);
  CHECK(r[1].outcome == RecipientOutcome::kTemporary);
  CHECK(r[1].reply == "450 4.2.1 try later");
  CHECK(r[2].outcome == RecipientOutcome::kPermanent);
  CHECK(r[2].reply == "550 5.1.1 no such user");
}

TEST_CASE("every RCPT refused: no DATA, QUIT") {
  SmtpClientSession s(plain_config(), "a@a.test", {"x@b.test"}, 1);
  s.on_bytes("220 hi\r\n250 smart\r\n");
  s.on_bytes("250 ok\r\n");
  CHECK(joined(s.on_bytes("550 no\r\n")) == "QUIT\r\n");
  CHECK(s.results()[0].outcome == RecipientOutcome::kPermanent);
}

TEST_CASE("4xx on DATA: accepted recipients are temporary") {
  SmtpClientSession s(plain_config(), "a@a.test", {"b@b.test", "c@b.test"}, 1);
  s.on_bytes("220 hi\r\n250 smart\r\n");
  s.on_bytes("250 ok\r\n");
  s.on_bytes("250 ok\r\n");
  s.on_bytes("550 unknown\r\n");
  CHECK(joined(s.on_bytes("451 4.3.0 busy\r\n")) == "QUIT\r\n");
  CHECK(s.results()[0].outcome == RecipientOutcome::kTemporary);
  CHECK(s.results()[0].reply == "451 4.3.0 busy");
  CHECK(s.results()[1].outcome == RecipientOutcome::kPermanent);
  CHECK(s.failure() == "smarthost refused DATA: 451 4.3.0 busy");
}

TEST_CASE("5xx after the message: permanent") {
  SmtpClientSession s(plain_config(), "a@a.test", {"b@b.test"}, 1);
  s.on_bytes("220 hi\r\n250 smart\r\n");
  s.on_bytes("250 ok\r\n");
  s.on_bytes("250 ok\r\n");
  s.on_bytes("354 go\r\n");
  s.on_bytes("554 5.6.0 rejected content\r\n");
  CHECK(s.results()[0].outcome == RecipientOutcome::kPermanent);
}

TEST_CASE("5xx on MAIL: every recipient permanent, no RCPT") {
  SmtpClientSession s(plain_config(), "a@a.test", {"b@b.test", "c@c.test"}, 1);
  s.on_bytes("220 hi\r\n250 smart\r\n");
  CHECK(joined(s.on_bytes("553 5.7.1 sender not allowed\r\n")) == "QUIT\r\n");
  for (const auto& r : s.results()) {
    CHECK(r.outcome == RecipientOutcome::kPermanent);
    CHECK(r.reply == "553 5.7.1 sender not allowed");
  }
  CHECK(!transcript_contains(s, "RCPT"));
}

TEST_CASE("4xx greeting: temporary") {
  SmtpClientSession s(plain_config(), "a@a.test", {"b@b.test"}, 1);
  CHECK(joined(s.on_bytes("421 busy\r\n")) == "QUIT\r\n");
  CHECK(s.results()[0].outcome == RecipientOutcome::kTemporary);
  CHECK(s.failure() == "smarthost greeting: 421 busy");
}

TEST_CASE("malformed replies: temporary failure") {
  for (const char* bad : {"hello\r\n", "2x0 ok\r\n", "25\r\n", "250ok\r\n", "650 what\r\n", "\r\n"}) {
    CAPTURE(bad);
    SmtpClientSession s(plain_config(), "a@a.test", {"b@b.test"}, 1);
    s.on_bytes(bad);
    CHECK(s.results()[0].outcome == RecipientOutcome::kTemporary);
    CHECK(s.failure().starts_with("smarthost sent a malformed reply"));
  }
  SmtpClientSession mixed(plain_config(), "a@a.test", {"b@b.test"}, 1);
  mixed.on_bytes("220 hi\r\n");
  mixed.on_bytes("250-smart\r\n251 other\r\n");
  CHECK(mixed.failure().starts_with("smarthost changed the reply code"));
}

TEST_CASE("over-long reply line and over-long multi-line reply: temporary, the connection closes") {
  SmtpClientSession s(plain_config(), "a@a.test", {"b@b.test"}, 1);
  ClientStep step = s.on_bytes("220 " + std::string(SmtpClientSession::kMaxReplyLine + 10, 'x'));
  CHECK(step.close);
  CHECK(s.finished());
  CHECK(s.results()[0].outcome == RecipientOutcome::kTemporary);
  CHECK(s.failure().find("reply line over") != std::string::npos);

  SmtpClientSession many(plain_config(), "a@a.test", {"b@b.test"}, 1);
  many.on_bytes("220 hi\r\n");
  std::string ehlo;
  for (std::size_t i = 0; i < SmtpClientSession::kMaxReplyLines + 1; ++i) ehlo += "250-X\r\n";
  many.on_bytes(ehlo);
  CHECK(many.failure().find("reply of over") != std::string::npos);
}

TEST_CASE("connection lost midway: undecided recipients temporary, decided ones kept") {
  SmtpClientSession s(plain_config(), "a@a.test", {"b@b.test", "c@b.test"}, 1);
  s.on_bytes("220 hi\r\n250 smart\r\n250 ok\r\n");
  s.on_bytes("550 no\r\n");
  CHECK(s.on_connection_lost("timed out after 5 s").close);
  CHECK(s.results()[0].outcome == RecipientOutcome::kPermanent);
  CHECK(s.results()[1].outcome == RecipientOutcome::kTemporary);
  CHECK(s.results()[1].reply == "timed out after 5 s");
}

TEST_CASE("a lost QUIT reply changes nothing") {
  SmtpClientSession s(plain_config(), "a@a.test", {"b@b.test"}, 1);
  s.on_bytes("220 hi\r\n250 smart\r\n250 ok\r\n250 ok\r\n354 go\r\n");
  s.on_bytes("250 done\r\n");
  s.on_connection_lost("closed");
  CHECK(s.results()[0].outcome == RecipientOutcome::kDelivered);
  CHECK(s.failure().empty());
}
