// SessionAdapter: runs the SMTP/LMTP session's effects off the loop thread.
#include "modules/smtp-stub/session_adapter.h"

#include <ctime>

#include "core/log/logger.h"
#include "delivery/delivery_quota.h"
#include "delivery/recipient_lookup.h"
#include "delivery/trace_headers.h"

namespace mailroom::smtp {

namespace {

// What the store says about a recipient (on a worker). <Postmaster> is the postmaster of our
// own name.
RecipientVerdict look_up(storage::AccountStore& accounts, const RcptTo& rcpt, const std::string& own_hostname) {
  if (rcpt.postmaster) return delivery::look_up_recipient(accounts, "postmaster", own_hostname);
  return delivery::look_up_recipient(accounts, rcpt.local, rcpt.domain);
}

}  // namespace

SessionAdapter::SessionAdapter(core::Connection& connection, storage::AccountStore& accounts,
                               storage::MailStore& mail, SessionConfig config, AdapterConfig adapter,
                               std::shared_ptr<const tls::TlsContext> tls, core::ClientPolicy& policy,
                               const core::ModuleReplies& replies)
    : conn_(connection),
      accounts_(accounts),
      mail_(mail),
      session_(std::move(config)),
      adapter_(std::move(adapter)),
      tls_(std::move(tls)),
      policy_(policy),
      replies_(replies),
      delay_timer_(connection.loop()),
      metrics_(adapter_.service) {}

SessionAdapter::~SessionAdapter() = default;

std::string SessionAdapter::sid() const { return std::to_string(conn_.id()); }

std::string SessionAdapter::next_message_id() {
  // Unique per message and daemon run: the session id, its message count and the time.
  return std::to_string(std::time(nullptr)) + "." + sid() + "." + std::to_string(++message_count_);
}

void SessionAdapter::on_open() {
  log::info(event("connect"),
            {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}, {"local", conn_.local_endpoint()}});
  // SMTP has no login: the login deadline does not apply. Command lines are framed strictly
  // (the ending is reported: a bare CR is refused).
  conn_.login_done();
  conn_.set_line_mode(core::LineMode{0, core::LineFraming::kStrict});
  run(session_.greeting());
}

void SessionAdapter::on_line(std::string_view line, core::LineEnding ending) { run(session_.on_line(line, ending)); }

std::string SessionAdapter::loggable_line(std::string_view line) const { return Session::loggable_line(line); }

void SessionAdapter::on_line_too_long() {
  log::warn(event("line_too_long"), {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}});
  if (policy_.command_too_long(conn_)) {  // auto-deny: the address is on the deny list now
    conn_.write(replies_.auto_denied);
    conn_.close();
    return;
  }
  run(session_.on_line_too_long());
}

void SessionAdapter::on_body_line(std::string_view line, core::LineEnding) {
  session_.on_data_line(line);
  if (stream_) stream_->add_line(line);
}

void SessionAdapter::on_body_end(const core::BodySummary& summary) {
  conn_.set_idle_timeout(0);
  data_octets_ = summary.octets;
  run(session_.on_data_end(summary));
}

std::string SessionAdapter::on_timeout(core::Timeout which) { return replies_.for_timeout(which); }

void SessionAdapter::on_close() {
  delay_timer_.stop();
  stream_.reset();  // an unfinished delivery is dropped (its tmp file removed on a worker)
  log::info(event("disconnect"), {{"service", conn_.service()}, {"sid", sid()},
                                  {"ip", conn_.peer_ip()},
                                  {"helo", session_.helo()},
                                  {"delivered", std::to_string(session_.delivered())}});
}

void SessionAdapter::run(Step step) {
  if (conn_.closing()) return;  // a last line (a timeout's 421) is out: nothing may follow it
  if (!step.reply.empty()) conn_.write(std::move(step.reply));
  if (conn_.closing()) return;
  std::visit(
      [this](auto&& effect) {
        using T = std::decay_t<decltype(effect)>;
        if constexpr (std::is_same_v<T, LookupRecipient>) {
          lookup(effect.rcpt, effect.size);
        } else if constexpr (std::is_same_v<T, ReceiveData>) {
          receive(std::move(effect));
        } else if constexpr (std::is_same_v<T, CommitData>) {
          commit();
        } else if constexpr (std::is_same_v<T, DiscardData>) {
          log::info(event("refused"), {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}, {"id", message_id_},
                                       {"octets", std::to_string(data_octets_)}});
          metrics_.refused();
          stream_.reset();
        } else if constexpr (std::is_same_v<T, CountFailure>) {
          count_failure();
        } else if constexpr (std::is_same_v<T, Close>) {
          conn_.close();
        } else if constexpr (std::is_same_v<T, StartTls>) {
          if (!conn_.start_tls(tls_)) return;
          session_.on_tls_started();
          log::debug(event("starttls"), {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}});
        }
      },
      step.effect);
}

void SessionAdapter::lookup(const RcptTo& rcpt, std::optional<uint64_t> size) {
  conn_.pause_input();
  auto verdict = std::make_shared<RecipientVerdict>();
  std::weak_ptr<void> alive = conn_.liveness();
  storage::AccountStore& accounts = accounts_;
  storage::MailStore& mail = mail_;
  std::string hostname = session_.hostname();
  conn_.work().submit([verdict, &accounts, &mail, rcpt, hostname, size] {
                        *verdict = look_up(accounts, rcpt, hostname);
                        delivery::check_quota(mail, *verdict, size);
                      },
                      [this, alive, verdict, address = rcpt.address] {
                        // Gone, or closing (a timeout's 421 is out): nothing may follow.
                        if (alive.expired() || conn_.closing()) return;
                        if (verdict->status == RecipientStatus::kTemporary) {
                          log::warn(event("rcpt_lookup_failed"), {{"service", conn_.service()}, {"sid", sid()}, {"rcpt", address}});
                        } else if (verdict->status == RecipientStatus::kOverQuota) {
                          log::info(event("over_quota"), {{"service", conn_.service()}, {"sid", sid()}, {"rcpt", verdict->mailbox},
                                                          {"at", "rcpt"}, {"detail", verdict->detail}});
                        }
                        conn_.resume_input();
                        run(session_.on_recipient(*verdict));
                      });
}

void SessionAdapter::count_failure() {
  const core::LoginFailure failure = policy_.login_failed(conn_);
  log::info(event("unknown_recipient"), {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()},
                                         {"blocked", failure.blocked ? "yes" : "no"}});
  conn_.pause_input();
  delay_timer_.start(static_cast<uint64_t>(failure.delay.count()), 0, [this, blocked = failure.blocked] {
    if (conn_.closing()) return;  // a timeout's 421 is out: nothing may follow
    conn_.resume_input();
    run(session_.on_failure_counted(blocked));
  });
}

void SessionAdapter::receive(ReceiveData data) {
  message_id_ = next_message_id();
  data.trace.id = message_id_;
  data.trace.date = delivery::rfc5322_date(std::time(nullptr));
  if (conn_.tls_established()) {
    data.trace.tls_version = conn_.tls_version();
    data.trace.tls_cipher = conn_.tls_cipher();
  }
  std::string head = delivery::trace_headers(data.trace);
  // The writer's cap is the data's plus the lines added here; the line reader enforces the data's.
  storage::DeliveryLimits limits{data.max_size + head.size() + 2};
  conn_.begin_body(core::BodyMode{data.max_line_length, data.max_size});
  conn_.set_idle_timeout(adapter_.data_timeout_ms);
  stream_ = std::make_unique<delivery::DeliveryStream>(conn_, mail_, std::move(data.maildirs), limits, std::move(head));
  stream_->set_copy_filter([quotas = std::move(data.quotas), per_copy = data.quota_per_copy](
                               storage::MailStore& mail, uint64_t wire_size, const std::vector<std::string>& maildirs) {
    return delivery::quota_refusals(mail, maildirs, quotas, wire_size, per_copy);
  });
}

void SessionAdapter::commit() {
  if (!stream_) {  // cannot happen: the session asks for a commit only after ReceiveData
    run(session_.on_commit_result(CommitResult{make_error(ErrorCode::kInternal, "no data stream"), {}, {}}));
    return;
  }
  stream_->commit([this](delivery::StreamCommit committed) {
    stream_.reset();
    CommitResult result;
    result.error = committed.error;
    result.over_quota = committed.held_back;
    std::string stored;
    std::size_t copies_failed = 0;
    std::size_t held_back = 0;
    std::string quota_detail;
    for (const auto& why : committed.held_back) {
      if (!why) continue;
      ++held_back;
      if (quota_detail.empty()) quota_detail = *why;
    }
    for (const auto& copy : committed.copies) {
      if (copy.ok()) {
        result.per_recipient.push_back(Status());
        if (stored.empty()) stored = copy->uid;
      } else {
        result.per_recipient.push_back(copy.error());
        ++copies_failed;
      }
    }
    // A copy held back for its quota is a refusal, not a failed copy.
    metrics_.committed(committed.error ? 0 : committed.copies.size() - held_back, copies_failed - held_back, data_octets_);
    if (held_back > 0) {
      log::info(event("over_quota"), {{"service", conn_.service()}, {"sid", sid()}, {"id", message_id_},
                                      {"at", "data"}, {"held_back", std::to_string(held_back)},
                                      {"detail", quota_detail}});
    }
    const std::string rcpts = session_.recipient_mailboxes();
    if (committed.error) {
      log::warn(event("delivery_failed"), {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}, {"id", message_id_},
                                           {"rcpt", rcpts}, {"error", committed.error->message}});
    } else {
      log::info(event("delivered"), {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}, {"id", message_id_}, {"rcpt", rcpts},
                                     {"octets", std::to_string(data_octets_)}, {"uid", stored}});
    }
    conn_.resume_input();
    run(session_.on_commit_result(result));
  });
}

}  // namespace mailroom::smtp
