// Which derived secrets the POP3 settings ask for, and deriving them.
#include <doctest/doctest.h>

#include "modules/pop3/pop3_settings.h"
#include "modules/pop3/sasl/cram_md5.h"
#include "modules/pop3/sasl/ntlm.h"
#include "modules/pop3/secrets.h"

using namespace mailroom;
using namespace mailroom::pop3;

namespace {
config::ServiceSettings settings(std::map<std::string, std::string> stored) {
  auto s = config::ServiceSettings::build(pop3_settings_catalog(), stored);
  REQUIRE(s.ok());
  return *s;
}
using Kinds = std::set<std::string>;
}  // namespace

TEST_CASE("mailctl stores SCRAM keys always, legacy secrets only for enabled mechanisms") {
  CHECK(wanted_secret_kinds(settings({})) == Kinds{"scram-sha-1", "scram-sha-256"});
  CHECK(wanted_secret_kinds(settings({{"auth_mechanisms", "PLAIN CRAM-MD5"}})) ==
        Kinds{"cram-md5", "scram-sha-1", "scram-sha-256"});
  CHECK(wanted_secret_kinds(settings({{"auth_mechanisms", "NTLM"}, {"apop", "on"}})) ==
        Kinds{"nt-hash", "plaintext", "scram-sha-1", "scram-sha-256"});
}

TEST_CASE("a login fills in only what the offered mechanisms need") {
  CHECK(needed_secret_kinds(settings({})).empty());  // defaults: PLAIN LOGIN, no APOP
  CHECK(needed_secret_kinds(settings({{"auth_mechanisms", "SCRAM-SHA-256"}})) == Kinds{"scram-sha-256"});
  CHECK(needed_secret_kinds(settings({{"auth_mechanisms", "LOGIN SCRAM-SHA-1 CRAM-MD5"}, {"apop", "on"}})) ==
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
