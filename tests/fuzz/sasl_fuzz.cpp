// Fuzzes the SASL mechanisms (auth/sasl): PLAIN, LOGIN, CRAM-MD5, NTLM (NEGOTIATE and
// AUTHENTICATE messages), SCRAM-SHA-1/256 (client-first and client-final), plus the stored
// SCRAM key parser. Byte 0 picks the mechanism, byte 1 the options: whether the first piece is an
// initial response, whether pieces are sent as they are or base64-encoded by the driver (so the
// fuzzer mutates the decoded messages), and what the fake store answers to NeedSecret (the right
// secret of password "pass", none, a secret of another kind, or a malformed one). The rest is
// the client's pieces separated by "\n#\n". Fixed challenges and nonces make valid exchanges
// replayable from the seed corpus.
// Invariants: challenges are canonical base64; a finished exchange (VerifyPassword, Success,
// Failure) answers every later call with Failure; VerifyPassword has an authcid and a password
// and no foreign authzid; Success only ever follows the right secret, for the user it asked
// about, and SCRAM's carries its "v=" proof; a secret is asked once per exchange.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sasl/auth_mechanism.h"
#include "auth/sasl/base64.h"
#include "auth/sasl/cram_md5.h"
#include "auth/sasl/ntlm.h"
#include "auth/sasl/scram.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace sasl = mailroom::auth::sasl;
constexpr std::string_view kPassword = "pass";

const std::string& scram_secret(sasl::ScramHash hash) {
  static const std::string sha1 = sasl::scram_encode(sasl::scram_derive_keys(kPassword, "fuzzsalt", 4096, sasl::ScramHash::kSha1));
  static const std::string sha256 =
      sasl::scram_encode(sasl::scram_derive_keys(kPassword, "fuzzsalt", 4096, sasl::ScramHash::kSha256));
  return hash == sasl::ScramHash::kSha1 ? sha1 : sha256;
}

sasl::Secret right_secret(sasl::SecretKind kind) {
  switch (kind) {
    case sasl::SecretKind::kPlaintextPassword: return {kind, std::string(kPassword)};
    case sasl::SecretKind::kCramMd5Contexts: return {kind, sasl::cram_md5_contexts(kPassword)};
    case sasl::SecretKind::kScramSha1: return {kind, scram_secret(sasl::ScramHash::kSha1)};
    case sasl::SecretKind::kScramSha256: return {kind, scram_secret(sasl::ScramHash::kSha256)};
    case sasl::SecretKind::kNtHash: return {kind, sasl::ntlm_nt_hash(kPassword)};
  }
  return {kind, ""};
}

std::unique_ptr<sasl::AuthMechanism> make(uint8_t which, uint8_t options) {
  switch (which % 7) {
    case 0: return sasl::make_plain();
    case 1: return sasl::make_plain({.allow_authzid = true});
    case 2: return sasl::make_login();
    case 3: return sasl::make_cram_md5({.hostname = "fuzz.example", .challenge = "<1.2@fuzz.example>"});
    case 4: {
      sasl::NtlmOptions o;
      o.server_challenge = std::string("\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
      o.timestamp = 0x01d0000000000000ULL;
      o.dns_domain = (options & 0x40) ? "fuzz.example" : "";
      o.allow_ntlmv1 = options & 0x80;
      return sasl::make_ntlm(std::move(o));
    }
    case 5: return sasl::make_scram({.hash = sasl::ScramHash::kSha1, .allow_authzid = (options & 0x40) != 0, .server_nonce = "fuzznonce"});
    default: return sasl::make_scram({.hash = sasl::ScramHash::kSha256, .allow_authzid = (options & 0x40) != 0, .server_nonce = "fuzznonce"});
  }
}

std::vector<std::string_view> split(std::string_view rest) {
  std::vector<std::string_view> pieces;
  for (;;) {
    const std::size_t sep = rest.find("\n#\n");
    pieces.push_back(rest.substr(0, sep));
    if (sep == std::string_view::npos) return pieces;
    rest.remove_prefix(sep + 3);
  }
}

bool finished(const sasl::MechStep& step) {
  return std::holds_alternative<sasl::VerifyPassword>(step) || std::holds_alternative<sasl::Success>(step) ||
         std::holds_alternative<sasl::Failure>(step);
}

void fuzz_scram_parse(std::string_view text) {
  auto keys = sasl::scram_parse(text);
  if (!keys) return;
  FUZZ_CHECK_DATA(keys->iterations > 0 && keys->iterations <= sasl::kScramMaxIterations, text);
  // What parses is what scram_encode writes: it round-trips exactly.
  FUZZ_CHECK_DATA(sasl::scram_encode(*keys) == text, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t which = data[0];
  const uint8_t options = data[1];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (which == 0xff) {  // the stored SCRAM key parser
    fuzz_scram_parse(rest);
    return 0;
  }
  const bool initial = options & 1;
  const bool encode = options & 2;
  const int secret_mode = (options >> 2) & 3;  // 0 right, 1 none, 2 another kind, 3 malformed

  auto mech = make(which, options);
  const bool scram = which % 7 >= 5;
  std::vector<std::string_view> pieces = split(rest);
  std::vector<std::string> lines;
  for (std::string_view p : pieces) lines.push_back(encode ? sasl::base64_encode(p) : std::string(p));

  std::size_t next = 0;
  sasl::MechStep step = initial ? mech->start(std::string_view(lines[next++])) : mech->start(std::nullopt);
  bool asked = false;
  bool right_secret_given = false;
  std::string asked_user;
  for (;;) {
    if (auto* challenge = std::get_if<sasl::Challenge>(&step)) {
      FUZZ_CHECK_DATA(sasl::base64_decode(challenge->b64).ok(), challenge->b64);
      mailroom::fuzz::trace("challenge:", challenge->b64);
      if (next >= lines.size()) return 0;
      step = mech->step(lines[next++]);
      continue;
    }
    if (auto* need = std::get_if<sasl::NeedSecret>(&step)) {
      FUZZ_CHECK(!asked && !need->accepted.empty() && !need->authcid.empty());
      asked = true;
      asked_user = need->authcid;
      std::optional<sasl::Secret> secret;
      sasl::Secret right = right_secret(need->accepted.front());
      switch (secret_mode) {
        case 0: secret = right; right_secret_given = true; break;
        case 1: break;
        case 2:
          secret = right_secret(need->accepted.front() == sasl::SecretKind::kPlaintextPassword
                                    ? sasl::SecretKind::kScramSha1
                                    : sasl::SecretKind::kPlaintextPassword);
          // NTLM accepts the plaintext password too: that is still the right secret.
          right_secret_given = secret->kind == sasl::SecretKind::kPlaintextPassword &&
                               need->accepted.size() > 1;
          break;
        default: secret = sasl::Secret{right.kind, right.value.substr(0, right.value.size() / 2) + "!"}; break;
      }
      step = mech->provide_secret(std::move(secret));
      continue;
    }
    break;
  }
  FUZZ_CHECK(finished(step));
  static constexpr const char* kStepNames[] = {"Challenge", "VerifyPassword", "NeedSecret", "Success", "Failure"};
  mailroom::fuzz::trace("result:", kStepNames[step.index()]);
  if (auto* verify = std::get_if<sasl::VerifyPassword>(&step)) {
    FUZZ_CHECK(!verify->authcid.empty() && !verify->password.empty() && !asked);
    if (which % 7 != 1) FUZZ_CHECK_DATA(verify->authzid.empty(), verify->authzid);
  }
  if (auto* success = std::get_if<sasl::Success>(&step)) {
    FUZZ_CHECK(asked && right_secret_given && success->authcid == asked_user);
    if (!(options & 0x40) && which % 7 >= 5) FUZZ_CHECK(success->authzid.empty());
    FUZZ_CHECK(success->server_final_b64.has_value() == scram);
    if (scram) {
      auto final = sasl::base64_decode(*success->server_final_b64);
      FUZZ_CHECK(final.ok() && final->starts_with("v="));
    }
  }
  // Finished: every further call fails.
  for (std::size_t i = next; i < lines.size() && i < next + 2; ++i) {
    FUZZ_CHECK(std::holds_alternative<sasl::Failure>(mech->step(lines[i])));
  }
  FUZZ_CHECK(std::holds_alternative<sasl::Failure>(mech->start(std::nullopt)));
  return 0;
}
