// SessionAdapter: runs the session's effects off the loop thread and streams messages.
#include "modules/pop3/session_adapter.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "core/config/account_settings.h"
#include "core/log/logger.h"

namespace mailroom::pop3 {

namespace {
// Bytes read from a message per worker job. Measured on RETR of 10 MB messages (server CPU per
// 100 MB / MB/s): 128 KiB 136 ms / ~440, 256 KiB 120 ms / ~520, 512 KiB 106 ms / ~610. Keep the
// chunk plus its reserve under mailroomd's malloc mmap threshold (1 MiB, daemon/main.cpp), or
// every chunk becomes an mmap and page faults (1 MiB chunks: 640 ms / 137 MB/s).
constexpr std::size_t kStreamChunk = 512 * 1024;

// Ends a multi-line reply (RFC 1939 section 3). The reader guarantees a final CRLF and the TOP
// cut passes whole lines; should the text still end inside a line, a CRLF keeps the terminator
// on a line of its own.
void terminate(std::string& out, bool at_line_start) {
  if (!at_line_start) out += "\r\n";
  out += ".\r\n";
}

// nul_bytes: each NUL becomes one other byte, so the wire size (LIST) does not change.
void replace_nuls(std::string& text, const std::optional<char>& with) {
  if (with) std::replace(text.begin(), text.end(), '\0', *with);
}
// The mailbox's LOGIN-DELAY and EXPIRE: its own or its postoffice's account setting, else the
// service's. Stored values are canonical (validated by mailctl); a value that does not parse falls
// back to the service's.
AccountLimits account_limits(const storage::MailboxInfo& mailbox, const AdapterOptions& options) {
  AccountLimits limits;
  limits.login_delay = options.login_delay;
  limits.expire_days = options.expire_days;
  if (auto v = storage::account_setting(mailbox, config::kLoginDelay)) {
    int64_t seconds = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), seconds);
    if (ec == std::errc() && end == v->data() + v->size() && seconds >= 0) limits.login_delay = seconds;
  }
  if (auto v = storage::account_setting(mailbox, config::kExpireDays); v && !config::check_expire_days(*v)) {
    limits.expire_days = config::expire_days_value(*v);
  }
  return limits;
}

// LOGIN-DELAY's clock: monotonic, so a change of the system time neither locks a mailbox out nor
// lets a client in early.
int64_t monotonic_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

struct SessionAdapter::Stream {
  std::shared_ptr<storage::Maildrop> drop;
  std::size_t index = 0;
  std::unique_ptr<storage::MessageReader> reader;  // opened by the first worker job, dot-stuffing
  bool at_line_start = true;                       // the text so far ends with a line
  std::optional<TopFilter> top;
  std::optional<char> nul_replacement;  // nul_bytes
  // Messages to read whole once this one ends (index, wire size): retr_readahead.
  std::vector<std::pair<std::size_t, uint64_t>> ahead;
  // The session's +OK line: the first worker job puts it in front of the first chunk, so it leaves
  // only once the message is open and read (a failure before that is answered with -ERR instead).
  std::string ok_reply;
  std::size_t ok_octets = 0;  // its length: a transcript shows it, not the message
  bool replied = false;  // loop thread: the +OK went out, a failure can only drop the connection
  bool finished = false;
  // filled by the worker, consumed on the loop thread
  std::string out;
  std::optional<Error> error;
  std::vector<ReadAhead> read_ahead;
};

// Worker side of one stream step: opens the message on the first call, reads one (stuffed)
// chunk, and at the end of the message reads the messages in `ahead` whole.
void SessionAdapter::read_chunk(Stream& stream) {
  if (!stream.reader) {
    auto reader = stream.drop->open_message(stream.index, storage::WireMode::kDotStuffed);
    if (!reader) {
      stream.error = reader.error();
      return;
    }
    stream.reader = std::move(reader).value();
  }
  std::string raw;
  // The encoder makes room for each 64 KiB file read before it shrinks to what it wrote, and adds
  // CRs: this much never regrows, and stays below the 1 MiB mmap threshold.
  raw.reserve(kStreamChunk + 192 * 1024);
  // The first chunk starts with the +OK line (empty afterwards); read() appends and counts only
  // what it appended.
  std::string ok = std::move(stream.ok_reply);
  stream.ok_reply.clear();
  if (!stream.top) raw.append(ok);
  auto n = stream.reader->read(raw, kStreamChunk);
  if (!n) {
    stream.error = n.error();
    return;
  }
  replace_nuls(raw, stream.nul_replacement);
  // A reader returns fewer bytes than asked only at the end (mail_store.h): no extra
  // worker round trip just to learn that the message is over.
  bool more = *n == kStreamChunk;
  if (stream.top) {
    std::string cut = std::move(ok);  // the TOP cut applies to the message, not to the +OK
    more = stream.top->feed(raw, cut) && more;
    stream.out = std::move(cut);
  } else {
    stream.out = std::move(raw);  // stuffed already: the chunk goes out as it was read
  }
  if (!stream.out.empty()) stream.at_line_start = stream.out.back() == '\n';
  if (more) return;
  if (stream.top) {
    stream.top->finish(stream.out);
    if (!stream.out.empty()) stream.at_line_start = stream.out.back() == '\n';
  }
  terminate(stream.out, stream.at_line_start);
  stream.finished = true;
  stream.reader.reset();
  for (const auto& [index, size] : stream.ahead) {
    // Best effort: a message that cannot be read now, or whose size differs from the listing,
    // ends the read-ahead and is left to its own RETR (which reports any error properly).
    auto reader = stream.drop->open_message(index, storage::WireMode::kDotStuffed);
    if (!reader) break;
    ReadAhead entry;
    entry.index = index;
    entry.wire.reserve(size + size / 8 + 64);  // the encoder's working room (see above)
    // Stuffing adds at most one byte per 3-byte line (".CRLF"): a longer text is not this message.
    const uint64_t most = size + size / 3 + 2;
    auto got = (*reader)->read(entry.wire, most);
    if (!got || *got == most || (*reader)->octets() != size) break;
    replace_nuls(entry.wire, stream.nul_replacement);
    stream.read_ahead.push_back(std::move(entry));
  }
}

SessionAdapter::SessionAdapter(core::Connection& connection, storage::AccountStore& accounts,
                               storage::MailStore& mail, std::shared_ptr<const storage::OutboundQueue> queue,
                               SessionConfig config,
                               std::shared_ptr<const tls::TlsContext> tls, core::ClientPolicy& policy,
                               const core::ModuleReplies& replies, std::set<std::string> wanted_secrets,
                               const std::string& service, AdapterOptions options)
    : conn_(connection),
      mail_(mail),
      session_(std::move(config)),
      tls_(std::move(tls)),
      policy_(policy),
      replies_(replies),
      login_(connection, accounts, policy, "pop3", std::move(wanted_secrets), service),
      metrics_(service),
      xmit_(connection, accounts, mail, std::move(queue), session_.hostname()),
      options_(std::move(options)) {}

SessionAdapter::~SessionAdapter() = default;

std::string SessionAdapter::sid() const { return std::to_string(conn_.id()); }

void SessionAdapter::on_open() {
  log::info("pop3.connect", {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}, {"local", conn_.local_endpoint()}});
  run(session_.greeting());
}

// POP3 frames leniently (RFC 1939 clients send bare LF too): the ending does not matter.
void SessionAdapter::on_line(std::string_view line, core::LineEnding) { run(session_.on_line(line)); }

std::string SessionAdapter::loggable_line(std::string_view line) const { return session_.loggable_line(line); }

void SessionAdapter::on_line_too_long() {
  log::warn("pop3.line_too_long", {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}});
  if (policy_.command_too_long(conn_)) {  // auto-deny: the address is on the deny list now
    conn_.write(replies_.auto_denied);
    conn_.close();
    return;
  }
  run(session_.on_line_too_long());
}

std::string SessionAdapter::on_timeout(core::Timeout which) {
  return replies_.for_timeout(which);
}

void SessionAdapter::on_close() {
  log::info("pop3.disconnect", {{"service", conn_.service()}, {"sid", sid()},
                                {"ip", conn_.peer_ip()},
                                {"user", user_},
                                {"retrieved", std::to_string(retrieved_)},
                                {"bytes", std::to_string(retrieved_bytes_)},
                                {"read_ahead_hits", std::to_string(read_ahead_hits_)}});
  // A dropped session deletes nothing: the lock goes now (the client may be back at once), the
  // maildrop is left untouched. As at QUIT, the maildrop and the listing (megabytes for 100,000
  // messages) are freed on a worker, not on the loop.
  stream_.reset();
  xmit_.discard();  // an unfinished XTND XMIT: its spooled file is removed on a worker
  read_ahead_.clear();
  lock_.reset();
  storage::Listing listing = session_.release_listing();
  if (maildrop_ || listing) {
    conn_.work().submit(
        [drop = std::move(maildrop_), listing = std::move(listing)]() mutable {
          listing.reset();
          drop.reset();
        },
        [] {});
  }
}

void SessionAdapter::run(Step step) {
  if (!step.reply.empty()) conn_.write(std::move(step.reply));
  // A failed write closes the connection (and on_close() releases the maildrop): nothing
  // more to do then, whatever the session asked for.
  if (conn_.closing()) return;
  std::visit(
      [this](auto&& effect) {
        using T = std::decay_t<decltype(effect)>;
        if constexpr (std::is_same_v<T, Authenticate>) {
          start_login(std::move(effect));
        } else if constexpr (std::is_same_v<T, FetchSecret>) {
          fetch_secret(std::move(effect));
        } else if constexpr (std::is_same_v<T, RejectLogin>) {
          login_.reject(effect.mechanism, effect.address ? effect.address->str() : effect.user, effect.reason,
                        [this](auth::LoginReply reply) { answer_login(reply); });
        } else if constexpr (std::is_same_v<T, StreamMessage>) {
          start_stream(effect);
        } else if constexpr (std::is_same_v<T, CommitDeletions>) {
          start_update(std::move(effect));
        } else if constexpr (std::is_same_v<T, Close>) {
          conn_.close();
        } else if constexpr (std::is_same_v<T, StartTls>) {
          if (!conn_.start_tls(tls_)) return;
          session_.on_tls_started();
          log::debug("pop3.stls", {{"service", conn_.service()}, {"sid", sid()}, {"ip", conn_.peer_ip()}});
        } else if constexpr (std::is_same_v<T, PrepareXmit>) {
          xmit_.prepare([this](Status status) { xmit_done(session_.on_xmit_ready(status)); });
        } else if constexpr (std::is_same_v<T, ReceiveXmit>) {
          xmit_.receive(effect);
        } else if constexpr (std::is_same_v<T, DiscardXmit>) {
          log::info("pop3.xmit_refused", {{"service", conn_.service()}, {"sid", sid()}, {"user", user_},
                                          {"id", xmit_.message_id()}});
          xmit_.discard();
        } else if constexpr (std::is_same_v<T, SendXmit>) {
          xmit_.send(std::move(effect), [this](XmitResult result) { xmit_done(session_.on_xmit_result(result)); });
        }
      },
      step.effect);
}

void SessionAdapter::xmit_done(Step step) {
  if (conn_.closing()) return;  // a timeout's last line is out: nothing may follow it
  conn_.resume_input();
  run(std::move(step));
}

void SessionAdapter::on_body_line(std::string_view line, core::LineEnding) {
  if (session_.on_xmit_line(line)) xmit_.add_line(line);
}

void SessionAdapter::on_body_end(const core::BodySummary& summary) { run(session_.on_xmit_end(summary)); }

void SessionAdapter::start_login(Authenticate auth) {
  // The maildrop the worker opens once the credentials and the mailbox passed; it is the
  // session's only if the login succeeds, else released with the login.
  struct Opened {
    std::shared_ptr<storage::MaildropLock> lock;
    std::shared_ptr<storage::Maildrop> drop;
    AccountLimits limits;
  };
  auto opened = std::make_shared<Opened>();
  storage::MailStore& mail = mail_;
  // LOGIN-DELAY is checked once the password passed (a stranger learns nothing from it) and before
  // the lock; the login is recorded once it succeeded.
  auth::MailboxStep lock_and_open = [opened, &mail, options = options_](
                                        const storage::MailboxInfo& mailbox) -> auth::MailboxStepResult {
    opened->limits = account_limits(mailbox, options);
    const std::string key = mailbox.address.str();
    const int64_t now = monotonic_seconds();
    if (options.login_delays) {
      if (const int64_t wait = options.login_delays->wait_seconds(key, now, opened->limits.login_delay); wait > 0) {
        return {LoginOutcome::kLoginDelay, "login_delay " + std::to_string(opened->limits.login_delay) + " s, " +
                                               std::to_string(wait) + " s to wait"};
      }
    }
    auto lock = mail.lock(mailbox.maildir);
    if (lock && options.leases) lock = storage::lock_cluster_wide(*options.leases, mailbox.id, std::move(lock).value());
    if (!lock) {  // in use here or on another node; a database error is temporary, never a login
      return {lock.error().code == ErrorCode::kInUse ? LoginOutcome::kInUse : LoginOutcome::kTemporary,
              lock.error().message};
    }
    auto drop = mail.open(mailbox.maildir, options.open_options);
    if (!drop) return {LoginOutcome::kTemporary, drop.error().message};
    if (opened->limits.expire_days) {
      auto record = (*drop)->read_retrievals();
      if (record) {
        opened->limits.retrievals = std::move(record).value();
      } else {  // the clocks restart at the next RETR: later expiry, never an early one
        log::warn("pop3.retrievals_unreadable", {{"user", key}, {"error", record.error().message}});
      }
    }
    if (options.login_delays) options.login_delays->record(key, now, opened->limits.login_delay);
    opened->lock = std::shared_ptr<storage::MaildropLock>(std::move(lock).value());
    opened->drop = std::shared_ptr<storage::Maildrop>(std::move(drop).value());
    return {};
  };
  std::string user = auth.address.str();
  login_.login(auth::LoginRequest{std::move(auth.address), std::move(auth.password), std::move(auth.mechanism),
                                  auth.verified},
               std::move(lock_and_open), [this, opened, user = std::move(user)](auth::LoginReply reply) {
                 storage::Listing listing;
                 if (reply.outcome == LoginOutcome::kOk || reply.outcome == LoginOutcome::kLoginDelay) {
                   session_.set_account_limits(std::move(opened->limits));
                 }
                 if (reply.outcome == LoginOutcome::kOk) {
                   lock_ = std::move(opened->lock);
                   maildrop_ = std::move(opened->drop);
                   listing = maildrop_->listing();
                   user_ = user;
                 }
                 answer_login(reply, std::move(listing));
               });
}

void SessionAdapter::answer_login(auth::LoginReply reply, storage::Listing listing) {
  Step step = session_.on_login_result(reply.outcome, std::move(listing));
  if (reply.close) {  // blocked: answer, then hang up
    run(std::move(step));
    conn_.close();
    return;
  }
  conn_.resume_input();
  run(std::move(step));
}

void SessionAdapter::fetch_secret(FetchSecret fetch) {
  const bool looking = login_.fetch_secret(fetch.address, std::move(fetch.accepted), fetch.mechanism,
                                           [this](auth::SecretLookup lookup) {
                                             conn_.resume_input();
                                             if (lookup.error) {
                                               run(session_.on_secret_error());
                                               return;
                                             }
                                             Step step = session_.on_secret(std::move(lookup.secret));
                                             if (lookup.secret) lookup.secret->value.assign(lookup.secret->value.size(), '\0');
                                             run(std::move(step));
                                           });
  if (!looking) {  // blocked
    session_.on_secret_error();  // ends the exchange; the client is told below
    conn_.write("-ERR [AUTH] authentication failed\r\n");
    conn_.close();
  }
}

void SessionAdapter::start_stream(const StreamMessage& msg) {
  if (serve_read_ahead(msg)) return;
  conn_.pause_input();
  stream_ = std::make_shared<Stream>();
  stream_->drop = maildrop_;
  stream_->index = msg.index;
  stream_->ok_reply = msg.ok_reply;
  stream_->ok_octets = msg.ok_reply.size();
  stream_->nul_replacement = options_.nul_replacement;
  if (msg.top_lines) {
    stream_->top.emplace(*msg.top_lines, options_.top_add_blank_line);
  } else if (options_.readahead_bytes > 0) {
    // The next messages not marked deleted, as long as they fit whole in the budget.
    const auto& messages = maildrop_->messages();
    uint64_t budget = options_.readahead_bytes;
    for (std::size_t i = msg.index + 1; i < messages.size(); ++i) {
      if (session_.marked_deleted(i)) continue;
      if (messages[i].size > budget) break;
      budget -= messages[i].size;
      stream_->ahead.emplace_back(i, messages[i].size);
    }
  }
  pump();
}

bool SessionAdapter::serve_read_ahead(const StreamMessage& msg) {
  if (read_ahead_.empty()) return false;
  auto hit = std::find_if(read_ahead_.begin(), read_ahead_.end(),
                          [&](const ReadAhead& r) { return r.index == msg.index; });
  if (hit == read_ahead_.end()) {
    read_ahead_.clear();  // the client went elsewhere: drop what it skipped
    return false;
  }
  read_ahead_.erase(read_ahead_.begin(), hit);  // what lies before it was skipped
  ++read_ahead_hits_;
  std::string out;
  if (msg.top_lines) {  // TOP leaves the message for a later RETR
    TopFilter top(*msg.top_lines, options_.top_add_blank_line);
    top.feed(read_ahead_.front().wire, out);
    top.finish(out);
  } else {
    out = std::move(read_ahead_.front().wire);
    read_ahead_.erase(read_ahead_.begin());
  }
  terminate(out, out.empty() || out.back() == '\n');
  if (!msg.top_lines) count_retrieved(msg.index);
  conn_.write(msg.ok_reply);  // read whole already: it cannot fail any more
  conn_.write_data(std::move(out));
  if (!conn_.closing()) session_.on_stream_done();
  return true;
}

void SessionAdapter::count_retrieved(std::size_t index) {
  ++retrieved_;
  retrieved_bytes_ += maildrop_->messages()[index].size;
  metrics_.retrieved.inc();
}

void SessionAdapter::pump() {
  if (!stream_ || read_in_flight_ || stream_->finished || conn_.over_high_water()) return;  // on_drain() resumes
  auto stream = stream_;
  std::weak_ptr<void> alive = conn_.liveness();
  read_in_flight_ = true;
  conn_.work().submit([stream] { read_chunk(*stream); },
                      [this, alive] {
                        if (alive.expired()) return;
                        read_in_flight_ = false;
                        on_chunk();
                      });
}

void SessionAdapter::on_chunk() {
  if (!stream_) return;  // the connection closed meanwhile
  if (stream_->error) {
    const bool replied = stream_->replied;
    log::warn("pop3.retr_failed", {{"service", conn_.service()}, {"sid", sid()},
                                   {"user", user_},
                                   {"msg", std::to_string(stream_->index + 1)},
                                   {"error", stream_->error->message},
                                   {"action", replied ? "connection dropped" : "-ERR sent"}});
    stream_.reset();
    if (replied) {
      // The +OK and part of the message are out: the only honest way to signal a broken message
      // is to drop the connection (the client sees a truncated reply and no deletion is applied).
      conn_.abort();
      return;
    }
    // Nothing was sent yet (the message vanished or cannot be read): the session answers -ERR and
    // goes on, its DELE marks kept.
    run(session_.on_stream_failed());
    if (!conn_.closing()) conn_.resume_input();
    return;
  }
  std::string out = std::move(stream_->out);
  stream_->out = std::string();
  const std::size_t reply_octets = stream_->replied ? 0 : stream_->ok_octets;  // the +OK leads the first chunk
  stream_->replied = true;
  if (stream_->finished) {
    read_ahead_ = std::move(stream_->read_ahead);
    if (!stream_->top) count_retrieved(stream_->index);
    stream_.reset();
    conn_.write_data(std::move(out), reply_octets);
    if (conn_.closing()) return;  // a failed write closed it
    session_.on_stream_done();
    conn_.resume_input();
    return;
  }
  // The worker reads the next chunk while this one is written and sent: both cores work on a
  // large message. The output stays bounded: the next read starts only below the high-water
  // mark, so at most output_buffer_size plus two chunks are held.
  pump();
  conn_.write_data(std::move(out), reply_octets);
}

void SessionAdapter::on_drain() { pump(); }

void SessionAdapter::start_update(CommitDeletions del) {
  conn_.pause_input();
  read_ahead_.clear();
  // The job takes the maildrop, its lock and the listing: all are released on the worker, so a
  // 100,000-message listing is not freed on the loop, and the mailbox is free again before the
  // "+OK" leaves.
  struct Job {
    std::shared_ptr<storage::Maildrop> drop;
    std::shared_ptr<storage::MaildropLock> lock;
    storage::Listing listing;
    std::vector<std::size_t> indexes;
    std::size_t expired = 0;
    std::optional<storage::Retrievals> record;
    Status status;
    Status record_status;
  };
  auto job = std::make_shared<Job>();
  job->drop = std::move(maildrop_);
  job->lock = std::move(lock_);
  job->listing = session_.release_listing();
  job->indexes = std::move(del.indexes);
  job->expired = del.expired;
  job->record = std::move(del.record);
  std::weak_ptr<void> alive = conn_.liveness();
  conn_.work().submit(
      [job] {
        if (!job->indexes.empty() && job->drop) job->status = job->drop->commit_deletions(job->indexes);
        // EXPIRE's record only once the deletions are done: should they fail, the messages retrieved
        // now get their first time at a later RETR (a later expiry, never an early one).
        if (job->status.ok() && job->record && job->drop) job->record_status = job->drop->write_retrievals(*job->record);
        job->listing.reset();
        job->drop.reset();
        job->lock.reset();
      },
      [this, alive, job, &metrics_deleted = metrics_.deleted] {
        if (job->status.ok()) metrics_deleted.inc(job->indexes.size());
        if (alive.expired()) return;
        // A failed UPDATE (e.g. no room for the deletion intent on a full disk) is a warning.
        log::event(job->status.ok() ? log::Level::kInfo : log::Level::kWarn, "pop3.update",
                   {{"service", conn_.service()}, {"sid", sid()},
                    {"user", user_},
                    {"deleted", std::to_string(job->indexes.size())},
                    {"expired", std::to_string(job->expired)},
                    {"result", job->status.ok() ? "ok" : job->status.error().message}});
        if (!job->record_status.ok()) {
          log::warn("pop3.retrievals_not_saved", {{"service", conn_.service()}, {"sid", sid()}, {"user", user_},
                                                  {"error", job->record_status.error().message}});
        }
        run(session_.on_update_result(job->status));
      });
}

}  // namespace mailroom::pop3
