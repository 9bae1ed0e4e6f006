// Fuzzes the POP3 session state machine (modules/pop3/session.h) with an arbitrary byte stream:
// the first byte picks the connection's settings, the rest is framed by the core line reader as
// the POP3 adapter frames it (lenient, 512 octets), and every effect is answered at once by a
// fake store that knows one mailbox (user@example.org, password "pass", every secret kind), so
// AUTHORIZATION, the SASL exchanges (PLAIN, LOGIN, CRAM-MD5, NTLM, SCRAM), APOP, TRANSACTION and
// UPDATE are all reachable. Fixed challenges and nonces make a valid exchange replayable.
// Invariants: every reply is CRLF lines of at most 512 octets, starting "+OK", "-ERR" or "+ ",
// multi-line ones ending ".\r\n"; each effect comes from the state that goes with it (and
// returns it to a state that takes lines); the bad-command limit holds; Close means closed.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sasl/cram_md5.h"
#include "auth/sasl/ntlm.h"
#include "auth/sasl/scram.h"
#include "core/net/line_reader.h"
#include "modules/pop3/session.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace pop3 = mailroom::pop3;
namespace sasl = mailroom::auth::sasl;
using mailroom::core::LineReader;

constexpr std::size_t kMaxReply = 512;  // RFC 2449, CRLF included
const mailroom::storage::Address kUser{"user", "example.org"};
constexpr std::string_view kPassword = "pass";

std::optional<sasl::Secret> secret_of(sasl::SecretKind kind) {
  static const std::string cram = sasl::cram_md5_contexts(kPassword);
  static const std::string nt = sasl::ntlm_nt_hash(kPassword);
  static const std::string scram1 =
      sasl::scram_encode(sasl::scram_derive_keys(kPassword, "fuzzsalt", 4096, sasl::ScramHash::kSha1));
  static const std::string scram256 =
      sasl::scram_encode(sasl::scram_derive_keys(kPassword, "fuzzsalt", 4096, sasl::ScramHash::kSha256));
  switch (kind) {
    case sasl::SecretKind::kPlaintextPassword: return sasl::Secret{kind, std::string(kPassword)};
    case sasl::SecretKind::kCramMd5Contexts: return sasl::Secret{kind, cram};
    case sasl::SecretKind::kScramSha1: return sasl::Secret{kind, scram1};
    case sasl::SecretKind::kScramSha256: return sasl::Secret{kind, scram256};
    case sasl::SecretKind::kNtHash: return sasl::Secret{kind, nt};
  }
  return std::nullopt;
}

// The fake maildrop: the second message cannot be read (its stream fails).
std::vector<mailroom::storage::MessageInfo> listing() {
  return {{"uid-1", 120, "/fuzz/1"}, {"uid-2", 0, "/fuzz/2"}, {"uid-3", 4000, "/fuzz/3"}};
}

bool takes_lines(pop3::State s) {
  return s == pop3::State::kAuthorization || s == pop3::State::kTransaction || s == pop3::State::kSaslExchange ||
         s == pop3::State::kSaslFinal;
}

void check_reply(const std::string& reply) {
  if (reply.empty()) return;
  mailroom::fuzz::trace("S:", reply);
  FUZZ_CHECK_DATA(mailroom::fuzz::wire_lines_ok(reply, kMaxReply), reply);
  const std::string_view r = reply;
  FUZZ_CHECK_DATA(r.starts_with("+OK") || r.starts_with("-ERR") || r.starts_with("+ "), reply);
  const std::size_t first_end = r.find("\r\n") + 2;
  if (first_end < r.size()) {  // multi-line: only +OK, ended by a lone dot
    FUZZ_CHECK_DATA(r.starts_with("+OK") && r.ends_with("\r\n.\r\n"), reply);
  }
  if (r.starts_with("+ ")) FUZZ_CHECK_DATA(first_end == r.size(), reply);
}

class Driver {
 public:
  explicit Driver(pop3::SessionConfig config) : max_bad_(config.max_bad_commands), session_(std::move(config)) {}

  // Runs a step and every effect it leads to; false once the session closed.
  bool run(pop3::Step step) {
    for (;;) {
      check_reply(step.reply);
      if (max_bad_ > 0) FUZZ_CHECK(session_.bad_commands() <= static_cast<std::size_t>(max_bad_));
      if (std::holds_alternative<pop3::NoEffect>(step.effect)) {
        FUZZ_CHECK(takes_lines(session_.state()));
        return true;
      }
      if (std::holds_alternative<pop3::Close>(step.effect)) {
        FUZZ_CHECK(session_.state() == pop3::State::kClosed);
        return false;
      }
      std::optional<pop3::Step> next = answer(step);
      if (!next) return true;
      step = std::move(*next);
    }
  }

  pop3::Session& session() { return session_; }

 private:
  std::optional<pop3::Step> answer(pop3::Step& step) {
    const std::size_t messages = listing().size();
    if (auto* auth = std::get_if<pop3::Authenticate>(&step.effect)) {
      FUZZ_CHECK(step.reply.empty() && session_.state() == pop3::State::kAwaitingLogin);
      if (auth->verified) FUZZ_CHECK(auth->password.empty() && auth->address == kUser);
      if (auth->address == kUser && (auth->verified || auth->password == kPassword)) {
        return session_.on_login_result(mailroom::auth::LoginOutcome::kOk, listing());
      }
      // Other outcomes by password, so the fuzzer reaches each reply.
      if (auth->password == "inuse") return session_.on_login_result(mailroom::auth::LoginOutcome::kInUse);
      if (auth->password == "temp") return session_.on_login_result(mailroom::auth::LoginOutcome::kTemporary);
      return session_.on_login_result(mailroom::auth::LoginOutcome::kAuthFailed);
    }
    if (auto* fetch = std::get_if<pop3::FetchSecret>(&step.effect)) {
      FUZZ_CHECK(step.reply.empty() && session_.state() == pop3::State::kAwaitingSecret);
      FUZZ_CHECK(!fetch->accepted.empty());
      if (fetch->address.mailbox == "dberror") return session_.on_secret_error();
      if (fetch->address != kUser) return session_.on_secret(std::nullopt);
      return session_.on_secret(secret_of(fetch->accepted.front()));
    }
    if (std::holds_alternative<pop3::RejectLogin>(step.effect)) {
      FUZZ_CHECK(step.reply.empty() && session_.state() == pop3::State::kAwaitingLogin);
      return session_.on_login_result(mailroom::auth::LoginOutcome::kAuthFailed);
    }
    if (auto* stream = std::get_if<pop3::StreamMessage>(&step.effect)) {
      FUZZ_CHECK(step.reply.empty() && session_.state() == pop3::State::kStreaming);
      FUZZ_CHECK(stream->index < messages && !session_.marked_deleted(stream->index));
      FUZZ_CHECK_DATA(stream->ok_reply.starts_with("+OK") &&
                          stream->ok_reply.find("\r\n") + 2 == stream->ok_reply.size() &&
                          mailroom::fuzz::wire_lines_ok(stream->ok_reply, kMaxReply),
                      stream->ok_reply);
      if (listing()[stream->index].size == 0) return session_.on_stream_failed();
      session_.on_stream_done();
      FUZZ_CHECK(session_.state() == pop3::State::kTransaction);
      return std::nullopt;
    }
    if (auto* commit = std::get_if<pop3::CommitDeletions>(&step.effect)) {
      FUZZ_CHECK(step.reply.empty() && session_.state() == pop3::State::kUpdate);
      bool third = false;
      for (std::size_t i = 0; i < commit->indexes.size(); ++i) {
        FUZZ_CHECK(commit->indexes[i] < messages && session_.marked_deleted(commit->indexes[i]));
        if (i > 0) FUZZ_CHECK(commit->indexes[i - 1] < commit->indexes[i]);
        third = third || commit->indexes[i] == 2;
      }
      (void)session_.release_listing();
      if (third) return session_.on_update_result(mailroom::make_error(mailroom::ErrorCode::kIo, "fuzz: unlink failed"));
      return session_.on_update_result(mailroom::Status());
    }
    if (std::holds_alternative<pop3::StartTls>(step.effect)) {
      FUZZ_CHECK(!session_.secure() && session_.state() == pop3::State::kAuthorization);
      session_.on_tls_started();
      FUZZ_CHECK(session_.secure());
      return std::nullopt;
    }
    FUZZ_CHECK(false);  // an effect this driver does not know
    return std::nullopt;
  }

  int64_t max_bad_;
  pop3::Session session_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  pop3::SessionConfig config;
  config.apop_timestamp = "<1.2@fuzz.example>";
  config.secure = flags & 1;
  config.plaintext_login_allowed = flags & 2;
  config.stls_available = flags & 4;
  config.ntlm_v1 = flags & 8;
  config.capa_implementation = flags & 16;
  config.max_bad_commands = (flags >> 5) == 7 ? 0 : 10 + (flags >> 5);
  config.alt_at_chars = (flags >> 5) == 6 ? "%" : "";
  config.sasl_mechanisms = {"PLAIN", "LOGIN", "CRAM-MD5", "NTLM", "SCRAM-SHA-256", "SCRAM-SHA-1"};
  config.cram_md5_challenge = "<1.2@fuzz.example>";
  config.scram_server_nonce = "fuzznonce";
  config.ntlm_server_challenge = std::string("\x01\x23\x45\x67\x89\xab\xcd\xef", 8);

  Driver driver(std::move(config));
  if (!driver.run(driver.session().greeting())) return 0;

  LineReader reader;
  reader.set_mode(mailroom::core::LineMode{512, mailroom::core::LineFraming::kLenient});
  reader.append(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  for (;;) {
    const LineReader::Event event = reader.next();
    if (event.kind == LineReader::Kind::kNone) break;
    bool open = true;
    if (event.kind == LineReader::Kind::kLine) {
      FUZZ_CHECK(event.text.size() < 512);
      mailroom::fuzz::trace("C:", event.text);
      open = driver.run(driver.session().on_line(event.text));
    } else if (event.kind == LineReader::Kind::kTooLong) {
      open = driver.run(driver.session().on_line_too_long());
    } else {
      FUZZ_CHECK(false);  // POP3 never asks for body mode
    }
    if (!open) break;
  }
  return 0;
}
