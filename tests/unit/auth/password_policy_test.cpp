// Tests for the password policy (pure).
#include <doctest/doctest.h>

#include <string>

#include "auth/password_policy.h"

using namespace mailroom;
using namespace mailroom::auth;

namespace {
const storage::Address kAlice{"alice", "example.test"};
}

TEST_CASE("the password policy: length, old password, mailbox name, storage limits") {
  const PasswordPolicy policy;  // min 8
  CHECK_FALSE(password_refusal(policy, "long-enough", kAlice));
  CHECK(password_refusal(policy, "short", kAlice) == "The new password is too short: at least 8 characters.");
  CHECK(password_refusal(PasswordPolicy{4}, "four", kAlice) == std::nullopt);
  CHECK(password_refusal(policy, "same-as-before", kAlice, "same-as-before") ==
        "The new password is the same as the old one.");
  CHECK_FALSE(password_refusal(policy, "same-as-before", kAlice, "other-before"));
  CHECK(password_refusal(PasswordPolicy{1}, "ALICE", kAlice) == "The new password must not be the mailbox name.");
  CHECK(password_refusal(policy, "Alice@Example.Test", kAlice) == "The new password must not be the mailbox name.");
  CHECK(password_refusal(policy, std::string(1025, 'x'), kAlice) == "the password is longer than 1024 bytes");
  CHECK(password_refusal(policy, "", kAlice) == "the password is empty");
}
