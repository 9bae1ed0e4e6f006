// SessionAdapter: between a core Connection and the pure poppassd::Session. The old password is
// checked through the shared auth::LoginService (admission, anti-hammering, the failure delay);
// the change runs on a worker: the password policy, then auth::change_password() with the
// derived secrets the enabled services want, as `mailctl mailbox passwd` does.
#pragma once

#include <string>

#include "auth/login_service.h"
#include "core/module/module.h"
#include "core/module/module_descriptor.h"
#include "core/net/connection.h"
#include "modules/poppassd/poppassd_metrics.h"
#include "modules/poppassd/poppassd_module.h"
#include "modules/poppassd/session.h"
#include "storage/account_store.h"

namespace mailroom::poppassd {

class SessionAdapter : public core::ProtocolSession {
 public:
  SessionAdapter(core::Connection& connection, storage::AccountStore& accounts, WantedSecretKinds wanted,
                 SessionConfig config, core::ClientPolicy& policy, const core::ModuleReplies& replies,
                 const std::string& service);

  void on_open() override;
  void on_line(std::string_view line, core::LineEnding ending) override;
  std::string loggable_line(std::string_view line) const override { return session_.loggable_line(line); }
  void on_line_too_long() override;
  std::string on_timeout(core::Timeout which) override { return replies_.for_timeout(which); }
  core::SessionInfo describe() const override { return {session_.user(), state_name(session_.state())}; }
  void on_close() override;

 private:
  void run(Step step);
  void answer_login(auth::LoginReply reply);
  void start_change(ChangePassword change);
  std::string sid() const { return std::to_string(conn_.id()); }

  core::Connection& conn_;
  storage::AccountStore& accounts_;
  WantedSecretKinds wanted_;
  Session session_;
  core::ClientPolicy& policy_;
  const core::ModuleReplies& replies_;
  auth::LoginService login_;
  PoppassdMetrics metrics_;
};

}  // namespace mailroom::poppassd
