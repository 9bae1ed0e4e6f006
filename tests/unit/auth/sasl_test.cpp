// Tests for the SASL/APOP mechanisms against the RFCs' and MS-NLMP's own test vectors, plus the
// failure paths (wrong password, malformed messages, cancel, wrong authzid).
#include <doctest/doctest.h>

#include <string>
#include <variant>

#include "auth/sasl/apop.h"
#include "auth/sasl/auth_mechanism.h"
#include "auth/sasl/base64.h"
#include "auth/sasl/cram_md5.h"
#include "auth/sasl/crypto.h"
#include "auth/sasl/ntlm.h"
#include "auth/sasl/scram.h"

namespace sasl = mailroom::auth::sasl;
namespace crypto = mailroom::auth::sasl::crypto;
using sasl::base64_decode;
using sasl::base64_encode;
using sasl::FailureKind;
using sasl::MechStep;
using sasl::SecretKind;

namespace {

std::string b64(std::string_view s) { return base64_encode(s); }

std::string unb64(std::string_view s) {
  auto r = base64_decode(s);
  REQUIRE(r.ok());
  return r.value();
}

std::string hex(std::string_view s) { return crypto::to_hex(s); }

std::string unhex(std::string_view s) {
  auto r = crypto::from_hex(s);
  REQUIRE(r.has_value());
  return *r;
}

template <class T>
T expect(const MechStep& step) {
  if (const auto* f = std::get_if<sasl::Failure>(&step)) INFO("failure: " << f->reason);
  REQUIRE(std::holds_alternative<T>(step));
  return std::get<T>(step);
}

sasl::Failure expect_failure(const MechStep& step, FailureKind kind) {
  auto f = expect<sasl::Failure>(step);
  CHECK(f.kind == kind);
  CHECK_FALSE(f.reason.empty());
  return f;
}

// ---- NTLM message builders (client side, for the tests only) ----
void put16(std::string& out, uint16_t v) {
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>(v >> 8);
}
void put32(std::string& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v & 0xffff));
  put16(out, static_cast<uint16_t>(v >> 16));
}
uint32_t get32(std::string_view s, std::size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}
uint16_t get16(std::string_view s, std::size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(s[at]) | (static_cast<unsigned char>(s[at + 1]) << 8));
}

std::string utf16(std::string_view ascii) {
  std::string out;
  for (char c : ascii) {
    out += c;
    out += '\0';
  }
  return out;
}

constexpr uint32_t kUnicode = 0x1, kNtlm = 0x200, kEss = 0x80000, kAlwaysSign = 0x8000;

std::string ntlm_negotiate(uint32_t flags) {
  std::string m("NTLMSSP\0", 8);
  put32(m, 1);
  put32(m, flags);
  m.append(16, '\0');  // empty domain and workstation fields
  return m;
}

std::string ntlm_authenticate(uint32_t flags, std::string_view lm, std::string_view nt, std::string_view domain,
                              std::string_view user, std::string_view workstation) {
  const uint32_t header = 64 + 8 + 16;  // with Version and MIC, like modern Windows
  std::string payload;
  std::string fields;
  auto field = [&](std::string_view data) {
    put16(fields, static_cast<uint16_t>(data.size()));
    put16(fields, static_cast<uint16_t>(data.size()));
    put32(fields, header + static_cast<uint32_t>(payload.size()));
    payload += data;
  };
  field(lm);
  field(nt);
  field(domain);
  field(user);
  field(workstation);
  field("");  // EncryptedRandomSessionKey
  std::string m("NTLMSSP\0", 8);
  put32(m, 3);
  m += fields;
  put32(m, flags);
  m.append(8, '\0');   // Version
  m.append(16, '\0');  // MIC (not checked)
  return m + payload;
}

// MS-NLMP 4.2.4: the NTLMv2 "temp" blob for time 0, client challenge aa..aa, and the spec's
// server AV pairs (NbDomainName "Domain", NbComputerName "Server", EOL).
std::string spec_ntlmv2_blob() {
  std::string blob("\x01\x01", 2);
  blob.append(6, '\0');
  blob.append(8, '\0');     // time 0
  blob.append(8, '\xaa');   // client challenge
  blob.append(4, '\0');
  std::string av;
  put16(av, 2);
  put16(av, 12);
  av += utf16("Domain");
  put16(av, 1);
  put16(av, 12);
  av += utf16("Server");
  put16(av, 0);
  put16(av, 0);
  blob += av;
  blob.append(4, '\0');
  return blob;
}

sasl::NtlmOptions spec_ntlm_options() {
  sasl::NtlmOptions o;
  o.server_challenge = unhex("0123456789abcdef");
  o.timestamp = 0;
  o.nb_domain = "Domain";
  o.nb_computer = "Server";
  return o;
}

// Runs NEGOTIATE + CHALLENGE; returns the decoded CHALLENGE message.
std::string ntlm_handshake(sasl::AuthMechanism& m, uint32_t flags) {
  CHECK(expect<sasl::Challenge>(m.start(std::nullopt)).b64.empty());
  return unb64(expect<sasl::Challenge>(m.step(b64(ntlm_negotiate(flags)))).b64);
}

}  // namespace

// ---------------------------------------------------------------- base64

TEST_CASE("base64 round-trips the RFC 4648 test vectors") {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    CHECK(base64_encode(plain[i]) == enc[i]);
    auto d = base64_decode(enc[i]);
    REQUIRE(d.ok());
    CHECK(d.value() == plain[i]);
  }
  CHECK(base64_encode(std::string("\0\xff\xfe", 3)) == "AP/+");
}

TEST_CASE("base64 decoding rejects non-canonical input") {
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zm9v\r\n", "Zm 9v", "Zg==Zg==", "Zm=v", "Zh==", "Zm9=", "====",
                          "Zm9v!"}) {
    INFO(bad);
    CHECK_FALSE(base64_decode(bad).ok());
  }
}

// ---------------------------------------------------------------- digests

TEST_CASE("MD4 matches the RFC 1320 test suite") {
  CHECK(hex(crypto::md4("")) == "31d6cfe0d16ae931b73c59d7e0c089c0");
  CHECK(hex(crypto::md4("a")) == "bde52cb31de33e46245e05fbdbd6fb24");
  CHECK(hex(crypto::md4("abc")) == "a448017aaf21d8525fc10ae87aa6729d");
  CHECK(hex(crypto::md4("message digest")) == "d9130a8164549fe818874806e1c7014b");
  CHECK(hex(crypto::md4("abcdefghijklmnopqrstuvwxyz")) == "d79e1c308aa5bbcdeea8ed63df412da9");
  CHECK(hex(crypto::md4("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")) ==
        "043f8582f241db351ce627e153e7f0e4");
  CHECK(hex(crypto::md4("1234567890123456789012345678901234567890123456789012345678901234567890123456789"
                        "0")) == "e33b4ddc9c38f2199c3e7b164fcc0536");
}

TEST_CASE("our resumable MD5 matches RFC 1321 and OpenSSL for every length around block edges") {
  auto md5 = [](std::string_view s) {
    crypto::Md5 m;
    m.update(s);
    return hex(m.finish());
  };
  CHECK(md5("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5("abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(md5("message digest") == "f96b697d7cb7938d525a2f31aaf161d0");
  CHECK(md5("12345678901234567890123456789012345678901234567890123456789012345678901234567890") ==
        "57edf4a22be3c955ac49da2e2107b67a");
  std::string data;
  for (int len = 0; len < 200; ++len) {
    // Feed in two uneven pieces to exercise the buffering.
    crypto::Md5 m;
    m.update(std::string_view(data).substr(0, static_cast<std::size_t>(len) / 3));
    m.update(std::string_view(data).substr(static_cast<std::size_t>(len) / 3));
    CHECK(hex(m.finish()) == hex(crypto::hash(crypto::Hash::kMd5, data)));
    data += static_cast<char>('a' + len % 26);
  }
}

// ---------------------------------------------------------------- APOP

TEST_CASE("APOP accepts the RFC 1939 example digest in either case") {
  const std::string ts = "<1896.697170952@dbc.mtview.ca.us>";
  CHECK(sasl::apop_digest(ts, "tanstaaf") == "c4c9334bac560ecc979e58001b3e22fb");
  CHECK(sasl::apop_verify(ts, "tanstaaf", "c4c9334bac560ecc979e58001b3e22fb"));
  CHECK(sasl::apop_verify(ts, "tanstaaf", "C4C9334BAC560ECC979E58001B3E22FB"));
}

TEST_CASE("APOP rejects a wrong password, another timestamp and malformed digests") {
  const std::string ts = "<1896.697170952@dbc.mtview.ca.us>";
  CHECK_FALSE(sasl::apop_verify(ts, "tanstaaF", "c4c9334bac560ecc979e58001b3e22fb"));
  CHECK_FALSE(sasl::apop_verify("<1897.697170952@dbc.mtview.ca.us>", "tanstaaf", "c4c9334bac560ecc979e58001b3e22fb"));
  CHECK_FALSE(sasl::apop_verify(ts, "tanstaaf", "c4c9334bac560ecc979e58001b3e22f"));
  CHECK_FALSE(sasl::apop_verify(ts, "tanstaaf", "c4c9334bac560ecc979e58001b3e22fbaa"));
  CHECK_FALSE(sasl::apop_verify(ts, "tanstaaf", "g4c9334bac560ecc979e58001b3e22fb"));
  CHECK_FALSE(sasl::apop_verify(ts, "tanstaaf", ""));
}

// ---------------------------------------------------------------- PLAIN

TEST_CASE("PLAIN with an initial response yields the credentials to verify") {
  auto m = sasl::make_plain();
  CHECK(m->name() == "PLAIN");
  CHECK(m->needs_tls_by_default());
  auto v = expect<sasl::VerifyPassword>(m->start(b64(std::string("\0tim\0tanstaaftanstaaf", 21))));
  CHECK(v.authcid == "tim");
  CHECK(v.authzid.empty());
  CHECK(v.password == "tanstaaftanstaaf");
  // Finished: anything more is refused.
  expect_failure(m->step(b64("x")), FailureKind::kMalformed);
}

TEST_CASE("PLAIN without an initial response sends an empty challenge first") {
  auto m = sasl::make_plain();
  CHECK(expect<sasl::Challenge>(m->start(std::nullopt)).b64.empty());
  auto v = expect<sasl::VerifyPassword>(m->step(b64(std::string("tim\0tim\0secret pass", 19))));
  CHECK(v.authcid == "tim");
  CHECK(v.authzid.empty());  // equal to authcid: same as none (RFC 4616)
  CHECK(v.password == "secret pass");
}

TEST_CASE("PLAIN refuses an authzid different from the authcid unless allowed") {
  const std::string msg("admin\0tim\0pw", 12);
  expect_failure(sasl::make_plain()->start(b64(msg)), FailureKind::kRejected);
  auto v = expect<sasl::VerifyPassword>(sasl::make_plain({.allow_authzid = true})->start(b64(msg)));
  CHECK(v.authzid == "admin");
  CHECK(v.authcid == "tim");
}

TEST_CASE("PLAIN rejects malformed messages") {
  for (const std::string& msg : {std::string("tim"), std::string("\0tim", 4), std::string("\0\0pw", 4),
                                 std::string("\0tim\0", 5), std::string("\0tim\0pw\0", 8)}) {
    expect_failure(sasl::make_plain()->start(b64(msg)), FailureKind::kMalformed);
  }
  expect_failure(sasl::make_plain()->start("="), FailureKind::kMalformed);  // empty message
  expect_failure(sasl::make_plain()->start("AHRpbQBwdw"), FailureKind::kMalformed);  // bad padding
  expect_failure(sasl::make_plain()->start("AHRp bQBwdw=="), FailureKind::kMalformed);
}

TEST_CASE("a '*' line cancels the exchange") {
  auto m = sasl::make_plain();
  (void)m->start(std::nullopt);
  expect_failure(m->step("*"), FailureKind::kCancelled);
  auto l = sasl::make_login();
  (void)l->start(std::nullopt);
  expect_failure(l->step("*"), FailureKind::kCancelled);
}

// ---------------------------------------------------------------- LOGIN

TEST_CASE("LOGIN asks for username then password") {
  auto m = sasl::make_login();
  CHECK(m->name() == "LOGIN");
  CHECK(expect<sasl::Challenge>(m->start(std::nullopt)).b64 == "VXNlcm5hbWU6");
  CHECK(expect<sasl::Challenge>(m->step(b64("tim"))).b64 == "UGFzc3dvcmQ6");
  auto v = expect<sasl::VerifyPassword>(m->step(b64("tanstaaf")));
  CHECK(v.authcid == "tim");
  CHECK(v.password == "tanstaaf");
}

TEST_CASE("LOGIN takes the username from an initial response") {
  auto m = sasl::make_login();
  CHECK(expect<sasl::Challenge>(m->start(b64("tim"))).b64 == "UGFzc3dvcmQ6");
  CHECK(expect<sasl::VerifyPassword>(m->step(b64("pw"))).authcid == "tim");
}

TEST_CASE("LOGIN rejects bad base64 and empty fields") {
  auto m = sasl::make_login();
  (void)m->start(std::nullopt);
  expect_failure(m->step("dGlt!"), FailureKind::kMalformed);
  auto e = sasl::make_login();
  (void)e->start(std::nullopt);
  (void)e->step(b64("tim"));
  expect_failure(e->step(""), FailureKind::kMalformed);
}

// ---------------------------------------------------------------- CRAM-MD5

namespace {
const std::string kRfc2195Challenge = "<1896.697170952@postoffice.reston.mci.net>";
const std::string kRfc2195Response = "tim b913a602c7eda7a495b4e6e7334d3890";

std::unique_ptr<sasl::AuthMechanism> rfc2195_after_response(std::string_view response) {
  auto m = sasl::make_cram_md5({.hostname = "postoffice.reston.mci.net", .challenge = kRfc2195Challenge});
  CHECK(expect<sasl::Challenge>(m->start(std::nullopt)).b64 ==
        "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+");
  auto need = expect<sasl::NeedSecret>(m->step(b64(response)));
  CHECK(need.authcid == "tim");
  REQUIRE(need.accepted.size() == 2);
  CHECK(need.accepted[0] == SecretKind::kCramMd5Contexts);
  return m;
}
}  // namespace

TEST_CASE("CRAM-MD5 verifies the RFC 2195 example from the plaintext password") {
  CHECK(b64(kRfc2195Response) == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
  auto m = rfc2195_after_response(kRfc2195Response);
  auto ok = expect<sasl::Success>(m->provide_secret(sasl::Secret{SecretKind::kPlaintextPassword, "tanstaaftanstaaf"}));
  CHECK(ok.authcid == "tim");
  CHECK_FALSE(ok.server_final_b64.has_value());
}

TEST_CASE("CRAM-MD5 verifies the RFC 2195 example from stored HMAC-MD5 contexts") {
  const std::string contexts = sasl::cram_md5_contexts("tanstaaftanstaaf");
  CHECK(contexts.size() == 64);
  auto m = rfc2195_after_response("tim B913A602C7EDA7A495B4E6E7334D3890");
  CHECK(std::holds_alternative<sasl::Success>(m->provide_secret(sasl::Secret{SecretKind::kCramMd5Contexts, contexts})));
}

TEST_CASE("CRAM-MD5 contexts reproduce HMAC-MD5 for short, 64-byte and long passwords") {
  for (const std::string& pw : {std::string("a"), std::string(64, 'k'), std::string(65, 'k'), std::string(200, 'z')}) {
    auto d = sasl::cram_md5_digest_from_contexts(sasl::cram_md5_contexts(pw), kRfc2195Challenge);
    REQUIRE(d.has_value());
    CHECK(hex(*d) == hex(crypto::hmac(crypto::Hash::kMd5, pw, kRfc2195Challenge)));
  }
  CHECK_FALSE(sasl::cram_md5_digest_from_contexts("abcd", "x").has_value());
}

TEST_CASE("CRAM-MD5 contexts use Dovecot's layout: outer state first, little-endian words") {
  // Recomputed independently: the MD5 chaining value after one block of key^opad / key^ipad.
  const std::string ctx = sasl::cram_md5_contexts("tanstaaftanstaaf");
  std::string opad("tanstaaftanstaaf");
  opad.resize(64, '\0');
  std::string ipad = opad;
  for (char& c : opad) c = static_cast<char>(c ^ 0x5c);
  for (char& c : ipad) c = static_cast<char>(c ^ 0x36);
  auto state_hex = [](const std::string& block) {
    crypto::Md5 m;
    m.update(block);
    std::string out;
    for (uint32_t w : m.state()) {
      for (int b = 0; b < 4; ++b) out += static_cast<char>((w >> (8 * b)) & 0xff);
    }
    return hex(out);
  };
  CHECK(ctx == state_hex(opad) + state_hex(ipad));
}

TEST_CASE("CRAM-MD5 fails on a wrong password, unknown user or malformed response") {
  auto m = rfc2195_after_response(kRfc2195Response);
  expect_failure(m->provide_secret(sasl::Secret{SecretKind::kPlaintextPassword, "tanstaaf"}), FailureKind::kRejected);
  auto u = rfc2195_after_response(kRfc2195Response);
  expect_failure(u->provide_secret(std::nullopt), FailureKind::kRejected);
  auto w = rfc2195_after_response(kRfc2195Response);
  expect_failure(w->provide_secret(sasl::Secret{SecretKind::kNtHash, sasl::ntlm_nt_hash("tanstaaftanstaaf")}),
                 FailureKind::kRejected);

  for (const char* bad : {"tim", "tim b913a602c7eda7a495b4e6e7334d389", "tim b913a602c7eda7a495b4e6e7334d38zz",
                          " b913a602c7eda7a495b4e6e7334d3890"}) {
    auto b = sasl::make_cram_md5({.hostname = "h", .challenge = kRfc2195Challenge});
    (void)b->start(std::nullopt);
    INFO(bad);
    expect_failure(b->step(b64(bad)), FailureKind::kMalformed);
  }
  expect_failure(sasl::make_cram_md5({})->start(b64("tim")), FailureKind::kMalformed);
}

TEST_CASE("CRAM-MD5 makes a fresh challenge of the RFC 2195 shape") {
  auto m = sasl::make_cram_md5({.hostname = "mail.example.org", .challenge = ""});
  const std::string c = unb64(expect<sasl::Challenge>(m->start(std::nullopt)).b64);
  CHECK(c.front() == '<');
  CHECK(c.find(".") != std::string::npos);
  CHECK(c.substr(c.size() - 18) == "@mail.example.org>");
  auto m2 = sasl::make_cram_md5({.hostname = "mail.example.org", .challenge = ""});
  CHECK(unb64(expect<sasl::Challenge>(m2->start(std::nullopt)).b64) != c);
}

// ---------------------------------------------------------------- SCRAM

TEST_CASE("SCRAM-SHA-256 reproduces the RFC 7677 example byte for byte") {
  const auto keys = sasl::scram_derive_keys("pencil", unb64("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096, sasl::ScramHash::kSha256);
  auto m = sasl::make_scram({.hash = sasl::ScramHash::kSha256, .server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"});
  CHECK(m->name() == "SCRAM-SHA-256");
  CHECK_FALSE(m->needs_tls_by_default());
  CHECK(expect<sasl::Challenge>(m->start(std::nullopt)).b64.empty());
  auto need = expect<sasl::NeedSecret>(m->step(b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")));
  CHECK(need.authcid == "user");
  REQUIRE(need.accepted.size() == 1);
  CHECK(need.accepted[0] == SecretKind::kScramSha256);
  auto first = expect<sasl::Challenge>(m->provide_secret(sasl::Secret{SecretKind::kScramSha256, sasl::scram_encode(keys)}));
  CHECK(unb64(first.b64) == "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  auto ok = expect<sasl::Success>(m->step(b64(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")));
  CHECK(ok.authcid == "user");
  CHECK(ok.authzid.empty());
  REQUIRE(ok.server_final_b64.has_value());
  CHECK(unb64(*ok.server_final_b64) == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST_CASE("SCRAM-SHA-1 reproduces the RFC 5802 example byte for byte, with an initial response") {
  const auto keys = sasl::scram_derive_keys("pencil", unb64("QSXCR+Q6sek8bf92"), 4096, sasl::ScramHash::kSha1);
  auto m = sasl::make_scram({.hash = sasl::ScramHash::kSha1, .server_nonce = "3rfcNHYJY1ZVvWVs7j"});
  CHECK(m->name() == "SCRAM-SHA-1");
  auto need = expect<sasl::NeedSecret>(m->start(b64("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")));
  CHECK(need.accepted[0] == SecretKind::kScramSha1);
  auto first = expect<sasl::Challenge>(m->provide_secret(sasl::Secret{SecretKind::kScramSha1, sasl::scram_encode(keys)}));
  CHECK(unb64(first.b64) == "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
  auto ok = expect<sasl::Success>(
      m->step(b64("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")));
  CHECK(unb64(*ok.server_final_b64) == "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

TEST_CASE("SCRAM stored keys round-trip through their storage encoding") {
  const auto keys = sasl::scram_derive_keys("pencil", unb64("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096, sasl::ScramHash::kSha256);
  const std::string enc = sasl::scram_encode(keys);
  CHECK(enc.rfind("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$", 0) == 0);
  auto back = sasl::scram_parse(enc);
  REQUIRE(back.ok());
  CHECK(back->iterations == 4096);
  CHECK(back->stored_key == keys.stored_key);
  CHECK(back->server_key == keys.server_key);
  CHECK(back->hash == sasl::ScramHash::kSha256);
  for (const char* bad : {"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==", "SCRAM-MD5$1:AA==$AA==:AA==",
                          "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA", "SCRAM-SHA-1$x:AA==$AA==:AA==",
                          "SCRAM-SHA-1$10:AA==$AA==:AA=="}) {
    INFO(bad);
    CHECK_FALSE(sasl::scram_parse(bad).ok());
  }
  // Found by fuzz_sasl: "0096" parsed as 96, a text scram_encode() never writes.
  std::string padded = enc;
  padded.replace(padded.find("$4096:"), 6, "$04096:");
  CHECK_FALSE(sasl::scram_parse(padded).ok());
  const auto fresh = sasl::scram_make_keys("pencil", sasl::ScramHash::kSha1, 16);
  CHECK(fresh.salt.size() == 16);
  CHECK(fresh.stored_key.size() == 20);
}

namespace {
// Runs RFC 7677's exchange up to the server-first message with the given secret.
std::unique_ptr<sasl::AuthMechanism> rfc7677_until_final(std::optional<sasl::Secret> secret, std::string& first) {
  auto m = sasl::make_scram({.hash = sasl::ScramHash::kSha256, .server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"});
  (void)expect<sasl::NeedSecret>(m->start(b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")));
  first = unb64(expect<sasl::Challenge>(m->provide_secret(std::move(secret))).b64);
  return m;
}
const std::string kRfc7677Final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
}  // namespace

TEST_CASE("SCRAM fails at the end for a wrong password or an unknown user, with a stable fake salt") {
  std::string first;
  const auto wrong = sasl::scram_derive_keys("pencil!", unb64("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096, sasl::ScramHash::kSha256);
  auto m = rfc7677_until_final(sasl::Secret{SecretKind::kScramSha256, sasl::scram_encode(wrong)}, first);
  expect_failure(m->step(b64(kRfc7677Final)), FailureKind::kRejected);

  std::string fake1, fake2;
  auto u = rfc7677_until_final(std::nullopt, fake1);
  (void)rfc7677_until_final(std::nullopt, fake2);
  CHECK(fake1 == fake2);  // a prober sees the same salt every time
  CHECK(fake1.find(",s=") != std::string::npos);
  CHECK(fake1.find(",i=4096") != std::string::npos);
  expect_failure(u->step(b64(kRfc7677Final)), FailureKind::kRejected);
}

TEST_CASE("SCRAM rejects a tampered nonce, channel-binding data or proof") {
  const auto keys = sasl::scram_derive_keys("pencil", unb64("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096, sasl::ScramHash::kSha256);
  const sasl::Secret secret{SecretKind::kScramSha256, sasl::scram_encode(keys)};
  std::string first;
  for (const char* bad : {
           "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
           "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
           "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVA="}) {
    INFO(bad);
    auto m = rfc7677_until_final(secret, first);
    expect_failure(m->step(b64(bad)), FailureKind::kRejected);
  }
  for (const char* bad : {"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
                          "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
                          "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="}) {
    INFO(bad);
    auto m = rfc7677_until_final(secret, first);
    expect_failure(m->step(b64(bad)), FailureKind::kMalformed);
  }
}

TEST_CASE("SCRAM client-first parsing: gs2 header, channel binding, authzid, saslname") {
  auto first = [](std::string_view msg, sasl::ScramOptions o = {}) { return sasl::make_scram(o)->start(b64(msg)); };
  sasl::ScramOptions proxy;
  proxy.allow_authzid = true;
  expect_failure(first("p=tls-unique,,n=user,r=abc"), FailureKind::kRejected);
  CHECK(expect<sasl::NeedSecret>(first("y,,n=user,r=abc")).authcid == "user");
  expect_failure(first("x,,n=user,r=abc"), FailureKind::kMalformed);
  expect_failure(first("n,,m=ext,n=user,r=abc"), FailureKind::kMalformed);
  expect_failure(first("n,,r=abc,n=user"), FailureKind::kMalformed);
  expect_failure(first("n,,n=us=er,r=abc"), FailureKind::kMalformed);
  expect_failure(first("n,,n=user,r=a b"), FailureKind::kMalformed);
  expect_failure(first("n,,n=,r=abc"), FailureKind::kMalformed);
  CHECK(expect<sasl::NeedSecret>(first("n,,n=a=2Cb=3Dc,r=abc")).authcid == "a,b=c");
  CHECK(expect<sasl::NeedSecret>(first("n,a=user,n=user,r=abc")).authzid.empty());
  expect_failure(first("n,a=admin,n=user,r=abc"), FailureKind::kRejected);
  CHECK(expect<sasl::NeedSecret>(first("n,a=admin,n=user,r=abc", proxy)).authzid == "admin");
}

// ---------------------------------------------------------------- NTLM

TEST_CASE("NT hash and NTOWFv2 match MS-NLMP section 4.2") {
  CHECK(sasl::ntlm_nt_hash("Password") == "a4f49c406510bdcab6824ee7c30fd852");
  CHECK(hex(sasl::ntlm_ntowfv2(unhex("a4f49c406510bdcab6824ee7c30fd852"), "User", "Domain")) ==
        "0c868a403bfd7a93a3001ef22ef02e3f");
}

TEST_CASE("NTLM CHALLENGE carries the server challenge, flags and target info AV pairs") {
  auto m = sasl::make_ntlm(spec_ntlm_options());
  CHECK(m->name() == "NTLM");
  const std::string c = ntlm_handshake(*m, kUnicode | kNtlm | kEss | kAlwaysSign);
  REQUIRE(c.size() >= 56);
  CHECK(c.substr(0, 8) == std::string("NTLMSSP\0", 8));
  CHECK(get32(c, 8) == 2);
  CHECK(hex(c.substr(24, 8)) == "0123456789abcdef");
  const uint32_t flags = get32(c, 20);
  CHECK((flags & kUnicode) != 0);
  CHECK((flags & kEss) != 0);
  CHECK((flags & 0x00800000) != 0);  // NEGOTIATE_TARGET_INFO
  // TargetName
  CHECK(c.substr(get32(c, 16), get16(c, 12)) == utf16("Domain"));
  // AV pairs, in order, ending with MsvAvEOL.
  std::string info = c.substr(get32(c, 44), get16(c, 40));
  std::vector<std::pair<uint16_t, std::string>> avs;
  for (std::size_t i = 0; i + 4 <= info.size();) {
    const uint16_t id = get16(info, i), len = get16(info, i + 2);
    avs.emplace_back(id, info.substr(i + 4, len));
    i += 4 + len;
  }
  REQUIRE(avs.size() == 5);
  CHECK(avs[0] == std::make_pair(uint16_t{2}, utf16("Domain")));
  CHECK(avs[1] == std::make_pair(uint16_t{1}, utf16("Server")));
  CHECK(avs[2] == std::make_pair(uint16_t{3}, utf16("localhost")));
  CHECK(avs[3] == std::make_pair(uint16_t{7}, std::string(8, '\0')));
  CHECK(avs[4] == std::make_pair(uint16_t{0}, std::string()));
}

TEST_CASE("NTLMv2 AUTHENTICATE from MS-NLMP 4.2.4 is accepted") {
  const std::string nt = unhex("68cd0ab851e51c96aabc927bebef6a1c") + spec_ntlmv2_blob();
  const std::string lm = unhex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
  for (const auto& secret : {sasl::Secret{SecretKind::kNtHash, "a4f49c406510bdcab6824ee7c30fd852"},
                             sasl::Secret{SecretKind::kPlaintextPassword, "Password"}}) {
    auto m = sasl::make_ntlm(spec_ntlm_options());
    (void)ntlm_handshake(*m, kUnicode | kNtlm | kEss);
    auto need = expect<sasl::NeedSecret>(
        m->step(b64(ntlm_authenticate(kUnicode | kNtlm | kEss, lm, nt, utf16("Domain"), utf16("User"), utf16("COMPUTER")))));
    CHECK(need.authcid == "User");
    CHECK(need.realm == "Domain");
    CHECK(need.accepted[0] == SecretKind::kNtHash);
    auto ok = expect<sasl::Success>(m->provide_secret(secret));
    CHECK(ok.authcid == "User");
  }
}

TEST_CASE("NTLMv2 fails on a wrong password, a tampered blob or another server challenge") {
  const std::string nt = unhex("68cd0ab851e51c96aabc927bebef6a1c") + spec_ntlmv2_blob();
  auto run = [&](sasl::NtlmOptions o, std::string ntresp, std::string password) {
    auto m = sasl::make_ntlm(std::move(o));
    (void)ntlm_handshake(*m, kUnicode | kNtlm);
    (void)expect<sasl::NeedSecret>(
        m->step(b64(ntlm_authenticate(kUnicode | kNtlm, "", ntresp, utf16("Domain"), utf16("User"), ""))));
    return m->provide_secret(sasl::Secret{SecretKind::kPlaintextPassword, std::move(password)});
  };
  CHECK(std::holds_alternative<sasl::Success>(run(spec_ntlm_options(), nt, "Password")));
  expect_failure(run(spec_ntlm_options(), nt, "password"), FailureKind::kRejected);
  std::string tampered = nt;
  tampered[30] = '\xab';  // client challenge byte
  expect_failure(run(spec_ntlm_options(), tampered, "Password"), FailureKind::kRejected);
  auto other = spec_ntlm_options();
  other.server_challenge = unhex("0123456789abcdee");
  expect_failure(run(other, nt, "Password"), FailureKind::kRejected);
}

TEST_CASE("NTLMv1 is refused unless allowed, then verified per MS-NLMP 4.2.2 and 4.2.3") {
  const std::string v1 = unhex("67c43011f30298a2ad35ece64f16331c44bdbed927841f94");
  auto run = [](bool allow, uint32_t flags, const std::string& lm, const std::string& nt, const char* pw) {
    auto o = spec_ntlm_options();
    o.allow_ntlmv1 = allow;
    auto m = sasl::make_ntlm(o);
    (void)ntlm_handshake(*m, flags);
    (void)expect<sasl::NeedSecret>(m->step(b64(ntlm_authenticate(flags, lm, nt, utf16("Domain"), utf16("User"), ""))));
    return m->provide_secret(sasl::Secret{SecretKind::kNtHash, sasl::ntlm_nt_hash(pw)});
  };
  const std::string lm_v1 = unhex("98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13");
  expect_failure(run(false, kUnicode | kNtlm, lm_v1, v1, "Password"), FailureKind::kRejected);
  CHECK(std::holds_alternative<sasl::Success>(run(true, kUnicode | kNtlm, lm_v1, v1, "Password")));
  expect_failure(run(true, kUnicode | kNtlm, lm_v1, v1, "Passwort"), FailureKind::kRejected);

  // With extended session security the LM field carries the client challenge.
  const std::string lm_ess = unhex("aaaaaaaaaaaaaaaa00000000000000000000000000000000");
  const std::string nt_ess = unhex("7537f803ae367128ca458204bde7caf81e97ed2683267232");
  CHECK(std::holds_alternative<sasl::Success>(run(true, kUnicode | kNtlm | kEss, lm_ess, nt_ess, "Password")));
  expect_failure(run(false, kUnicode | kNtlm | kEss, lm_ess, nt_ess, "Password"), FailureKind::kRejected);
}

TEST_CASE("NTLM rejects malformed messages and anonymous logins") {
  auto fresh = [] {
    auto m = sasl::make_ntlm(spec_ntlm_options());
    return m;
  };
  // Initial response NEGOTIATE goes straight to CHALLENGE.
  CHECK(unb64(expect<sasl::Challenge>(fresh()->start(b64(ntlm_negotiate(kUnicode | kNtlm)))).b64).substr(0, 7) ==
        "NTLMSSP");
  expect_failure(fresh()->start(b64("NTLMSSP")), FailureKind::kMalformed);
  expect_failure(fresh()->start(b64(ntlm_authenticate(kUnicode, "", "", "", "", ""))), FailureKind::kMalformed);
  expect_failure(fresh()->start("not base64!"), FailureKind::kMalformed);

  auto m = fresh();
  (void)ntlm_handshake(*m, kUnicode | kNtlm);
  std::string msg = ntlm_authenticate(kUnicode | kNtlm, "", std::string(48, '\x01'), "", utf16("User"), "");
  msg[20 + 4] = '\x7f';  // NT response offset far past the end
  expect_failure(m->step(b64(msg)), FailureKind::kMalformed);

  auto a = fresh();
  (void)ntlm_handshake(*a, kUnicode | kNtlm);
  expect_failure(a->step(b64(ntlm_authenticate(kUnicode | kNtlm, std::string(1, '\0'), "", "", "", ""))),
                 FailureKind::kRejected);
}
