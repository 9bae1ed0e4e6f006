// SASL mechanisms for the protocols' AUTH commands (POP3 AUTH, RFC 5034), as pure state
// machines: they take base64 lines and stored secrets and return the next step. No sockets, no
// storage; the protocol session drives them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mailroom::auth::sasl {

// What a mechanism may ask the account store for. A Secret's value is the text exactly as
// stored, so the store needs no per-mechanism code:
//   kPlaintextPassword  the password itself (only where a legacy setting allows storing it)
//   kCramMd5Contexts    64 hex digits, Dovecot's "{CRAM-MD5}" layout (see cram_md5.h)
//   kScramSha1/256      "SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>"
//   kNtHash             32 hex digits, MD4(UTF-16LE(password)) (see ntlm.h)
enum class SecretKind { kPlaintextPassword, kCramMd5Contexts, kScramSha1, kScramSha256, kNtHash };

struct Secret {
  SecretKind kind = SecretKind::kPlaintextPassword;
  std::string value;
};

// ---- steps: what the caller does next ----

// Send "+ <b64>\r\n" (b64 may be empty: "+ \r\n"), read one line, pass it to step().
struct Challenge {
  std::string b64;
};

// PLAIN and LOGIN end here: the caller verifies `password` with the account store (the normal
// slow-hash path) and answers +OK or "-ERR [AUTH] ...". The mechanism is finished.
struct VerifyPassword {
  std::string authcid;
  std::string authzid;  // "" or equal to authcid unless the mechanism allowed proxying
  std::string password;
};

// CRAM-MD5, SCRAM and NTLM need the user's stored secret. The caller looks it up (off the loop
// if it likes), then calls provide_secret() with one Secret of a kind in `accepted` (first is
// preferred), or nullopt if the user is unknown, disabled, or has no such secret.
struct NeedSecret {
  std::string authcid;
  std::string authzid;
  std::string realm;  // NTLM: the domain the client sent; "" for the others
  std::vector<SecretKind> accepted;
};

// Authenticated. If server_final_b64 is set (SCRAM's "v=..."), the client must receive it
// before +OK: RFC 5034 has no "additional data with success" in +OK, so the caller sends it as
// a last "+ <b64>" challenge, expects an empty line, then answers +OK.
struct Success {
  std::string authcid;
  std::string authzid;
  std::optional<std::string> server_final_b64;
};

enum class FailureKind {
  kMalformed,  // the client broke the mechanism's syntax (counts as a bad command)
  kRejected,   // wrong credentials, unknown user, or a policy refusal ("-ERR [AUTH] ...")
  kCancelled,  // the client sent "*"
};

// The exchange is over; answer "-ERR [AUTH] ..." (or plain -ERR for kMalformed/kCancelled).
// `reason` is for the log, never for the client: it may say that a user exists.
struct Failure {
  FailureKind kind = FailureKind::kRejected;
  std::string reason;
};

using MechStep = std::variant<Challenge, VerifyPassword, NeedSecret, Success, Failure>;

// One AUTH exchange. Create a new object per AUTH command; after Success/Failure/VerifyPassword
// every further call returns Failure.
//
// Cancellation: RFC 5034 says a client line of "*" cancels. The session should check for it
// before calling step() and answer "-ERR ..."; step("*") also returns Failure{kCancelled}, so
// forgetting the check is harmless.
class AuthMechanism {
 public:
  virtual ~AuthMechanism() = default;

  virtual std::string_view name() const = 0;  // as advertised in CAPA SASL, e.g. "CRAM-MD5"
  // True when the mechanism reveals the password (or a replayable equivalent) to an eavesdropper,
  // so it should only be offered after STLS or on an implicit-TLS port.
  virtual bool needs_tls_by_default() const = 0;

  // The AUTH command. `initial_response_b64` is the optional second argument (RFC 4954 style
  // initial response): "=" means an empty one, absent means the client sent none.
  virtual MechStep start(std::optional<std::string_view> initial_response_b64) = 0;
  // The client's answer to the last Challenge (line without CRLF).
  virtual MechStep step(std::string_view client_line_b64) = 0;
  // The answer to NeedSecret. The default refuses: mechanisms that never ask need not override.
  virtual MechStep provide_secret(std::optional<Secret> secret);
};

// "*" -> Failure{kCancelled}; otherwise strict base64 decode, Failure{kMalformed} on error.
// `allow_equals` accepts "=" as the empty initial response.
std::variant<std::string, Failure> decode_client_data(std::string_view b64, bool allow_equals);

// Factories; each mechanism's options live in its own header.
struct PlainOptions {
  // RFC 4616: an authorization identity different from the authentication identity asks to act
  // as another user. We have no proxy rights model, so it is refused unless this is set.
  bool allow_authzid = false;
};
std::unique_ptr<AuthMechanism> make_plain(PlainOptions options = {});
std::unique_ptr<AuthMechanism> make_login();

}  // namespace mailroom::auth::sasl
