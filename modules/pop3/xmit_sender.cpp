// XmitSender: XTND XMIT's spool, recipient lookups, commit and queueing, on the worker pool.
#include "modules/pop3/xmit_sender.h"

#include <unistd.h>

#include <ctime>

#include "core/log/logger.h"
#include "delivery/delivery_quota.h"
#include "delivery/recipient_lookup.h"
#include "delivery/trace_headers.h"

namespace mailroom::pop3 {

struct XmitSender::Plan {
  SendXmit send;
  uint64_t stored_octets = 0;  // the message with our Received line: what a quota counts
  // decided on the worker
  std::optional<XmitResult> refusal;
  std::vector<std::string> local_maildirs;  // one per mailbox
  std::vector<std::string> remote;          // addr-specs for the queue
};

namespace {

// The daemon-wide `smarthost` (mailctl daemon set smarthost): non-empty means configured.
Result<bool> smarthost_configured(storage::AccountStore& accounts) {
  auto settings = accounts.daemon_settings();
  if (!settings) return settings.error();
  auto it = settings->find("smarthost");
  return it != settings->end() && !it->second.empty();
}

// Removes copies already made (a later step failed): nothing delivered after an -ERR. On a worker.
void remove_copies(const std::vector<storage::DeliveredMessage>& copies) {
  for (const auto& copy : copies) ::unlink(copy.path.c_str());
}

// Looks every recipient up (on a worker): local mailboxes (each within its quota), remote
// addresses, or the refusal.
void decide(storage::AccountStore& accounts, storage::MailStore& mail, XmitSender::Plan& plan) {
  for (const auto& rcpt : plan.send.recipients) {
    delivery::RecipientVerdict verdict = delivery::look_up_recipient(accounts, rcpt.local, rcpt.domain);
    delivery::check_quota(mail, verdict, plan.stored_octets);
    switch (verdict.status) {
      case delivery::RecipientStatus::kOk: {
        bool seen = false;
        for (const auto& m : plan.local_maildirs) seen = seen || m == verdict.maildir;
        if (!seen) plan.local_maildirs.push_back(verdict.maildir);
        continue;
      }
      case delivery::RecipientStatus::kForeignDomain: plan.remote.push_back(rcpt.str()); continue;
      case delivery::RecipientStatus::kUnknownMailbox:
        plan.refusal = XmitResult{XmitOutcome::kUnknownRecipient, rcpt.str()};
        return;
      case delivery::RecipientStatus::kDisabled:
        plan.refusal = XmitResult{XmitOutcome::kDisabledRecipient, rcpt.str()};
        return;
      case delivery::RecipientStatus::kOverQuota:
        plan.refusal = XmitResult{XmitOutcome::kOverQuota, rcpt.str(), 0, 0, verdict.detail};
        return;
      case delivery::RecipientStatus::kTemporary:
        plan.refusal = XmitResult{XmitOutcome::kTemporary, rcpt.str()};
        return;
    }
  }
  if (plan.remote.empty()) return;
  auto configured = smarthost_configured(accounts);
  if (!configured) {
    plan.refusal = XmitResult{XmitOutcome::kTemporary, {}};
  } else if (!*configured) {
    plan.refusal = XmitResult{XmitOutcome::kNoSmarthost, plan.remote.front()};
  }
}
}  // namespace

XmitSender::XmitSender(core::Connection& connection, storage::AccountStore& accounts, storage::MailStore& mail,
                       std::shared_ptr<const storage::OutboundQueue> queue, std::string hostname)
    : conn_(connection), accounts_(accounts), mail_(mail), queue_(std::move(queue)), hostname_(std::move(hostname)) {}

XmitSender::~XmitSender() = default;

void XmitSender::prepare(std::function<void(Status)> done) {
  conn_.pause_input();
  auto status = std::make_shared<Status>();
  std::weak_ptr<void> alive = conn_.liveness();
  conn_.work().submit([status, queue = queue_] { *status = queue->ensure_dirs(); },
                      [alive, status, done = std::move(done)] {
                        if (alive.expired()) return;
                        done(*status);
                      });
}

void XmitSender::receive(const ReceiveXmit& limits) {
  message_id_ = std::to_string(std::time(nullptr)) + "." + std::to_string(conn_.id()) + ".x" + std::to_string(++count_);
  delivery::TraceInfo trace;
  trace.peer_ip = conn_.is_unix() ? "" : conn_.peer_ip();
  trace.hostname = hostname_;
  trace.with = "POP3 XTND XMIT";
  trace.id = message_id_;
  trace.date = delivery::rfc5322_date(std::time(nullptr));
  if (conn_.tls_established()) {
    trace.tls_version = conn_.tls_version();
    trace.tls_cipher = conn_.tls_cipher();
  }
  std::string head = delivery::received_header(trace);
  head_octets_ = head.size();
  // The writer's cap is the message's plus the line added here; the line reader enforces the message's.
  storage::DeliveryLimits cap{limits.max_size + head.size() + 2};
  conn_.begin_body(core::BodyMode{limits.max_line_length, limits.max_size});
  stream_ = std::make_unique<delivery::DeliveryStream>(conn_, mail_, std::vector<std::string>{queue_->messages_maildir()},
                                                       cap, std::move(head));
}

void XmitSender::add_line(std::string_view line) {
  if (stream_) stream_->add_line(line);
}

void XmitSender::discard() { stream_.reset(); }

void XmitSender::send(SendXmit send, std::function<void(XmitResult)> done) {
  conn_.pause_input();
  auto plan = std::make_shared<Plan>();
  plan->send = std::move(send);
  plan->stored_octets = head_octets_ + plan->send.octets;
  std::weak_ptr<void> alive = conn_.liveness();
  storage::AccountStore& accounts = accounts_;
  storage::MailStore& mail = mail_;
  conn_.work().submit([plan, &accounts, &mail] { decide(accounts, mail, *plan); },
                      [this, alive, plan, done = std::move(done)]() mutable {
                        if (alive.expired()) return;
                        if (plan->refusal || !stream_) {
                          stream_.reset();
                          XmitResult result = plan->refusal.value_or(XmitResult{XmitOutcome::kTemporary, {}});
                          log_result(*plan, result, "");
                          done(result);
                          return;
                        }
                        commit(std::move(plan), std::move(done));
                      });
}

void XmitSender::commit(std::shared_ptr<Plan> plan, std::function<void(XmitResult)> done) {
  std::vector<std::string> targets = plan->local_maildirs;
  if (!plan->remote.empty()) targets.push_back(queue_->messages_maildir());
  stream_->commit(std::move(targets), [this, plan, done = std::move(done)](delivery::StreamCommit committed) mutable {
    stream_.reset();
    std::vector<storage::DeliveredMessage> copies;
    bool all = !committed.error;
    for (auto& copy : committed.copies) {
      if (copy.ok()) {
        copies.push_back(std::move(copy).value());
      } else {
        all = false;
      }
    }
    if (!all) {
      log::warn("pop3.xmit_failed", {{"service", conn_.service()}, {"sid", std::to_string(conn_.id())},
                                     {"id", message_id_},
                                     {"error", committed.error ? committed.error->message : "a copy failed"}});
      conn_.work().submit([copies = std::move(copies)] { remove_copies(copies); }, [] {});
      XmitResult result{XmitOutcome::kTemporary, {}};
      log_result(*plan, result, "");
      done(result);
      return;
    }
    enqueue(std::move(plan), std::move(copies), std::move(done));
  });
}

void XmitSender::enqueue(std::shared_ptr<Plan> plan, std::vector<storage::DeliveredMessage> copies,
                         std::function<void(XmitResult)> done) {
  XmitResult sent{XmitOutcome::kSent, {}, plan->local_maildirs.size(), plan->remote.size()};
  if (plan->remote.empty()) {
    log_result(*plan, sent, "");
    done(sent);
    return;
  }
  struct Job {
    std::vector<storage::DeliveredMessage> copies;  // the local ones, then the queue's
    Result<storage::QueueEntry> entry = make_error(ErrorCode::kInternal, "not run");
  };
  auto job = std::make_shared<Job>();
  job->copies = std::move(copies);
  std::weak_ptr<void> alive = conn_.liveness();
  conn_.work().submit(
      [job, plan, queue = queue_] {
        storage::DeliveredMessage spooled = std::move(job->copies.back());
        job->copies.pop_back();
        job->entry = queue->enqueue(spooled, plan->send.sender.str(), plan->remote, std::time(nullptr));
        if (!job->entry) remove_copies(job->copies);  // enqueue removed its own file
      },
      [this, alive, job, plan, sent, done = std::move(done)] {
        if (alive.expired()) return;
        if (!job->entry) {
          log::warn("pop3.xmit_failed", {{"service", conn_.service()}, {"sid", std::to_string(conn_.id())},
                                         {"id", message_id_}, {"error", job->entry.error().message}});
          XmitResult result{XmitOutcome::kTemporary, {}};
          log_result(*plan, result, "");
          done(result);
          return;
        }
        log_result(*plan, sent, job->entry->id);
        done(sent);
      });
}

void XmitSender::log_result(const Plan& plan, const XmitResult& result, const std::string& queue_id) const {
  static const char* const kOutcome[] = {"sent", "unknown_recipient", "disabled_recipient", "no_smarthost",
                                         "over_quota", "temporary"};
  log::event(result.outcome == XmitOutcome::kSent ? log::Level::kInfo : log::Level::kWarn, "pop3.xmit",
             {{"service", conn_.service()}, {"sid", std::to_string(conn_.id())},
              {"mailbox", plan.send.sender.str()},
              {"id", message_id_},
              {"result", kOutcome[static_cast<int>(result.outcome)]},
              {"rcpt", result.recipient},
              {"local", std::to_string(result.local)},
              {"queued", std::to_string(result.queued)},
              {"octets", std::to_string(plan.send.octets)},
              {"queue_id", queue_id},
              {"detail", result.detail}});
}

}  // namespace mailroom::pop3
