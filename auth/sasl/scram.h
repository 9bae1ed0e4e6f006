// SCRAM-SHA-256 (RFC 7677) and SCRAM-SHA-1 (RFC 5802), server side, without channel binding.
// The server stores only StoredKey/ServerKey (derived when the password is set), never a
// plaintext equivalent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "auth/sasl/auth_mechanism.h"

namespace mailroom::auth::sasl {

enum class ScramHash { kSha1, kSha256 };

inline constexpr uint32_t kScramDefaultIterations = 4096;  // RFC 7677's minimum recommendation
inline constexpr uint32_t kScramMaxIterations = 10'000'000;  // refuse absurd stored values

struct ScramKeys {
  ScramHash hash = ScramHash::kSha256;
  uint32_t iterations = kScramDefaultIterations;
  std::string salt;        // raw bytes
  std::string stored_key;  // H(HMAC(SaltedPassword, "Client Key")), raw
  std::string server_key;  // HMAC(SaltedPassword, "Server Key"), raw
};

// RFC 5802 section 3 with PBKDF2 as Hi(). The password is used as given: the caller passes
// Normalize(password), SASLprep'ed (auth::derive_secrets does, with sasl/saslprep.h). Slow for
// large iteration counts: call it off the event loop.
ScramKeys scram_derive_keys(std::string_view password, std::string_view salt, uint32_t iterations,
                            ScramHash hash);
// The same with a fresh 16-byte random salt, for setting a password.
ScramKeys scram_make_keys(std::string_view password, ScramHash hash,
                          uint32_t iterations = kScramDefaultIterations);

// "SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>" (Dovecot's layout without
// the "{SCRAM-SHA-256}" prefix); SCRAM-SHA-1 likewise.
std::string scram_encode(const ScramKeys& keys);
// kInvalidArgument unless `stored` is what scram_encode() produces (key lengths checked).
Result<ScramKeys> scram_parse(std::string_view stored);

std::string_view scram_mechanism_name(ScramHash hash);  // "SCRAM-SHA-256" / "SCRAM-SHA-1"

struct ScramOptions {
  ScramHash hash = ScramHash::kSha256;
  bool allow_authzid = false;  // same rule as PLAIN: a different authzid is refused by default
  // Server half of the nonce, for tests; empty means 24 random printable characters.
  std::string server_nonce;
};

// The exchange: client-first -> NeedSecret (kScramSha256 or kScramSha1) -> server-first challenge
// -> client-final -> Success with server_final_b64 ("v=...").
// The user name (n=) and authzid (a=) are SASLprep'ed as queries (RFC 5802 section 5.1) before
// NeedSecret; one SASLprep refuses is a malformed exchange.
// An unknown user (provide_secret(nullopt)) still gets a server-first with a salt derived from
// the username and a per-process key, so the exchange fails only at the end and does not reveal
// whether the user exists.
std::unique_ptr<AuthMechanism> make_scram(ScramOptions options);

}  // namespace mailroom::auth::sasl
