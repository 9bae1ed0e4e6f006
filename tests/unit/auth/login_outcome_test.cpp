// The pure rules of the login service: which mailbox may log in, error mapping, missing secrets,
// the log's result names.
#include <doctest/doctest.h>

#include "auth/login_outcome.h"

using namespace mailroom;
using namespace mailroom::auth;

namespace {
storage::MailboxInfo mailbox(bool enabled, bool postoffice_enabled) {
  storage::MailboxInfo m;
  m.address = storage::Address{"alice", "example.test"};
  m.enabled = enabled;
  m.postoffice_enabled = postoffice_enabled;
  return m;
}
}  // namespace

TEST_CASE("a mechanism's proof logs in only to an enabled mailbox of an enabled postoffice") {
  CHECK(vet_mailbox(mailbox(true, true), true).ok());
  auto off = vet_mailbox(mailbox(false, true), true);
  REQUIRE_FALSE(off.ok());
  CHECK(off.error().code == ErrorCode::kAuthFailed);
  CHECK(off.error().message == "mailbox disabled");
  auto po_off = vet_mailbox(mailbox(true, false), true);
  REQUIRE_FALSE(po_off.ok());
  CHECK(po_off.error().message == "postoffice disabled");
  auto removed = vet_mailbox(make_error(ErrorCode::kNotFound, "no such mailbox"), true);
  REQUIRE_FALSE(removed.ok());
  CHECK(removed.error().code == ErrorCode::kAuthFailed);
  CHECK(removed.error().message == "mailbox removed meanwhile");
  // A database failure stays one: the client is told to come back, not that it guessed wrong.
  auto broken = vet_mailbox(make_error(ErrorCode::kIo, "disk I/O error"), true);
  REQUIRE_FALSE(broken.ok());
  CHECK(outcome_for_error(broken.error().code) == LoginOutcome::kTemporary);
}

TEST_CASE("after a password check the store's answer stands") {
  // verify_password refuses disabled mailboxes itself; its errors pass unchanged.
  CHECK(vet_mailbox(mailbox(false, true), false).ok());
  auto unknown = vet_mailbox(make_error(ErrorCode::kAuthFailed, "no such mailbox"), false);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "no such mailbox");
  CHECK(outcome_for_error(ErrorCode::kAuthFailed) == LoginOutcome::kAuthFailed);
  CHECK(outcome_for_error(ErrorCode::kNotFound) == LoginOutcome::kTemporary);
}

TEST_CASE("a login fills in the wanted secret kinds the mailbox lacks") {
  using Kinds = std::set<std::string>;
  CHECK(missing_secret_kinds({"cram-md5", "scram-sha-256"}, {"scram-sha-256"}) == Kinds{"cram-md5"});
  CHECK(missing_secret_kinds({"plaintext"}, {"plaintext", "scram-sha-1"}).empty());
  CHECK(missing_secret_kinds({}, {"plaintext"}).empty());
}

TEST_CASE("result names of the login log line") {
  CHECK(login_result_name(LoginOutcome::kOk) == "ok");
  CHECK(login_result_name(LoginOutcome::kAuthFailed) == "auth_failed");
  CHECK(login_result_name(LoginOutcome::kLoginDelay) == "login_delay");
  CHECK(login_result_name(LoginOutcome::kInUse) == "in_use");
  CHECK(login_result_name(LoginOutcome::kTemporary) == "temporary_failure");
}

TEST_CASE("a check whose client left counts only a wrong password that was checked") {
  CHECK(counts_as_guess(false, LoginOutcome::kAuthFailed));
  CHECK_FALSE(counts_as_guess(true, LoginOutcome::kAuthFailed));  // never checked
  CHECK_FALSE(counts_as_guess(false, LoginOutcome::kOk));
  CHECK_FALSE(counts_as_guess(false, LoginOutcome::kInUse));
  CHECK_FALSE(counts_as_guess(false, LoginOutcome::kLoginDelay));  // the password was right
  CHECK(gone_result_name(true, LoginOutcome::kTemporary) == "abandoned");
  CHECK(gone_result_name(false, LoginOutcome::kAuthFailed) == "auth_failed");
  CHECK(gone_result_name(false, LoginOutcome::kOk) == "gone");
}
