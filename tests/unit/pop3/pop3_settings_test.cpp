// The pop3 settings as the secret-kind policy sees them (auth_mechanisms, apop -> LoginOffer).
#include <doctest/doctest.h>

#include "auth/secrets.h"
#include "modules/pop3/pop3_settings.h"

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

TEST_CASE("login_offer maps auth_mechanisms and apop") {
  auto defaults = login_offer(settings({}));
  CHECK(defaults.mechanisms == std::vector<std::string>{"PLAIN", "LOGIN"});
  CHECK_FALSE(defaults.apop);
  auto legacy = login_offer(settings({{"auth_mechanisms", "plain, cram-md5 CRAM-MD5"}, {"apop", "on"}}));
  CHECK(legacy.mechanisms == std::vector<std::string>{"PLAIN", "CRAM-MD5"});
  CHECK(legacy.apop);
}

TEST_CASE("pop3 settings ask for the secrets their mechanisms need") {
  CHECK(auth::wanted_secret_kinds(login_offer(settings({}))) == Kinds{"scram-sha-1", "scram-sha-256"});
  CHECK(auth::wanted_secret_kinds(login_offer(settings({{"auth_mechanisms", "NTLM"}, {"apop", "on"}}))) ==
        Kinds{"nt-hash", "plaintext", "scram-sha-1", "scram-sha-256"});
  CHECK(auth::needed_secret_kinds(login_offer(settings({}))).empty());  // defaults: PLAIN LOGIN, no APOP
  CHECK(auth::needed_secret_kinds(login_offer(settings({{"auth_mechanisms", "LOGIN SCRAM-SHA-1 CRAM-MD5"}, {"apop", "on"}}))) ==
        Kinds{"cram-md5", "plaintext", "scram-sha-1"});
}
