// CRAM-MD5 server side (RFC 2195) and the Dovecot-compatible stored contexts.
#include "auth/sasl/cram_md5.h"

#include <ctime>
#include <utility>

#include "auth/sasl/base64.h"
#include "auth/sasl/crypto.h"

namespace mailroom::auth::sasl {

namespace {

// The two 64-byte HMAC key blocks (RFC 2104): key (MD5-ed first if longer than 64) XOR pad.
std::string key_block(std::string_view password, char pad) {
  std::string key = password.size() > 64 ? crypto::hash(crypto::Hash::kMd5, password) : std::string(password);
  key.resize(64, '\0');
  for (char& c : key) c = static_cast<char>(c ^ pad);
  return key;
}

std::string state_bytes(const crypto::Md5::State& s) {
  std::string out(16, '\0');
  for (int i = 0; i < 4; ++i) {
    for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<char>((s[i] >> (8 * b)) & 0xff);
  }
  return out;
}

crypto::Md5::State state_from(std::string_view bytes) {
  crypto::Md5::State s{};
  for (int i = 0; i < 4; ++i) {
    uint32_t v = 0;
    for (int b = 3; b >= 0; --b) v = (v << 8) | static_cast<unsigned char>(bytes[4 * i + b]);
    s[i] = v;
  }
  return s;
}

class CramMd5Mechanism final : public AuthMechanism {
 public:
  explicit CramMd5Mechanism(CramMd5Options options) : options_(std::move(options)) {
    challenge_ = options_.challenge;
    if (challenge_.empty()) {
      challenge_ = "<" + crypto::to_hex(crypto::random_bytes(8)) + "." +
                   std::to_string(static_cast<long long>(std::time(nullptr))) + "@" + options_.hostname + ">";
    }
  }

  std::string_view name() const override { return "CRAM-MD5"; }
  bool needs_tls_by_default() const override { return false; }

  MechStep start(std::optional<std::string_view> initial) override {
    if (state_ != State::kStart) return done("CRAM-MD5 exchange already started");
    // The server speaks first in CRAM-MD5, so an initial response is a protocol error (RFC 4422
    // section 4: the mechanism must not allow one).
    if (initial) return done("CRAM-MD5 takes no initial response");
    state_ = State::kChallenged;
    return Challenge{base64_encode(challenge_)};
  }

  MechStep step(std::string_view line) override {
    if (state_ != State::kChallenged) return done("unexpected CRAM-MD5 line");
    state_ = State::kDone;
    auto decoded = decode_client_data(line, false);
    if (auto* f = std::get_if<Failure>(&decoded)) return std::move(*f);
    const std::string& text = std::get<std::string>(decoded);
    // The username may contain spaces; the digest is the last word (RFC 2195 section 2).
    const auto space = text.rfind(' ');
    if (space == std::string::npos || space == 0) return done("CRAM-MD5 response is not 'user digest'");
    auto digest = crypto::from_hex(std::string_view(text).substr(space + 1));
    if (!digest || digest->size() != 16) return done("CRAM-MD5 digest is not 32 hex digits");
    user_ = text.substr(0, space);
    digest_ = std::move(*digest);
    state_ = State::kNeedSecret;
    return NeedSecret{user_, "", "", {SecretKind::kCramMd5Contexts, SecretKind::kPlaintextPassword}};
  }

  MechStep provide_secret(std::optional<Secret> secret) override {
    if (state_ != State::kNeedSecret) return done("CRAM-MD5 did not ask for a secret");
    state_ = State::kDone;
    if (!secret) return Failure{FailureKind::kRejected, "no CRAM-MD5 secret for user '" + user_ + "'"};
    std::string expected;
    if (secret->kind == SecretKind::kPlaintextPassword) {
      expected = crypto::hmac(crypto::Hash::kMd5, secret->value, challenge_);
    } else if (secret->kind == SecretKind::kCramMd5Contexts) {
      auto d = cram_md5_digest_from_contexts(secret->value, challenge_);
      if (!d) return Failure{FailureKind::kRejected, "stored CRAM-MD5 contexts are malformed"};
      expected = std::move(*d);
    } else {
      return Failure{FailureKind::kRejected, "secret of the wrong kind for CRAM-MD5"};
    }
    if (!crypto::equal_ct(expected, digest_)) {
      return Failure{FailureKind::kRejected, "CRAM-MD5 digest mismatch for user '" + user_ + "'"};
    }
    return Success{user_, "", std::nullopt};
  }

 private:
  enum class State { kStart, kChallenged, kNeedSecret, kDone };

  MechStep done(std::string reason) {
    state_ = State::kDone;
    return Failure{FailureKind::kMalformed, std::move(reason)};
  }

  CramMd5Options options_;
  std::string challenge_;
  State state_ = State::kStart;
  std::string user_;
  std::string digest_;
};

}  // namespace

std::unique_ptr<AuthMechanism> make_cram_md5(CramMd5Options options) {
  return std::make_unique<CramMd5Mechanism>(std::move(options));
}

std::string cram_md5_contexts(std::string_view password) {
  crypto::Md5 inner, outer;
  inner.update(key_block(password, 0x36));
  outer.update(key_block(password, 0x5c));
  return crypto::to_hex(state_bytes(outer.state()) + state_bytes(inner.state()));
}

std::optional<std::string> cram_md5_digest_from_contexts(std::string_view contexts_hex,
                                                         std::string_view challenge) {
  auto raw = crypto::from_hex(contexts_hex);
  if (!raw || raw->size() != 32) return std::nullopt;
  crypto::Md5 inner(state_from(std::string_view(*raw).substr(16)), 64);
  inner.update(challenge);
  crypto::Md5 outer(state_from(std::string_view(*raw).substr(0, 16)), 64);
  outer.update(inner.finish());
  return outer.finish();
}

}  // namespace mailroom::auth::sasl
