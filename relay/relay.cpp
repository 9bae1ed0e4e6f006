// The relay's thread: scan the queue, attempt due entries, expire, bounce, remove.
#include "relay/relay.h"

#include <chrono>
#include <ctime>

#include "core/log/logger.h"
#include "relay/smarthost_connection.h"
#include "relay/smtp_client_session.h"
#include "storage/address.h"
#include "storage/queue/bounce_message.h"

namespace mailroom::relay {

namespace {

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

bool has_pending(const storage::QueueEntry& entry) {
  for (const auto& r : entry.recipients) {
    if (r.state == storage::RecipientState::kPending) return true;
  }
  return false;
}

bool has_failed(const storage::QueueEntry& entry) {
  for (const auto& r : entry.recipients) {
    if (r.state == storage::RecipientState::kFailed) return true;
  }
  return false;
}

// The start of the message for the bounce's header part.
std::string header_excerpt(const storage::OutboundQueue& queue, const storage::QueueEntry& entry) {
  auto reader = queue.open_message(entry, storage::WireMode::kPlain);
  if (!reader) return "";
  std::string start;
  while (start.size() < storage::kBounceHeaderExcerptBytes) {
    auto n = (*reader)->read(start, storage::kBounceHeaderExcerptBytes - start.size());
    if (!n || *n == 0) break;
  }
  return storage::bounce_header_excerpt(start);
}

}  // namespace

Relay::Relay(std::string queue_dir, storage::AccountStore& accounts, storage::MailStore& mail, std::string host_name)
    : queue_(std::move(queue_dir)), accounts_(accounts), mail_(mail), host_name_(std::move(host_name)) {}

Relay::~Relay() { stop(); }

void Relay::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void Relay::apply(RelaySettings settings) {
  {
    std::lock_guard lock(mu_);
    settings_ = std::move(settings);
    woken_ = true;
  }
  cv_.notify_all();
}

void Relay::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Relay::stop() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Relay::run() {
  if (Status s = queue_.ensure_dirs(); !s) {
    log::error("relay.error", {{"error", "cannot create the queue directories: " + s.error().message}});
  }
  while (!stop_.load()) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kScanInterval, [this] { return woken_ || stop_.load(); });
      woken_ = false;
    }
    if (stop_.load()) break;
    try {
      const int64_t now = unix_now();
      if (now >= next_orphan_sweep_) {
        next_orphan_sweep_ = now + kOrphanSweepSeconds;
        auto removed = queue_.remove_orphans(now, kOrphanMinAgeSeconds);
        if (!removed) {
          log::error("relay.error", {{"error", "cannot remove the queue's orphans: " + removed.error().message}});
        } else if (*removed > 0) {
          log::info("relay.orphans_removed", {{"count", std::to_string(*removed)}});
        }
      }
      scan(now);
    } catch (const std::exception& e) {  // nothing leaves the thread: log it, try again next scan
      log::error("relay.error", {{"error", std::string("unexpected: ") + e.what()}});
    }
  }
}

void Relay::scan(int64_t now) {
  std::optional<RelaySettings> settings;
  {
    std::lock_guard lock(mu_);
    settings = settings_;
  }
  if (!settings) return;  // not configured yet
  auto entries = queue_.list();
  if (!entries) {
    if (entries.error().message != last_scan_error_) {  // once per distinct problem, not every scan
      log::error("relay.error", {{"error", "cannot list the queue: " + entries.error().message}});
      last_scan_error_ = entries.error().message;
    }
    return;
  }
  last_scan_error_.clear();
  for (const auto& entry : *entries) {
    if (stop_.load()) return;
    const bool due = entry.next_attempt_at <= now;
    const bool expired = now >= entry.queued_at + settings->queue_lifetime;
    // Finished: its bounce (if owed) and its removal; pending: an attempt, or the expiry.
    const bool work = entry.finished() ? due : (expired || (due && settings->has_smarthost()));
    if (work) process(entry.id, *settings, now);
  }
}

void Relay::process(const std::string& id, const RelaySettings& settings, int64_t now) {
  auto lock = queue_.lock(id);
  if (!lock) return;  // kInUse: mailctl has it; kNotFound: removed meanwhile
  auto fresh = queue_.get(id);
  if (!fresh) return;
  storage::QueueEntry entry = std::move(*fresh);
  bool changed = false;
  std::string reason = storage::bounce_reason_refused();

  if (has_pending(entry)) {
    if (now >= entry.queued_at + settings.queue_lifetime) {
      reason = storage::bounce_reason_expired(settings.queue_lifetime);
      for (auto& r : entry.recipients) {
        if (r.state != storage::RecipientState::kPending) continue;
        r.state = storage::RecipientState::kFailed;
        log::warn("relay.failed", {{"id", entry.id}, {"rcpt", r.address}, {"reply", r.last_reply},
                                   {"reason", "queue_lifetime passed"}});
      }
      changed = true;
    } else if (settings.has_smarthost() && entry.next_attempt_at <= now) {
      attempt(entry, settings, now);
      changed = true;
    }
  }
  if (!has_pending(entry) && has_failed(entry) && !entry.bounced) {
    if (bounce(entry, settings, now)) {
      entry.bounced = true;
      changed = true;
    } else {
      // The bounce could not be delivered (a full disk?): try again after the backoff.
      entry.next_attempt_at = now + retry_delay(settings, entry.attempts == 0 ? 1 : entry.attempts);
      changed = true;
    }
  }
  if (entry.finished() && (entry.bounced || !has_failed(entry))) {
    if (Status s = queue_.remove(entry); !s) {
      log::error("relay.error", {{"id", entry.id}, {"error", "cannot remove the entry: " + s.error().message}});
    }
    return;
  }
  if (changed) {
    if (Status s = queue_.update(entry); !s) {
      log::error("relay.error", {{"id", entry.id}, {"error", "cannot update the envelope: " + s.error().message}});
    }
  }
}

void Relay::attempt(storage::QueueEntry& entry, const RelaySettings& settings, int64_t now) {
  std::vector<std::string> pending;
  for (const auto& r : entry.recipients) {
    if (r.state == storage::RecipientState::kPending) pending.push_back(r.address);
  }
  SmtpClientSession session(ClientConfig{host_name_, settings.starttls, settings.user, settings.password},
                            entry.sender, pending, entry.size);
  const auto timeout = std::chrono::seconds(settings.timeout_seconds);
  std::string tls_version = "none";  // what the conversation ran over, for relay.sent

  // The driver: performs each step the session asks for until it is finished.
  auto drive = [&]() -> Status {
    auto conn = SmarthostConnection::open(settings.host, settings.port, timeout, stop_);
    if (!conn) return conn.error();
    ClientStep step;
    while (!session.finished()) {
      for (const auto& line : step.send) {
        if (Status s = (*conn)->write(line); !s) return s;
      }
      if (step.close) break;
      if (step.start_tls) {
        // Made per attempt: a replaced CA file counts from the next attempt on.
        auto context = tls::TlsClientContext::create(tls::TlsClientConfig{settings.tls_verify, settings.ca_file});
        if (!context) return make_error(ErrorCode::kTemporary, "TLS: " + context.error().message);
        if (Status s = (*conn)->start_tls(*context, settings.host); !s) return s;
        tls_version = (*conn)->tls_version();
        step = session.on_tls_started();
        continue;
      }
      if (step.send_body) {
        auto reader = queue_.open_message(entry, storage::WireMode::kDotStuffed);
        if (!reader) return make_error(ErrorCode::kTemporary, "cannot read the message: " + reader.error().message);
        std::string chunk;
        while (true) {
          chunk.clear();
          auto n = (*reader)->read(chunk, 64 * 1024);
          if (!n) return make_error(ErrorCode::kTemporary, "cannot read the message: " + n.error().message);
          if (*n == 0) break;
          if (Status s = (*conn)->write(chunk); !s) return s;
        }
        if (Status s = (*conn)->write(".\r\n"); !s) return s;
      }
      auto in = (*conn)->read();
      if (!in) return in.error();
      step = session.on_bytes(*in);
    }
    (*conn)->close();
    return {};
  };
  Status driven = drive();
  if (!driven) session.on_connection_lost(driven.error().message);
  // Cut off by a shutdown: not a failed attempt (no backoff); only what was decided is recorded.
  const bool cut = !driven && stop_.load();
  if (!cut) {
    entry.attempts += 1;
    entry.last_attempt_at = now;
    entry.last_error = session.failure();
    entry.next_attempt_at = now + retry_delay(settings, entry.attempts);
  }
  for (const auto& result : session.results()) {
    for (auto& r : entry.recipients) {
      if (r.address != result.address || r.state != storage::RecipientState::kPending) continue;
      if (cut && result.outcome == RecipientOutcome::kTemporary) continue;
      r.last_reply = result.reply;
      switch (result.outcome) {
        case RecipientOutcome::kDelivered:
          r.state = storage::RecipientState::kDelivered;
          log::info("relay.sent", {{"id", entry.id}, {"rcpt", r.address}, {"reply", result.reply}, {"tls", tls_version}});
          break;
        case RecipientOutcome::kPermanent:
          r.state = storage::RecipientState::kFailed;
          log::warn("relay.failed", {{"id", entry.id}, {"rcpt", r.address}, {"reply", result.reply}});
          break;
        case RecipientOutcome::kTemporary:
        case RecipientOutcome::kUndecided:
          log::info("relay.deferred", {{"id", entry.id}, {"rcpt", r.address}, {"reply", result.reply},
                                       {"attempts", std::to_string(entry.attempts)},
                                       {"retry_seconds", std::to_string(entry.next_attempt_at - now)}});
          break;
      }
    }
  }
}

bool Relay::bounce(const storage::QueueEntry& entry, const RelaySettings& settings, int64_t now) {
  auto address = storage::parse_address(entry.sender);
  auto mailbox = address ? accounts_.get_mailbox(*address) : Result<storage::MailboxInfo>(address.error());
  if (!mailbox) {
    // No mailbox to return it to (removed since): nothing will ever take it.
    log::warn("relay.bounced", {{"id", entry.id}, {"sender", entry.sender},
                                {"result", "dropped"}, {"error", mailbox.error().message}});
    return true;
  }
  storage::BounceRequest request;
  request.entry = entry;
  for (const auto& r : entry.recipients) {
    if (r.state == storage::RecipientState::kFailed) request.failed.push_back({r.address, r.last_reply});
  }
  request.host = host_name_;
  const bool expired = now >= entry.queued_at + settings.queue_lifetime;
  request.reason = expired ? storage::bounce_reason_expired(settings.queue_lifetime) : storage::bounce_reason_refused();
  request.now = now;
  request.original_header = header_excerpt(queue_, entry);
  auto message = storage::build_bounce_message(request);
  if (!message) {
    log::error("relay.error", {{"id", entry.id}, {"error", "cannot build the bounce: " + message.error().message}});
    return true;  // it never will build: do not retry forever
  }
  auto delivered = mail_.deliver(mailbox->maildir, *message);
  if (!delivered) {
    log::error("relay.error", {{"id", entry.id}, {"error", "cannot deliver the bounce: " + delivered.error().message}});
    return false;
  }
  for (const auto& f : request.failed) {
    log::info("relay.bounced", {{"id", entry.id}, {"sender", entry.sender}, {"rcpt", f.address}, {"reply", f.last_reply}});
  }
  return true;
}

}  // namespace mailroom::relay
