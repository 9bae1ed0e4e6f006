// LoginService: the protocol-neutral part of a login, one per connection. It admits password
// checks through the service's core::ClientPolicy (anti-hammering, auto-deny, check slots),
// verifies the password or takes a mechanism's proof, looks up the mailbox, checks mailbox and
// postoffice are enabled, fills in missing derived secrets, runs the protocol's own step on the
// mailbox (POP3: lock and open the maildrop), reports every outcome to the policy, logs one
// "<module>.login" line, and holds a failure's reply for the anti-hammering delay. Store work
// runs on the connection's WorkQueue; every callback comes back on the loop thread, and never
// once the connection is gone.
//
// Input: login(), reject() and fetch_secret() pause the connection's input; the caller resumes
// it once it has answered (unless it closes).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "auth/login_metrics.h"
#include "auth/login_outcome.h"
#include "auth/sasl/auth_mechanism.h"
#include "core/loop/event_loop.h"
#include "core/module/module.h"
#include "core/net/connection.h"
#include "storage/account_store.h"

namespace mailroom::auth {

// A login to check: the password, or a mechanism's proof already accepted (`verified`: APOP,
// CRAM-MD5, NTLM, SCRAM; `password` empty then).
struct LoginRequest {
  storage::Address address;
  std::string password;  // wiped on the worker once used
  std::string mechanism = "USER";  // for the log
  bool verified = false;
};

// The protocol's own step once the mailbox passed, on a worker (POP3: lock and open the
// maildrop). Anything other than kOk fails the login with `reason` in the log.
struct MailboxStepResult {
  LoginOutcome outcome = LoginOutcome::kOk;
  std::string reason;
};
using MailboxStep = std::function<MailboxStepResult(const storage::MailboxInfo& mailbox)>;

// The answer a login gets, when it is due (a failure's after the anti-hammering delay). `close`:
// the address is blocked; answer, then close the connection.
struct LoginReply {
  LoginOutcome outcome = LoginOutcome::kAuthFailed;
  bool close = false;
};
using LoginReplyFn = std::function<void(LoginReply reply)>;

// A stored secret looked up for a mechanism: the first accepted kind the mailbox has (none:
// unknown mailbox or no such secret), or `error` when the store failed.
struct SecretLookup {
  std::optional<sasl::Secret> secret;
  bool error = false;
};
using SecretLookupFn = std::function<void(SecretLookup lookup)>;

class LoginService {
 public:
  // `log_prefix` names the module in the log ("pop3" -> pop3.login, pop3.secret_lookup);
  // `wanted_secrets` are the kinds a password login fills in when missing (needed_secret_kinds);
  // `service` labels the login metrics.
  LoginService(core::Connection& connection, storage::AccountStore& accounts, core::ClientPolicy& policy,
               std::string log_prefix, std::set<std::string> wanted_secrets, std::string service);

  // Checks the login (a password check waits for admission), then calls `reply`. A blocked
  // address is refused without a check.
  void login(LoginRequest request, MailboxStep mailbox_step, LoginReplyFn reply);
  // A mechanism refused the credentials on the loop (wrong digest or proof, unknown user):
  // logged and counted like a wrong password, then `reply` with kAuthFailed.
  void reject(const std::string& mechanism, const std::string& user, const std::string& reason,
              LoginReplyFn reply);
  // Looks up the first of `accepted` the mailbox holds, then calls `done`. false: the address
  // is blocked (logged; `done` is never called): refuse and close.
  [[nodiscard]] bool fetch_secret(const storage::Address& address, std::vector<sasl::SecretKind> accepted,
                                  const std::string& mechanism, SecretLookupFn done);

 private:
  struct Check;  // one login's state, shared with the worker
  void refuse_blocked(const LoginRequest& request, const LoginReplyFn& reply);
  void run_check(std::shared_ptr<Check> check, std::shared_ptr<core::LoginCheck> admitted);
  void on_checked(Check& check, const std::shared_ptr<core::LoginCheck>& admitted);
  // Hands the outcome to `reply`, after the anti-hammering delay on failure. A failure is
  // counted with the client policy unless `counted` says it was already.
  void finish(LoginOutcome outcome, LoginReplyFn reply, std::optional<core::LoginFailure> counted = std::nullopt);
  std::string sid() const;

  core::Connection& conn_;
  storage::AccountStore& accounts_;
  core::ClientPolicy& policy_;
  std::string login_event_;          // "<prefix>.login"
  std::string secret_lookup_event_;  // "<prefix>.secret_lookup"
  std::set<std::string> wanted_secrets_;
  core::Timer delay_timer_;  // holds a failed login's reply (anti-hammering)
  LoginMetrics metrics_;     // every login log line is counted too
};

}  // namespace mailroom::auth
