// SessionAdapter: the old-password check through LoginService, the change on a worker.
#include "modules/poppassd/session_adapter.h"

#include "auth/password_change.h"
#include "core/log/logger.h"

namespace mailroom::poppassd {

SessionAdapter::SessionAdapter(core::Connection& connection, storage::AccountStore& accounts, WantedSecretKinds wanted,
                               SessionConfig config, core::ClientPolicy& policy, const core::ModuleReplies& replies,
                               const std::string& service)
    : conn_(connection),
      accounts_(accounts),
      wanted_(std::move(wanted)),
      session_(std::move(config)),
      policy_(policy),
      replies_(replies),
      // No secrets filled in at the old-password check: the change replaces them all.
      login_(connection, accounts, policy, "poppassd", {}, service),
      metrics_(service) {}

void SessionAdapter::on_open() {
  log::info("poppassd.connect",
            {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}, {"local", conn_.local_endpoint()}});
  run(session_.greeting());
}

// Framing as POP3's (lenient): the ending does not matter.
void SessionAdapter::on_line(std::string_view line, core::LineEnding) { run(session_.on_line(line)); }

void SessionAdapter::on_line_too_long() {
  log::warn("poppassd.line_too_long", {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}});
  if (policy_.command_too_long(conn_)) {  // auto-deny: the address is on the deny list now
    conn_.write(replies_.auto_denied);
    conn_.close();
    return;
  }
  run(session_.on_line_too_long());
}

void SessionAdapter::on_close() {
  log::info("poppassd.disconnect", {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()},
                                    {"user", session_.user()}, {"state", state_name(session_.state())}});
}

void SessionAdapter::run(Step step) {
  if (!step.reply.empty()) conn_.write(std::move(step.reply));
  if (conn_.closing()) return;
  std::visit(
      [this](auto&& effect) {
        using T = std::decay_t<decltype(effect)>;
        if constexpr (std::is_same_v<T, Authenticate>) {
          login_.login(auth::LoginRequest{std::move(effect.address), std::move(effect.password), "USER", false},
                       nullptr, [this](auth::LoginReply reply) { answer_login(reply); });
        } else if constexpr (std::is_same_v<T, RejectLogin>) {
          login_.reject("USER", effect.user, effect.reason, [this](auth::LoginReply reply) { answer_login(reply); });
        } else if constexpr (std::is_same_v<T, ChangePassword>) {
          start_change(std::move(effect));
        } else if constexpr (std::is_same_v<T, Close>) {
          conn_.close();
        }
      },
      step.effect);
}

void SessionAdapter::answer_login(auth::LoginReply reply) {
  Step step = session_.on_login_result(reply.outcome);
  if (reply.close) {  // blocked: answer, then hang up
    run(std::move(step));
    conn_.close();
    return;
  }
  conn_.resume_input();
  run(std::move(step));
}

void SessionAdapter::start_change(ChangePassword change) {
  conn_.pause_input();
  struct Job {
    ChangePassword change;
    ChangeResult result;
    std::string error;  // for the log: why kFailed
  };
  auto job = std::make_shared<Job>();
  job->change = std::move(change);
  storage::AccountStore& accounts = accounts_;
  std::weak_ptr<void> alive = conn_.liveness();
  conn_.work().submit(
      [job, &accounts, wanted = wanted_] {
        ChangePassword& c = job->change;
        auto result = [&]() -> ChangeResult {
          auto policy = auth::load_password_policy(accounts);
          if (!policy) return {ChangeResult::Outcome::kFailed, policy.error().message};
          if (auto refusal = auth::password_refusal(*policy, c.new_password, c.address, c.old_password)) {
            return {ChangeResult::Outcome::kRefused, *refusal};
          }
          Result<std::set<std::string>> kinds = wanted ? wanted() : std::set<std::string>{};
          if (!kinds) return {ChangeResult::Outcome::kFailed, kinds.error().message};
          auto changed = auth::change_password(accounts, c.address, c.new_password, storage::PasswordKind::kPlaintext,
                                               *kinds);
          if (!changed) return {ChangeResult::Outcome::kFailed, changed.error().message};
          return {ChangeResult::Outcome::kChanged, ""};
        }();
        job->result = std::move(result);
        c.old_password.assign(c.old_password.size(), '\0');
        c.new_password.assign(c.new_password.size(), '\0');
      },
      [this, job, alive, service = conn_.service(), session_id = sid(), ip = conn_.peer_ip(), metrics = metrics_] {
        // Logged and counted even when the client has gone: the change happened (or not) all the same.
        const ChangeResult& r = job->result;
        const std::string user = job->change.address.str();
        switch (r.outcome) {
          case ChangeResult::Outcome::kChanged:
            log::info("poppassd.changed", {{"service", service}, {"sid", session_id}, {"ip", ip}, {"user", user}});
            break;
          case ChangeResult::Outcome::kRefused:
            log::info("poppassd.refused",
                      {{"service", service}, {"sid", session_id}, {"ip", ip}, {"user", user}, {"reason", r.reason}});
            break;
          case ChangeResult::Outcome::kFailed:
            log::error("poppassd.change_failed",
                       {{"service", service}, {"sid", session_id}, {"ip", ip}, {"user", user}, {"error", r.reason}});
            break;
        }
        (r.outcome == ChangeResult::Outcome::kChanged   ? metrics.changed
         : r.outcome == ChangeResult::Outcome::kRefused ? metrics.refused
                                                        : metrics.failed)
            .inc();
        if (alive.expired()) return;
        conn_.resume_input();
        run(session_.on_change_result(r));
      });
}

}  // namespace mailroom::poppassd
