// LoginService: admission, the password or mailbox check on a worker, policy reports, the delay.
#include "auth/login_service.h"

#include "auth/password_rehash.h"
#include "auth/secrets.h"
#include "core/log/logger.h"
#include "storage/password/password_hash.h"

namespace mailroom::auth {

struct LoginService::Check {
  LoginRequest request;
  MailboxStep mailbox_step;
  LoginReplyFn reply;
  std::set<std::string> wanted_secrets;
  bool skipped = false;  // the client had gone before the check began
  LoginOutcome outcome = LoginOutcome::kTemporary;
  std::string reason;
};

LoginService::LoginService(core::Connection& connection, storage::AccountStore& accounts,
                           core::ClientPolicy& policy, std::string log_prefix, std::set<std::string> wanted_secrets,
                           std::string service)
    : conn_(connection),
      accounts_(accounts),
      policy_(policy),
      login_event_(log_prefix + ".login"),
      secret_lookup_event_(log_prefix + ".secret_lookup"),
      wanted_secrets_(std::move(wanted_secrets)),
      delay_timer_(connection.loop()),
      metrics_(std::move(service)) {}

std::string LoginService::sid() const { return std::to_string(conn_.id()); }

void LoginService::refuse_blocked(const LoginRequest& request, const LoginReplyFn& reply) {
  // Blocked (anti-hammering, auto-deny or by the admin): no password is even checked.
  log::info(login_event_, {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}, {"mech", request.mechanism},
                           {"user", request.address.str()}, {"result", "blocked"}});
  metrics_.count(request.mechanism, "blocked");
  reply(LoginReply{LoginOutcome::kAuthFailed, true});
}

void LoginService::login(LoginRequest request, MailboxStep mailbox_step, LoginReplyFn reply) {
  conn_.pause_input();
  auto check = std::make_shared<Check>();
  check->request = std::move(request);
  check->mailbox_step = std::move(mailbox_step);
  check->reply = std::move(reply);
  check->wanted_secrets = wanted_secrets_;
  if (check->request.verified) {
    // A mechanism already proved the credentials on the loop: no password hash to bound.
    if (policy_.login_blocked(conn_)) {
      refuse_blocked(check->request, check->reply);
      return;
    }
    run_check(std::move(check), nullptr);
    return;
  }
  // Password checks go through the service's admission (login_checks_per_ip, failures left):
  // 50 parallel connections from one address cannot have 50 passwords checked at once.
  std::weak_ptr<void> alive = conn_.liveness();
  policy_.admit_login(conn_, [this, alive, check = std::move(check)](std::shared_ptr<core::LoginCheck> admitted) mutable {
    if (alive.expired()) return;
    if (!admitted) {
      refuse_blocked(check->request, check->reply);
      return;
    }
    run_check(std::move(check), std::move(admitted));
  });
}

void LoginService::run_check(std::shared_ptr<Check> check, std::shared_ptr<core::LoginCheck> admitted) {
  storage::AccountStore& accounts = accounts_;
  std::weak_ptr<void> alive = conn_.liveness();
  conn_.work().submit(
      [check, &accounts, gone = alive] {
        LoginRequest& req = check->request;
        auto wipe = [&req] { req.password.assign(req.password.size(), '\0'); };
        if (gone.expired()) {  // nobody waits for the answer: spend no hash on it
          wipe();
          check->skipped = true;
          return;
        }
        Result<storage::MailboxInfo> mailbox = vet_mailbox(
            req.verified ? accounts.get_mailbox(req.address) : accounts.verify_password(req.address, req.password),
            req.verified);
        if (!mailbox) {
          wipe();
          check->outcome = outcome_for_error(mailbox.error().code);
          check->reason = mailbox.error().message;
          return;
        }
        if (!req.verified) {
          // A mechanism enabled after the password was set needs its secret: derive the missing
          // ones now that we hold the password (issue: "filled in at the next successful login").
          std::set<std::string> missing = missing_secret_kinds(check->wanted_secrets, mailbox->secret_kinds);
          if (!missing.empty()) {
            auto filled = accounts.put_secrets(req.address, derive_secrets(req.password, missing));
            if (!filled) check->reason = "could not store derived secrets: " + filled.error().message;
          }
          // An imported hash becomes argon2id now that we hold the password (rehash_on_login).
          if (rehash_after_login(accounts, *mailbox, req.password)) {
            mailbox->password_scheme = storage::password::kSchemeArgon2id;
          }
        }
        wipe();
        MailboxStepResult step = check->mailbox_step ? check->mailbox_step(*mailbox) : MailboxStepResult{};
        check->outcome = step.outcome;
        if (step.outcome != LoginOutcome::kOk) check->reason = std::move(step.reason);
      },
      [this, check, alive, admitted = std::move(admitted), session_id = sid(), service = conn_.service(), ip = conn_.peer_ip(),
       event = login_event_, metrics = metrics_] {
        if (alive.expired()) {
          // Client gone (`this` with it): what the protocol's step holds is released with the
          // check. A wrong password was a guess all the same: it counts against the address.
          if (admitted && counts_as_guess(check->skipped, check->outcome)) admitted->failed();
          const std::string_view result = gone_result_name(check->skipped, check->outcome);
          metrics.count(check->request.mechanism, result);
          log::info(event, {{"service", service}, {"sid", session_id}, {"ip", ip}, {"mech", check->request.mechanism},
                            {"user", check->request.address.str()},
                            {"result", std::string(result)},
                            {"reason", check->skipped ? "client closed before the check" : "client closed"}});
          return;
        }
        on_checked(*check, admitted);
      });
}

void LoginService::on_checked(Check& check, const std::shared_ptr<core::LoginCheck>& admitted) {
  // Right password, but the address was blocked while the check ran (parallel guesses): a
  // blocked address never logs in, nor learns from an in-use or temporary failure that its
  // guess was right.
  bool refused_blocked = false;
  if (check.outcome == LoginOutcome::kOk) {
    refused_blocked = !(admitted ? admitted->succeeded() : policy_.login_succeeded(conn_));
  } else if (check.outcome != LoginOutcome::kAuthFailed) {
    refused_blocked = policy_.login_blocked(conn_);
  }
  if (refused_blocked) {
    check.outcome = LoginOutcome::kAuthFailed;
    check.reason = "address blocked";
  }
  const std::string_view result = refused_blocked ? "blocked" : login_result_name(check.outcome);
  metrics_.count(check.request.mechanism, result);
  log::info(login_event_, {{"service", conn_.service()}, {"sid", sid()},
                           {"ip", conn_.peer_ip()},
                           {"mech", check.request.mechanism},
                           {"user", check.request.address.str()},
                           {"result", std::string(result)},
                           {"reason", check.reason}});
  if (refused_blocked) {
    finish(check.outcome, std::move(check.reply), core::LoginFailure{{}, true});
  } else if (check.outcome == LoginOutcome::kAuthFailed && admitted) {
    finish(check.outcome, std::move(check.reply), admitted->failed());
  } else {
    finish(check.outcome, std::move(check.reply));
  }
}

void LoginService::reject(const std::string& mechanism, const std::string& user, const std::string& reason,
                          LoginReplyFn reply) {
  conn_.pause_input();
  metrics_.count(mechanism, "auth_failed");
  log::info(login_event_, {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}, {"mech", mechanism}, {"user", user},
                           {"result", "auth_failed"}, {"reason", reason}});
  finish(LoginOutcome::kAuthFailed, std::move(reply));
}

void LoginService::finish(LoginOutcome outcome, LoginReplyFn reply, std::optional<core::LoginFailure> counted) {
  if (outcome != LoginOutcome::kAuthFailed) {
    if (outcome == LoginOutcome::kOk) conn_.login_done();
    reply(LoginReply{outcome, false});
    return;
  }
  core::LoginFailure failure = counted ? *counted : policy_.login_failed(conn_);
  if (failure.blocked) {  // the address is blocked (by this failure or before): answer, then hang up
    reply(LoginReply{LoginOutcome::kAuthFailed, true});
    return;
  }
  if (failure.delay.count() <= 0) {
    reply(LoginReply{LoginOutcome::kAuthFailed, false});
    return;
  }
  // Input stays paused meanwhile: a pipelining client cannot try faster than the delay allows.
  // The timer is ours, so it dies with the connection.
  delay_timer_.start(static_cast<uint64_t>(failure.delay.count()), 0,
                     [reply = std::move(reply)] { reply(LoginReply{LoginOutcome::kAuthFailed, false}); });
}

bool LoginService::fetch_secret(const storage::Address& address, std::vector<sasl::SecretKind> accepted,
                                const std::string& mechanism, SecretLookupFn done) {
  conn_.pause_input();
  if (policy_.login_blocked(conn_)) {
    log::info(login_event_, {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}, {"mech", mechanism},
                             {"user", address.str()}, {"result", "blocked"}});
    metrics_.count(mechanism, "blocked");
    return false;
  }
  struct Job {
    storage::Address address;
    std::vector<sasl::SecretKind> accepted;
    std::string mechanism;
    SecretLookup lookup;
    std::string reason;
  };
  auto job = std::make_shared<Job>();
  job->address = address;
  job->accepted = std::move(accepted);
  job->mechanism = mechanism;
  storage::AccountStore& accounts = accounts_;
  std::weak_ptr<void> alive = conn_.liveness();
  conn_.work().submit(
      [job, &accounts] {
        for (sasl::SecretKind kind : job->accepted) {
          auto value = accounts.get_secret(job->address, std::string(secret_kind_name(kind)));
          if (!value) {
            if (value.error().code != ErrorCode::kAuthFailed) job->lookup.error = true;
            job->reason = value.error().message;
            return;
          }
          if (*value) {
            job->lookup.secret = sasl::Secret{kind, std::move(**value)};
            return;
          }
        }
        job->reason = "no stored secret for " + job->mechanism;
      },
      [this, job, alive, done = std::move(done)] {
        if (alive.expired()) return;
        if (job->lookup.error) {
          log::error(secret_lookup_event_, {{"service", conn_.service()}, {"sid", sid()}, {"user", job->address.str()}, {"error", job->reason}});
        } else if (!job->lookup.secret) {
          log::debug(secret_lookup_event_, {{"service", conn_.service()}, {"sid", sid()}, {"user", job->address.str()}, {"reason", job->reason}});
        }
        done(std::move(job->lookup));  // the caller wipes the secret once used
      });
  return true;
}

}  // namespace mailroom::auth
