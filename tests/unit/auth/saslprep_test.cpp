// SASLprep (RFC 4013) through libidn, and where SCRAM applies it: the keys derived from a password
// and the user name a client sends.
#include <doctest/doctest.h>

#include <string>

#include "auth/sasl/auth_mechanism.h"
#include "auth/sasl/base64.h"
#include "auth/sasl/saslprep.h"
#include "auth/sasl/scram.h"
#include "auth/secrets.h"

using namespace mailroom;
using namespace mailroom::auth;
using sasl::SaslprepUse;

namespace {

std::string prep(std::string_view s, SaslprepUse use = SaslprepUse::kStoredString) {
  auto r = sasl::saslprep(s, use);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return r.value();
}

bool refused(std::string_view s, SaslprepUse use = SaslprepUse::kStoredString) { return !sasl::saslprep(s, use).ok(); }

// The SCRAM-SHA-256 keys derive_secrets() stored for `password`.
sasl::ScramKeys derived_scram(std::string_view password) {
  auto secrets = derive_secrets(password, {std::string(kSecretScramSha256)});
  REQUIRE(secrets.size() == 1);
  auto keys = sasl::scram_parse(secrets[0].value);
  REQUIRE(keys.ok());
  return keys.value();
}

}  // namespace

TEST_CASE("SASLprep: the examples of RFC 4013 section 3") {
  CHECK(prep("I\xC2\xADX") == "IX");        // SOFT HYPHEN mapped to nothing
  CHECK(prep("user") == "user");            // no transformation
  CHECK(prep("USER") == "USER");            // case preserved, will not match #2
  CHECK(prep("\xC2\xAA") == "a");           // U+00AA output is NFKC, input in ISO 8859-1
  CHECK(prep("\xE2\x85\xA8") == "IX");      // U+2168 ROMAN NUMERAL NINE, NFKC
  CHECK(refused("\x07"));                   // prohibited character
  CHECK(refused("\xD8\xA7" "1"));           // U+0627 U+0031: bidirectional check
}

TEST_CASE("SASLprep: spaces, printable ASCII, bad input") {
  CHECK(prep("a\xC2\xA0" "b") == "a b");      // NO-BREAK SPACE -> SPACE
  CHECK(prep("a\xEF\xBB\xBF" "b") == "ab");   // ZERO WIDTH NO-BREAK SPACE -> nothing (B.1)
  std::string ascii;
  for (char c = 0x20; c < 0x7f; ++c) ascii += c;
  CHECK(prep(ascii) == ascii);                // every printable ASCII character is kept as is
  CHECK(refused(std::string("a\0b", 3)));     // NUL
  CHECK(refused("a\tb"));                     // ASCII control
  CHECK(refused("\xFF\xFE"));                 // not UTF-8
  CHECK(refused("\xC2\xAD"));                 // empty once prepared
  CHECK(refused("\xEE\x80\x80"));             // U+E000 private use
  const auto error = sasl::saslprep("secret\x07", SaslprepUse::kStoredString);
  REQUIRE_FALSE(error.ok());
  CHECK(error.error().message.find("secret") == std::string::npos);  // never echoes the input
}

TEST_CASE("SASLprep: unassigned code points pass in a query, not in a stored string") {
  const std::string u0840 = "\xE0\xA1\x80";  // unassigned in Unicode 3.2 (Mandaic since 6.0)
  CHECK(refused(u0840, SaslprepUse::kStoredString));
  CHECK(prep(u0840, SaslprepUse::kQuery) == u0840);
}

TEST_CASE("SCRAM keys: an ASCII password gives the keys it gave before SASLprep") {
  for (std::string_view password : {"pencil", "tanstaaf tanstaaf", "p@ss=w,rd~!"}) {
    CAPTURE(password);
    const auto keys = derived_scram(password);
    const auto raw = sasl::scram_derive_keys(password, keys.salt, keys.iterations, sasl::ScramHash::kSha256);
    CHECK(keys.stored_key == raw.stored_key);
    CHECK(keys.server_key == raw.server_key);
  }
}

TEST_CASE("SCRAM keys come from the SASLprep'ed password; the other secrets from the octets") {
  const std::string typed = "I\xE2\x85\xA8 \xC2\xA0z";  // I, U+2168, SPACE, NO-BREAK SPACE, z
  const auto keys = derived_scram(typed);
  const auto prepared = sasl::scram_derive_keys("IIX  z", keys.salt, keys.iterations, sasl::ScramHash::kSha256);
  CHECK(keys.stored_key == prepared.stored_key);
  auto plain = derive_secrets(typed, {std::string(kSecretPlaintext)});
  REQUIRE(plain.size() == 1);
  CHECK(plain[0].value == typed);
}

TEST_CASE("a password SASLprep refuses gets no SCRAM keys, and the other secrets still") {
  auto secrets = derive_secrets("bell\x07", {std::string(kSecretScramSha256), std::string(kSecretScramSha1),
                                             std::string(kSecretCramMd5)});
  REQUIRE(secrets.size() == 1);
  CHECK(secrets[0].kind == kSecretCramMd5);
}

TEST_CASE("SCRAM prepares the client's user name as a query") {
  auto first = [](std::string_view msg) { return sasl::make_scram({})->start(sasl::base64_encode(msg)); };
  auto soft_hyphen = first("n,,n=b\xC2\xAD" "ob,r=abc");
  REQUIRE(std::holds_alternative<sasl::NeedSecret>(soft_hyphen));
  CHECK(std::get<sasl::NeedSecret>(soft_hyphen).authcid == "bob");
  auto unassigned = first("n,,n=\xE0\xA1\x80,r=abc");
  REQUIRE(std::holds_alternative<sasl::NeedSecret>(unassigned));
  CHECK(std::get<sasl::NeedSecret>(unassigned).authcid == "\xE0\xA1\x80");
  auto bad = first("n,,n=bo\x07" "b,r=abc");
  REQUIRE(std::holds_alternative<sasl::Failure>(bad));
  CHECK(std::get<sasl::Failure>(bad).kind == sasl::FailureKind::kMalformed);
  // An authzid that prepares to the user name is no authzid.
  auto same = first("n,a=b\xC2\xAD" "ob,n=bob,r=abc");
  REQUIRE(std::holds_alternative<sasl::NeedSecret>(same));
  CHECK(std::get<sasl::NeedSecret>(same).authzid.empty());
}
