// How a login ends, and the pure rules of the login service (auth/login_service.h) that decide
// it: which stored mailbox may log in, which store errors are the client's fault, which derived
// secrets a login fills in, what the log says. No I/O: unit-tested with values.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "storage/account_store.h"

namespace mailroom::auth {

enum class LoginOutcome {
  kOk,          // logged in
  kAuthFailed,  // wrong user/password or proof, disabled mailbox or postoffice, blocked address
  kInUse,       // the protocol's step found the mailbox busy (POP3: maildrop locked by another session)
  kTemporary,   // storage/database trouble
  // The protocol's step refused a login that came too soon after the mailbox's previous one
  // (POP3 LOGIN-DELAY, RFC 2449). The password was right: never counted as a guess.
  kLoginDelay,
};

// A store error during the check: the client's fault (kAuthFailed: unknown user, wrong
// password, disabled) or ours (kTemporary: the database failed).
LoginOutcome outcome_for_error(ErrorCode code);

// The mailbox a login found, as the login may use it. After a password check the store has
// refused disabled mailboxes already; after a mechanism's proof (`verified`) the mailbox was
// only looked up, so a disabled mailbox or postoffice, or one removed since its secret was
// read, becomes kAuthFailed here.
Result<storage::MailboxInfo> vet_mailbox(Result<storage::MailboxInfo> mailbox, bool verified);

// The secret kinds of `wanted` the mailbox does not hold yet (filled in from the password).
std::set<std::string> missing_secret_kinds(const std::set<std::string>& wanted, const std::vector<std::string>& held);

// The `result` of the login log line: ok, auth_failed, in_use, temporary_failure, login_delay.
std::string_view login_result_name(LoginOutcome outcome);

// A check whose client went away before its answer: a wrong password was a guess all the same
// and counts against the address, unless the check never ran (`skipped`).
bool counts_as_guess(bool skipped, LoginOutcome outcome);

// The `result` of the log line for such a login: abandoned (never checked), auth_failed (a
// guess) or gone.
std::string_view gone_result_name(bool skipped, LoginOutcome outcome);

}  // namespace mailroom::auth
