// Password hashing (argon2id), verification of SHA-crypt and argon2id hashes, imported-hash parsing.
#include <doctest/doctest.h>

#include <string>

#include "storage/password/password_hash.h"

namespace pw = mailroom::storage::password;
using mailroom::ErrorCode;

namespace {

// Fixed vectors, computed once outside this code base: Python's crypt.crypt (glibc), the
// SHA-crypt specification's own examples, and the argon2 reference library with a fixed salt.
constexpr const char* kSha512Secret =
    "$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1";
constexpr const char* kSha512HelloWorld =
    "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
constexpr const char* kSha512Rounds =
    "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/"
    "YTBmSK6H9qs/y3RnOaw5v.";
constexpr const char* kSha256Secret = "$5$saltsaltsaltsalt$X0ra9qlY7TJaGBDgorLevriQfwysW8fXnbybcO4mF4/";
constexpr const char* kSha256HelloWorld = "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5";
constexpr const char* kArgon2Secret =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U";

}  // namespace

TEST_CASE("a hashed password verifies and a wrong one does not") {
  auto hash = pw::hash_password("correct horse");
  REQUIRE(hash.ok());
  CHECK(hash->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0) == 0);
  CHECK(pw::scheme_of(*hash) == pw::kSchemeArgon2id);
  CHECK(pw::verify_password("correct horse", *hash));
  CHECK_FALSE(pw::verify_password("correct horsE", *hash));
  CHECK_FALSE(pw::verify_password("", *hash));
}

TEST_CASE("the same password hashes differently each time (random salt)") {
  auto a = pw::hash_password("secret");
  auto b = pw::hash_password("secret");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a != *b);
  CHECK(pw::verify_password("secret", *b));
}

TEST_CASE("hash_password refuses passwords POP3 cannot carry") {
  for (const std::string& bad : {std::string(), std::string(1025, 'x'), std::string("a\0b", 3),
                                 std::string("a\rb"), std::string("a\nb")}) {
    auto h = pw::hash_password(bad);
    REQUIRE_FALSE(h.ok());
    CHECK(h.error().code == ErrorCode::kInvalidArgument);
  }
  CHECK(pw::hash_password(std::string(1024, 'x')).ok());
}

TEST_CASE("known SHA512-CRYPT and SHA256-CRYPT vectors verify") {
  CHECK(pw::verify_password("secret", kSha512Secret));
  CHECK_FALSE(pw::verify_password("Secret", kSha512Secret));
  CHECK(pw::verify_password("Hello world!", kSha512HelloWorld));
  CHECK(pw::verify_password("Hello world!", kSha512Rounds));
  CHECK_FALSE(pw::verify_password("Hello world", kSha512Rounds));
  CHECK(pw::verify_password("secret", kSha256Secret));
  CHECK(pw::verify_password("Hello world!", kSha256HelloWorld));
  CHECK_FALSE(pw::verify_password("hello world!", kSha256HelloWorld));
  // One changed character in the hash part fails.
  std::string tampered = kSha512Secret;
  tampered.back() = tampered.back() == '1' ? '2' : '1';
  CHECK_FALSE(pw::verify_password("secret", tampered));
}

TEST_CASE("a known argon2id vector verifies") {
  CHECK(pw::verify_password("secret", kArgon2Secret));
  CHECK_FALSE(pw::verify_password("secreT", kArgon2Secret));
}

TEST_CASE("unknown or malformed stored hashes never verify") {
  CHECK_FALSE(pw::verify_password("secret", ""));
  CHECK_FALSE(pw::verify_password("secret", "secret"));
  CHECK_FALSE(pw::verify_password("secret", "$1$saltsalt$abcdefghijklmnopqrstuv"));
  CHECK_FALSE(pw::verify_password("secret", "$argon2id$garbage"));
  CHECK_FALSE(pw::verify_password("secret", "$6$"));
  CHECK(pw::scheme_of("$3$x$y").empty());
  CHECK_FALSE(pw::verify_password("secret", "{SSHA}"));
  CHECK_FALSE(pw::verify_password("secret", "{SSHA512}not base64!"));
  CHECK_FALSE(pw::verify_password("secret", "{PLAIN-MD5}5ebe2294ecd0e0f08eab7690d2a6ee6"));  // 31 digits
  CHECK_FALSE(pw::verify_password("secret", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="));           // unsalted SHA1: not ours
}

TEST_CASE("imported hashes are accepted with or without a {SCHEME} prefix") {
  struct Case {
    std::string text;
    std::string_view scheme;
    std::string stored;
  };
  const Case cases[] = {
      {std::string("{SHA512-CRYPT}") + kSha512Secret, pw::kSchemeSha512Crypt, kSha512Secret},
      {kSha512Secret, pw::kSchemeSha512Crypt, kSha512Secret},
      {kSha512Rounds, pw::kSchemeSha512Crypt, kSha512Rounds},
      {std::string("{sha256-crypt}") + kSha256Secret, pw::kSchemeSha256Crypt, kSha256Secret},
      {kSha256HelloWorld, pw::kSchemeSha256Crypt, kSha256HelloWorld},
      {kArgon2Secret, pw::kSchemeArgon2id, kArgon2Secret},
      {std::string("{ARGON2ID}") + kArgon2Secret, pw::kSchemeArgon2id, kArgon2Secret},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto parsed = pw::parse_imported_hash(c.text);
    REQUIRE(parsed.ok());
    CHECK(parsed->scheme == c.scheme);
    CHECK(parsed->stored == c.stored);
  }
  // What is stored still verifies.
  CHECK(pw::verify_password("secret", pw::parse_imported_hash(std::string("{SHA512-CRYPT}") + kSha512Secret)->stored));
}

TEST_CASE("malformed imported hashes are rejected with the accepted formats listed") {
  const std::string bad[] = {
      "",
      "secret",
      "{PLAIN}secret",
      "{SHA512-CRYPT}",
      "{SHA512-CRYPT}$5$saltsaltsaltsalt$X0ra9qlY7TJaGBDgorLevriQfwysW8fXnbybcO4mF4/",  // prefix mismatch
      "{SHA512-CRYPT$6$salt$x",
      "$6$saltsaltsaltsalt$tooshort",
      "$6$$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1",  // empty salt
      "$6$salt!salt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1",
      "$6$rounds=10$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/"
      "YTBmSK6H9qs/y3RnOaw5v.",  // rounds below glibc's minimum
      "$5$saltsaltsaltsalt$X0ra9qlY7TJaGBDgorLevriQfwysW8fXnbybcO4mF4/extra",
      "$1$saltsalt$abcdefghijklmnopqrstu",     // MD5-crypt hash part too short
      "$1$saltsaltx$abcdefghijklmnopqrstuv",   // MD5-crypt salt longer than 8
      "{MD5-CRYPT}$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1",
      "$2y$05$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm8",    // bcrypt one character short
      "$2x$05$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm8C",   // $2x$ (the buggy variant)
      "$2y$03$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm8C",   // cost below 4
      "$2y$31$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm8C",   // cost 31: days per login
      "$2y$05$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm+C",   // '+' is not bcrypt's
      "{BLF-CRYPT}$1$Kro4QO5P$VXF.CWhC8AZNyeiFZKmJ0.",
      "{CRYPT}$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
      "{SSHA}",
      "{SSHA}cTsO2J1zgmbw8YwSTIsyflsSlJ8=",          // 20 bytes: the digest and no salt
      "{SSHA}cTsO2J1zgmbw8YwSTIsyflsSlJ/bqt6Q=",         // not a multiple of 4
      "{SSHA256}P5uO9p6p/t9sZ6o4og7z0eZ7QecTEYBlvphoeLPZqHLhKboS!",
      "{SSHA512}cTsO2J1zgmbw8YwSTIsyflsSlJ/bqt6Q",       // shorter than a SHA-512 digest
      "{PLAIN-MD5}eb7ecb748010fc1ec87abda8e6a5167",      // 31 hex digits
      "{PLAIN-MD5}eb7ecb748010fc1ec87abda8e6a5167g",     // not hex
      "{PLAIN-MD5}637LdIAQ/B7Ier2o5qUWeg",               // base64 without its padding
      "{PLAIN-MD5}$1$Kro4QO5P$VXF.CWhC8AZNyeiFZKmJ0.",
      "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
      "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
      "$argon2id$v=16$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
      "$argon2id$v=19$m=19456,t=2$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
      "$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
      "$argon2id$v=19$m=19456,t=2,p=1$c29t$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",  // salt too short
      "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14uk*qiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
  };
  for (const auto& text : bad) {
    CAPTURE(text);
    auto parsed = pw::parse_imported_hash(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == ErrorCode::kInvalidArgument);
    CHECK(parsed.error().message.find("accepted formats") != std::string::npos);
  }
}

// Written by Dovecot 2.3 (Debian 12's dovecot-core): `doveadm pw -s SCHEME -p 'hunter2 pass'`
// (BLF-CRYPT also with -r 5; the last SSHA512 for 'pässwörd' in UTF-8). `doveadm pw -t` verifies
// the {PLAIN-MD5} base64 form, which is the same digest as the hex one.
TEST_CASE("Dovecot's hashes import, verify with the right password and not with a wrong one") {
  struct Case {
    std::string text;
    std::string_view scheme;
    std::string stored;
    std::string password;
  };
  const std::string pass = "hunter2 pass";
  const Case cases[] = {
      {"{BLF-CRYPT}$2y$05$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm8C", pw::kSchemeBcrypt,
       "$2y$05$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm8C", pass},
      {"$2y$05$F677RCquEZ0qKtBrRTSb4OSja9J3tU2TltaJF1rVyfVnaQl6UUlmC", pw::kSchemeBcrypt,
       "$2y$05$F677RCquEZ0qKtBrRTSb4OSja9J3tU2TltaJF1rVyfVnaQl6UUlmC", pass},
      // The same bcrypt hash under the $2a$ and $2b$ names (identical for ASCII passwords).
      {"$2a$05$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm8C", pw::kSchemeBcrypt,
       "$2a$05$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm8C", pass},
      {"{crypt}$2b$05$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm8C", pw::kSchemeBcrypt,
       "$2b$05$iv4hiSCB9RnnnLu4tQPHNuM8InM3Wzwq1ZHnFkPoMYgMgAiRKQm8C", pass},
      {"{SSHA}cTsO2J1zgmbw8YwSTIsyflsSlJ/bqt6Q", pw::kSchemeSsha, "{SSHA}cTsO2J1zgmbw8YwSTIsyflsSlJ/bqt6Q", pass},
      {"{ssha256}P5uO9p6p/t9sZ6o4og7z0eZ7QecTEYBlvphoeLPZqHLhKboS", pw::kSchemeSsha256,
       "{SSHA256}P5uO9p6p/t9sZ6o4og7z0eZ7QecTEYBlvphoeLPZqHLhKboS", pass},
      {"{SSHA512}9HV5CcyCzDqsatHGcu/trU4oWLFgem40Wzc3825j+1ceaposr1Abm/KwNbCTRG3Uz4fMYk6JOTgT9U9ddlornee8TbM=",
       pw::kSchemeSsha512,
       "{SSHA512}9HV5CcyCzDqsatHGcu/trU4oWLFgem40Wzc3825j+1ceaposr1Abm/KwNbCTRG3Uz4fMYk6JOTgT9U9ddlornee8TbM=", pass},
      {"{SSHA512}3WHSrZLIeVErwmyI7WR1fNLCgz5EWxfkaUeGAxgVTlfasbFcS/WjBt656KVro6GVv+lPbanm8bzDGxTk20RNQAHzel8=",
       pw::kSchemeSsha512,
       "{SSHA512}3WHSrZLIeVErwmyI7WR1fNLCgz5EWxfkaUeGAxgVTlfasbFcS/WjBt656KVro6GVv+lPbanm8bzDGxTk20RNQAHzel8=",
       "p\xc3\xa4ssw\xc3\xb6rd"},
      {"{PLAIN-MD5}eb7ecb748010fc1ec87abda8e6a5167a", pw::kSchemePlainMd5,
       "{PLAIN-MD5}eb7ecb748010fc1ec87abda8e6a5167a", pass},
      {"{PLAIN-MD5}EB7ECB748010FC1EC87ABDA8E6A5167A", pw::kSchemePlainMd5,
       "{PLAIN-MD5}EB7ECB748010FC1EC87ABDA8E6A5167A", pass},
      {"{PLAIN-MD5}637LdIAQ/B7Ier2o5qUWeg==", pw::kSchemePlainMd5, "{PLAIN-MD5}637LdIAQ/B7Ier2o5qUWeg==", pass},
      {"{MD5-CRYPT}$1$Kro4QO5P$VXF.CWhC8AZNyeiFZKmJ0.", pw::kSchemeMd5Crypt, "$1$Kro4QO5P$VXF.CWhC8AZNyeiFZKmJ0.", pass},
      {"$1$Kro4QO5P$VXF.CWhC8AZNyeiFZKmJ0.", pw::kSchemeMd5Crypt, "$1$Kro4QO5P$VXF.CWhC8AZNyeiFZKmJ0.", pass},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto parsed = pw::parse_imported_hash(c.text);
    REQUIRE(parsed.ok());
    CHECK(parsed->scheme == c.scheme);
    CHECK(parsed->stored == c.stored);
    CHECK(pw::scheme_of(parsed->stored) == c.scheme);
    CHECK(pw::verify_password(c.password, parsed->stored));
    CHECK_FALSE(pw::verify_password(c.password + "x", parsed->stored));
    CHECK_FALSE(pw::verify_password("hunter2 Pass", parsed->stored));
    CHECK_FALSE(pw::verify_password("", parsed->stored));
  }
}

TEST_CASE("the dummy hash for unknown mailboxes is a real argon2id hash with default cost") {
  const std::string& dummy = pw::dummy_hash();
  CHECK(dummy.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0) == 0);
  CHECK(pw::parse_imported_hash(dummy).ok());
  CHECK_FALSE(pw::verify_password("secret", dummy));
  CHECK(&pw::dummy_hash() == &dummy);
}
