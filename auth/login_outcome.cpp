// The pure rules of a login: mailbox vetting, error mapping, missing secrets, log names.
#include "auth/login_outcome.h"

namespace mailroom::auth {

LoginOutcome outcome_for_error(ErrorCode code) {
  return code == ErrorCode::kAuthFailed ? LoginOutcome::kAuthFailed : LoginOutcome::kTemporary;
}

Result<storage::MailboxInfo> vet_mailbox(Result<storage::MailboxInfo> mailbox, bool verified) {
  if (!verified) return mailbox;
  if (mailbox && (!mailbox->enabled || !mailbox->postoffice_enabled)) {
    return make_error(ErrorCode::kAuthFailed, mailbox->enabled ? "postoffice disabled" : "mailbox disabled");
  }
  if (!mailbox && mailbox.error().code == ErrorCode::kNotFound) {
    return make_error(ErrorCode::kAuthFailed, "mailbox removed meanwhile");
  }
  return mailbox;
}

std::set<std::string> missing_secret_kinds(const std::set<std::string>& wanted, const std::vector<std::string>& held) {
  std::set<std::string> missing = wanted;
  for (const auto& k : held) missing.erase(k);
  return missing;
}

std::string_view login_result_name(LoginOutcome outcome) {
  switch (outcome) {
    case LoginOutcome::kOk: return "ok";
    case LoginOutcome::kAuthFailed: return "auth_failed";
    case LoginOutcome::kInUse: return "in_use";
    case LoginOutcome::kTemporary: return "temporary_failure";
    case LoginOutcome::kLoginDelay: return "login_delay";
  }
  return "ok";
}

bool counts_as_guess(bool skipped, LoginOutcome outcome) { return !skipped && outcome == LoginOutcome::kAuthFailed; }

std::string_view gone_result_name(bool skipped, LoginOutcome outcome) {
  if (skipped) return "abandoned";
  return counts_as_guess(skipped, outcome) ? "auth_failed" : "gone";
}

}  // namespace mailroom::auth
