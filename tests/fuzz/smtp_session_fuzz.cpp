// Fuzzes the SMTP/LMTP session state machine (modules/smtp-stub/smtp_session.h) with its DATA
// reader: two bytes pick the settings (SMTP or LMTP, bare line endings refused or normalised,
// SMTPUTF8, STARTTLS, the command line limit, the recipient, Received-header, error and size
// limits); the rest is framed by the core line reader as the adapter frames it (strict, body
// mode after 354), and every effect is answered at once by a fake directory: local part "user"
// or "user2" @example.org is a mailbox (user2's copy fails to commit), "off" is disabled,
// "temp" fails the lookup, other example.org parts are unknown ("block..." gets the client
// blocked), other domains are foreign.
// Invariants: every reply is CRLF lines of at most 512 octets, each "ddd" + ' ' or '-'; the
// Received/Return-Path header lines it would add stay within RFC 5322's 998; a commit only
// follows data within the size cap, without over-long lines, without bare endings when they
// are refused and with no more Received: headers than allowed, and only for accepted
// recipients (at most max_recipients, one maildir each); LMTP answers the data once per accepted
// recipient, SMTP once; the bad-command limit closes the session.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/line_reader.h"
#include "delivery/trace_headers.h"
#include "modules/smtp-stub/smtp_session.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace smtp = mailroom::smtp;
using mailroom::core::LineReader;

constexpr std::size_t kMaxReply = 512;     // RFC 5321 4.5.3.1.5, CRLF included
constexpr std::size_t kMaxHeaderLine = 1000;  // RFC 5322 2.1.1: 998 + CRLF

std::size_t line_count(std::string_view reply) {
  std::size_t n = 0;
  for (char c : reply) n += c == '\n';
  return n;
}

void check_reply(const std::string& reply) {
  if (!reply.empty()) mailroom::fuzz::trace("S:", reply);
  FUZZ_CHECK_DATA(mailroom::fuzz::wire_lines_ok(reply, kMaxReply), reply);
  std::string_view r = reply;
  while (!r.empty()) {
    FUZZ_CHECK_DATA(r.size() >= 5 && r[0] >= '2' && r[0] <= '5' && r[1] >= '0' && r[1] <= '9' && r[2] >= '0' &&
                        r[2] <= '9' && (r[3] == ' ' || r[3] == '-'),
                    reply);
    r.remove_prefix(r.find('\n') + 1);
  }
}

bool starts_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    // tolower, not `| 0x20`: that maps 0x1a to ':' and counted "received\x1a" as a header.
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

smtp::RecipientVerdict look_up(const smtp::RcptTo& rcpt) {
  if (rcpt.postmaster) return {smtp::RecipientStatus::kOk, "/m/user", "user@example.org", {}, {}};
  if (rcpt.domain != "example.org") return {smtp::RecipientStatus::kForeignDomain, "", "", {}, {}};
  if (rcpt.local == "user" || rcpt.local == "user2") {
    return {smtp::RecipientStatus::kOk, "/m/" + rcpt.local, rcpt.local + "@example.org", {}, {}};
  }
  if (rcpt.local == "off") return {smtp::RecipientStatus::kDisabled, "", "", {}, {}};
  if (rcpt.local == "temp") return {smtp::RecipientStatus::kTemporary, "", "", {}, {}};
  if (rcpt.local == "full") return {smtp::RecipientStatus::kOverQuota, "/m/full", "full@example.org", {}, "mailbox full"};
  return {smtp::RecipientStatus::kUnknownMailbox, "", "", {}, {}};
}

class Driver {
 public:
  explicit Driver(smtp::SessionConfig config) : config_(config), session_(std::move(config)) {}

  // Runs a step and the effects it leads to; false once the session closed.
  bool run(smtp::Step step) {
    for (;;) {
      check_reply(step.reply);
      FUZZ_CHECK(session_.bad_commands() <= config_.max_bad_commands + 1);
      const smtp::State state = session_.state();
      if (state == smtp::State::kFresh || state == smtp::State::kReady) accepted_ = 0;
      if (step.reply.starts_with("250 2.1.5")) ++accepted_;
      FUZZ_CHECK(accepted_ <= config_.max_recipients);
      if (std::holds_alternative<smtp::NoEffect>(step.effect)) {
        FUZZ_CHECK(state != smtp::State::kAwaitingLookup && state != smtp::State::kAwaitingCount &&
                   state != smtp::State::kCommitting && state != smtp::State::kClosed);
        return true;
      }
      if (std::holds_alternative<smtp::Close>(step.effect)) {
        FUZZ_CHECK(state == smtp::State::kClosed);
        return false;
      }
      std::optional<smtp::Step> next = answer(step);
      if (!next) return true;
      step = std::move(*next);
    }
  }

  smtp::Session& session() { return session_; }
  LineReader& reader() { return reader_; }

  void data_line(std::string_view text) {
    session_.on_data_line(text);
    if (in_headers_) {
      if (text.empty()) {
        in_headers_ = false;
      } else if (starts_nocase(text, "Received:")) {
        ++received_;
      }
    }
  }

  bool data_end(const mailroom::core::BodySummary& summary) {
    summary_ = summary;
    return run(session_.on_data_end(summary));
  }

 private:
  std::optional<smtp::Step> answer(smtp::Step& step) {
    if (auto* lookup = std::get_if<smtp::LookupRecipient>(&step.effect)) {
      FUZZ_CHECK(step.reply.empty() && session_.state() == smtp::State::kAwaitingLookup);
      last_rcpt_ = lookup->rcpt;
      return session_.on_recipient(look_up(lookup->rcpt));
    }
    if (std::holds_alternative<smtp::CountFailure>(step.effect)) {
      FUZZ_CHECK(step.reply.empty() && session_.state() == smtp::State::kAwaitingCount);
      return session_.on_failure_counted(last_rcpt_.local.starts_with("block"));
    }
    if (auto* data = std::get_if<smtp::ReceiveData>(&step.effect)) {
      FUZZ_CHECK(session_.state() == smtp::State::kData && step.reply.starts_with("354 "));
      FUZZ_CHECK(!data->maildirs.empty() && data->maildirs.size() <= accepted_);
      FUZZ_CHECK(std::set<std::string>(data->maildirs.begin(), data->maildirs.end()).size() == data->maildirs.size());
      FUZZ_CHECK(data->max_size == config_.max_message_size && data->max_line_length == config_.max_line_length);
      data->trace.id = "1.2.3";
      data->trace.date = "Sat, 05 Dec 2026 12:37:21 +0000";
      data->trace.tls_version = session_.secure() ? "TLSv1.3" : "";
      data->trace.tls_cipher = session_.secure() ? "TLS_AES_256_GCM_SHA384" : "";
      const std::string head = mailroom::delivery::trace_headers(data->trace);
      FUZZ_CHECK_DATA(mailroom::fuzz::wire_lines_ok(head, kMaxHeaderLine), head);
      FUZZ_CHECK_DATA(head.starts_with("Return-Path: <") && head.find("\r\nReceived: from ") != std::string::npos,
                      head);
      data_rcpts_ = accepted_;
      maildirs_ = data->maildirs.size();
      in_headers_ = true;
      received_ = 0;
      reader_.begin_body(mailroom::core::BodyMode{data->max_line_length, data->max_size});
      return std::nullopt;
    }
    if (std::holds_alternative<smtp::DiscardData>(step.effect)) {
      FUZZ_CHECK(session_.state() == smtp::State::kReady);
      FUZZ_CHECK_DATA(line_count(step.reply) == (config_.protocol == smtp::Protocol::kLmtp ? data_rcpts_ : 1),
                      step.reply);
      return std::nullopt;
    }
    if (std::holds_alternative<smtp::CommitData>(step.effect)) {
      FUZZ_CHECK(step.reply.empty() && session_.state() == smtp::State::kCommitting);
      FUZZ_CHECK(!summary_.over_size && summary_.long_lines == 0);
      FUZZ_CHECK(summary_.octets <= config_.max_message_size);
      if (config_.reject_bare_line_endings) FUZZ_CHECK(summary_.bare_endings == 0);
      FUZZ_CHECK(received_ <= config_.max_received_headers);
      smtp::CommitResult result;
      for (std::size_t i = 0; i < maildirs_; ++i) {
        // The second mailbox's copy fails (a full disk), to reach the partial replies.
        result.per_recipient.push_back(i == 1 ? mailroom::Status(mailroom::make_error(mailroom::ErrorCode::kTemporary, "full"))
                                              : mailroom::Status());
      }
      if (summary_.octets % 7 == 3) result = {mailroom::make_error(mailroom::ErrorCode::kIo, "fsync failed"), {}, {}};
      smtp::Step done = session_.on_commit_result(result);
      FUZZ_CHECK_DATA(line_count(done.reply) == (config_.protocol == smtp::Protocol::kLmtp ? data_rcpts_ : 1),
                      done.reply);
      return done;
    }
    if (std::holds_alternative<smtp::StartTls>(step.effect)) {
      FUZZ_CHECK(!session_.secure() && step.reply.starts_with("220 "));
      session_.on_tls_started();
      FUZZ_CHECK(session_.secure() && session_.state() == smtp::State::kFresh);
      return std::nullopt;
    }
    FUZZ_CHECK(false);  // an effect this driver does not know
    return std::nullopt;
  }

  smtp::SessionConfig config_;
  smtp::Session session_;
  LineReader reader_;
  smtp::RcptTo last_rcpt_;
  std::size_t accepted_ = 0;    // recipients accepted in the transaction
  std::size_t data_rcpts_ = 0;  // ... when its data began
  std::size_t maildirs_ = 0;
  bool in_headers_ = true;
  std::size_t received_ = 0;
  mailroom::core::BodySummary summary_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t a = data[0];
  const uint8_t b = data[1];
  smtp::SessionConfig config;
  config.protocol = a & 1 ? smtp::Protocol::kLmtp : smtp::Protocol::kSmtp;
  config.reject_bare_line_endings = !(a & 2);
  config.smtputf8 = !(a & 4);
  config.starttls_available = a & 8;
  config.secure = a & 16;
  config.count_unknown_recipients = !(a & 32);
  static constexpr std::size_t kCommandLimits[] = {512, 64, 4096, 65536};  // max_command_length
  const std::size_t max_command = kCommandLimits[a >> 6];
  config.max_recipients = 1 + (b & 3);
  config.max_received_headers = 1 + ((b >> 2) & 3);
  config.max_bad_commands = 1 + ((b >> 4) & 3) * 4;
  config.max_message_size = (b & 64) ? 1024 : 64 * 1024;
  config.max_line_length = (b & 128) ? 1000 : 65536;
  config.hostname = "mx.fuzz.example";
  config.peer_ip = (a & 1) ? "" : "192.0.2.1";

  Driver driver(config);
  if (!driver.run(driver.session().greeting())) return 0;
  LineReader& reader = driver.reader();
  reader.set_mode(mailroom::core::LineMode{max_command, mailroom::core::LineFraming::kStrict});
  reader.append(std::string_view(reinterpret_cast<const char*>(data) + 2, size - 2));
  for (;;) {
    const LineReader::Event event = reader.next();
    bool open = true;
    switch (event.kind) {
      case LineReader::Kind::kNone: return 0;
      case LineReader::Kind::kLine:
        mailroom::fuzz::trace("C:", event.text);
        open = driver.run(driver.session().on_line(event.text, event.ending)); break;
      case LineReader::Kind::kTooLong: open = driver.run(driver.session().on_line_too_long()); break;
      case LineReader::Kind::kBodyLine: driver.data_line(event.text); break;
      case LineReader::Kind::kBodyEnd: open = driver.data_end(event.summary); break;
    }
    if (!open) return 0;
  }
}
