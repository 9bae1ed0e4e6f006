// Which derived secrets an offer of mechanisms asks for, and deriving them.
#include <doctest/doctest.h>

#include "auth/sasl/cram_md5.h"
#include "auth/sasl/ntlm.h"
#include "auth/secrets.h"

using namespace mailroom;
using namespace mailroom::auth;

namespace {
using Kinds = std::set<std::string>;
using Mechs = std::vector<std::string>;
}  // namespace

TEST_CASE("mailctl stores SCRAM keys always, legacy secrets only for enabled mechanisms") {
  CHECK(wanted_secret_kinds(LoginOffer{}) == Kinds{"scram-sha-1", "scram-sha-256"});
  CHECK(wanted_secret_kinds(LoginOffer{Mechs{"PLAIN", "CRAM-MD5"}, false}) ==
        Kinds{"cram-md5", "scram-sha-1", "scram-sha-256"});
  CHECK(wanted_secret_kinds(LoginOffer{Mechs{"NTLM"}, true}) ==
        Kinds{"nt-hash", "plaintext", "scram-sha-1", "scram-sha-256"});
}

TEST_CASE("a login fills in only what the offered mechanisms need") {
  CHECK(needed_secret_kinds(LoginOffer{Mechs{"PLAIN", "LOGIN"}, false}).empty());
  CHECK(needed_secret_kinds(LoginOffer{Mechs{"SCRAM-SHA-256"}, false}) == Kinds{"scram-sha-256"});
  CHECK(needed_secret_kinds(LoginOffer{Mechs{"LOGIN", "SCRAM-SHA-1", "CRAM-MD5"}, true}) ==
        Kinds{"cram-md5", "plaintext", "scram-sha-1"});
}

TEST_CASE("derived secrets carry the right values and flags") {
  auto secrets = derive_secrets("tanstaaftanstaaf", {"cram-md5", "nt-hash", "plaintext", "scram-sha-256", "bogus"});
  REQUIRE(secrets.size() == 4);  // unknown kinds are skipped
  for (const auto& s : secrets) {
    CAPTURE(s.kind);
    CHECK(s.plaintext_equivalent == is_plaintext_equivalent(s.kind));
    if (s.kind == "cram-md5") CHECK(s.value == sasl::cram_md5_contexts("tanstaaftanstaaf"));
    if (s.kind == "nt-hash") CHECK(s.value == sasl::ntlm_nt_hash("tanstaaftanstaaf"));
    if (s.kind == "plaintext") CHECK(s.value == "tanstaaftanstaaf");
    if (s.kind == "scram-sha-256") CHECK(s.value.rfind("SCRAM-SHA-256$4096:", 0) == 0);
  }
  CHECK(mechanisms_for_secrets({"plaintext"}) == std::vector<std::string>{"APOP", "CRAM-MD5", "NTLM"});
  CHECK(mechanisms_for_secrets({"scram-sha-256", "cram-md5"}) == std::vector<std::string>{"CRAM-MD5", "SCRAM-SHA-256"});
}
