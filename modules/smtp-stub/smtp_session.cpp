// The SMTP/LMTP state machine: commands, the transaction, the data's verdict, per-recipient
// replies. Every reply carries an RFC 3463 enhanced status code (ENHANCEDSTATUSCODES).
#include "modules/smtp-stub/smtp_session.h"

#include "core/log/transcript.h"

#include <cctype>

namespace mailroom::smtp {

namespace {

std::string line(int code, std::string_view enhanced, std::string_view text) {
  std::string out = std::to_string(code);
  out += ' ';
  if (!enhanced.empty()) {
    out.append(enhanced);
    out += ' ';
  }
  out.append(text);
  out += "\r\n";
  return out;
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Session::Session(SessionConfig config) : config_(std::move(config)), secure_(config_.secure) {}

Step Session::greeting() const {
  return {line(220, "", config_.hostname + (lmtp() ? " LMTP" : " ESMTP") + " ready"), NoEffect{}};
}

std::string Session::recipient_mailboxes() const {
  std::string out;
  for (const auto& r : recipients_) out += (out.empty() ? "" : ",") + r.mailbox;
  return out;
}

Step Session::bad(int code, std::string_view enhanced, std::string_view text) {
  ++bad_commands_;
  if (bad_commands_ > config_.max_bad_commands) {
    state_ = State::kClosed;
    return {line(code, enhanced, text) + line(421, "4.7.0", config_.hostname + " too many errors, closing connection"),
            Close{}};
  }
  return {line(code, enhanced, text), NoEffect{}};
}

Step Session::on_line(std::string_view text, core::LineEnding ending) {
  if (state_ == State::kClosed) return {};
  if (ending == core::LineEnding::kCr) {
    // A bare CR is no SMTP line end (a bare LF is accepted in commands, as Postfix does: only
    // the data's end is smuggling material).
    return bad(500, "5.5.2", "bare CR in command line");
  }
  return dispatch(parse_command(text));
}

Step Session::on_line_too_long() { return bad(500, "5.5.2", "line too long"); }

Step Session::dispatch(const Command& cmd) {
  switch (cmd.verb) {
    case Verb::kEhlo:
    case Verb::kHelo:
    case Verb::kLhlo:
      return cmd_hello(cmd);
    case Verb::kMail:
      return cmd_mail(cmd);
    case Verb::kRcpt:
      return cmd_rcpt(cmd);
    case Verb::kData:
      return cmd_data(cmd);
    case Verb::kRset:
      if (!cmd.arg.empty()) return bad(501, "5.5.4", "Syntax: RSET");
      reset_transaction();
      return {line(250, "2.0.0", "OK"), NoEffect{}};
    case Verb::kNoop:
      return {line(250, "2.0.0", "OK"), NoEffect{}};
    case Verb::kQuit:
      state_ = State::kClosed;
      return {line(221, "2.0.0", "Bye"), Close{}};
    case Verb::kHelp:
      return {line(214, "2.0.0",
                   "Commands: " + std::string(lmtp() ? "LHLO" : "EHLO HELO") +
                       " MAIL RCPT DATA RSET NOOP QUIT HELP VRFY" +
                       (config_.starttls_available && !secure_ ? " STARTTLS" : "") + "; see RFC 5321"),
              NoEffect{}};
    case Verb::kVrfy:
      if (cmd.arg.empty()) return bad(501, "5.5.4", "Syntax: VRFY address");
      // RFC 5321 3.5.3: 252 discloses nothing (no help for address harvesting).
      return {line(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"), NoEffect{}};
    case Verb::kExpn:
      return bad(502, "5.5.1", "EXPN not available");
    case Verb::kStarttls:
      return cmd_starttls(cmd);
    case Verb::kAuth:
      return bad(502, "5.5.1", "AUTH not available: this server accepts mail for its own mailboxes only");
    case Verb::kBdat:
      return bad(502, "5.5.1", "BDAT not available (CHUNKING is not offered)");
    case Verb::kUnknown:
      break;
  }
  if (cmd.keyword.empty()) return bad(500, "5.5.2", "empty command");
  return bad(500, "5.5.2", "command not recognised");
}

Step Session::cmd_hello(const Command& cmd) {
  const bool is_lhlo = cmd.verb == Verb::kLhlo;
  if (lmtp() != is_lhlo) {
    // RFC 2033 4.1: an LMTP server must not accept HELO or EHLO; LHLO is not SMTP.
    return bad(500, "5.5.1", lmtp() ? "this is an LMTP server: use LHLO" : "command not recognised");
  }
  if (auto error = check_helo_argument(cmd.arg)) {
    return bad(error->code, error->enhanced, "Syntax: " + cmd.keyword + " hostname");
  }
  reset_transaction();  // RFC 5321 4.1.4: EHLO/HELO reset the state like RSET
  helo_ = cmd.arg;
  esmtp_ = cmd.verb != Verb::kHelo;
  state_ = State::kReady;
  if (!esmtp_) return {line(250, "", config_.hostname), NoEffect{}};
  return {ehlo_reply(), NoEffect{}};
}

std::string Session::ehlo_reply() const {
  std::vector<std::string> lines = {config_.hostname, "PIPELINING", "SIZE " + std::to_string(config_.max_message_size),
                                    "8BITMIME", "ENHANCEDSTATUSCODES"};
  if (config_.smtputf8) lines.push_back("SMTPUTF8");
  if (config_.starttls_available && !secure_) lines.push_back("STARTTLS");
  lines.push_back("HELP");
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += "250";
    out += i + 1 == lines.size() ? ' ' : '-';
    out += lines[i];
    out += "\r\n";
  }
  return out;
}

Step Session::cmd_starttls(const Command& cmd) {
  if (!config_.starttls_available) return bad(502, "5.5.1", "STARTTLS not available");
  if (secure_) return bad(503, "5.5.1", "TLS already active");
  if (!cmd.arg.empty()) return bad(501, "5.5.4", "Syntax: STARTTLS");
  if (state_ == State::kFresh) return bad(503, "5.5.1", "send " + std::string(lmtp() ? "LHLO" : "EHLO") + " first");
  return {line(220, "2.0.0", "Ready to start TLS"), StartTls{}};
}

void Session::on_tls_started() {
  // RFC 3207 4.2: the client must discard what it knew and the server its state: a fresh EHLO.
  secure_ = true;
  reset_transaction();
  helo_.clear();
  esmtp_ = false;
  state_ = State::kFresh;
}

Step Session::cmd_mail(const Command& cmd) {
  if (state_ == State::kFresh) return bad(503, "5.5.1", "send " + std::string(lmtp() ? "LHLO" : "EHLO") + " first");
  if (state_ != State::kReady) return bad(503, "5.5.1", "nested MAIL command");
  auto parsed = parse_mail_from(cmd.arg, config_.smtputf8 && esmtp_);
  if (auto* error = std::get_if<ParseError>(&parsed)) return bad(error->code, error->enhanced, error->text);
  MailFrom mail = std::get<MailFrom>(std::move(parsed));
  if (!esmtp_ && (mail.size || mail.body != BodyType::kUnspecified || mail.smtputf8)) {
    return bad(555, "5.5.4", "parameters need EHLO");
  }
  if (mail.size && *mail.size > config_.max_message_size) {
    // Not a bad command: the client said honestly what it has.
    return {line(552, "5.3.4", "message too big (this server accepts " + std::to_string(config_.max_message_size) +
                                  " octets)"),
            NoEffect{}};
  }
  mail_ = std::move(mail);
  state_ = State::kMail;
  return {line(250, "2.1.0", "OK"), NoEffect{}};
}

Step Session::cmd_rcpt(const Command& cmd) {
  if (state_ != State::kMail) return bad(503, "5.5.1", state_ == State::kFresh ? "send EHLO first" : "need MAIL before RCPT");
  auto parsed = parse_rcpt_to(cmd.arg, mail_->smtputf8);
  if (auto* error = std::get_if<ParseError>(&parsed)) return bad(error->code, error->enhanced, error->text);
  if (recipients_.size() >= config_.max_recipients) {
    return {line(452, "4.5.3", "too many recipients"), NoEffect{}};
  }
  pending_rcpt_ = std::get<RcptTo>(std::move(parsed));
  state_ = State::kAwaitingLookup;
  return {"", LookupRecipient{*pending_rcpt_, mail_->size}};
}

Step Session::on_recipient(const RecipientVerdict& verdict) {
  if (state_ != State::kAwaitingLookup || !pending_rcpt_) return {};
  state_ = State::kMail;
  const std::string who = "<" + pending_rcpt_->address + ">";
  switch (verdict.status) {
    case RecipientStatus::kOk: {
      // The same mailbox again gets one copy (RFC 5321 3.3) but, in LMTP, its own reply.
      std::size_t copy = 0;
      while (copy < maildirs_.size() && maildirs_[copy] != verdict.maildir) ++copy;
      const bool duplicate = copy < maildirs_.size();
      if (!duplicate) {
        maildirs_.push_back(verdict.maildir);
        quotas_.push_back(verdict.quota);
      }
      recipients_.push_back({pending_rcpt_->address, copy, verdict.mailbox});
      pending_rcpt_.reset();
      return {line(250, "2.1.5", who + (duplicate ? " OK (duplicate)" : " OK")), NoEffect{}};
    }
    case RecipientStatus::kUnknownMailbox:
      any_rcpt_refused_ = true;
      if (config_.count_unknown_recipients) {
        state_ = State::kAwaitingCount;
        return {"", CountFailure{}};
      }
      pending_rcpt_.reset();
      return {line(550, "5.1.1", who + ": mailbox unknown"), NoEffect{}};
    case RecipientStatus::kForeignDomain:
      any_rcpt_refused_ = true;
      pending_rcpt_.reset();
      return {line(550, "5.7.1", who + ": relaying denied"), NoEffect{}};
    case RecipientStatus::kDisabled:
      any_rcpt_refused_ = true;
      pending_rcpt_.reset();
      return {line(550, "5.2.1", who + ": mailbox disabled"), NoEffect{}};
    case RecipientStatus::kTemporary:
      pending_rcpt_.reset();
      return {line(451, "4.3.0", who + ": temporary failure looking up the mailbox, try again later"), NoEffect{}};
    case RecipientStatus::kOverQuota:
      // RFC 3463 5.2.2 "mailbox full"; 552 at RCPT, RFC 5321 4.5.3.1.10.
      any_rcpt_refused_ = true;
      pending_rcpt_.reset();
      return {line(552, "5.2.2", who + ": " + verdict.detail), NoEffect{}};
  }
  return {};
}

Step Session::on_failure_counted(bool blocked) {
  if (state_ != State::kAwaitingCount || !pending_rcpt_) return {};
  const std::string who = "<" + pending_rcpt_->address + ">";
  pending_rcpt_.reset();
  if (blocked) {
    state_ = State::kClosed;
    return {line(550, "5.1.1", who + ": mailbox unknown") +
                line(421, "4.7.0", config_.hostname + " too many errors, closing connection"),
            Close{}};
  }
  state_ = State::kMail;
  return {line(550, "5.1.1", who + ": mailbox unknown"), NoEffect{}};
}

Step Session::cmd_data(const Command& cmd) {
  if (state_ != State::kMail) return bad(503, "5.5.1", state_ == State::kFresh ? "send EHLO first" : "need MAIL before DATA");
  if (!cmd.arg.empty()) return bad(501, "5.5.4", "Syntax: DATA");
  if (recipients_.empty()) {
    // RFC 2920 3.1: a pipelined DATA after refused RCPTs gets 554 "no valid recipients"; LMTP
    // answers 503 whatever happened (RFC 2033 4.2).
    if (any_rcpt_refused_ && !lmtp()) return bad(554, "5.5.1", "no valid recipients");
    return bad(503, "5.5.1", "need RCPT before DATA");
  }
  state_ = State::kData;
  in_headers_ = true;
  received_headers_ = 0;
  ReceiveData data;
  data.trace.reverse_path = mail_->address;
  data.trace.helo = helo_;
  data.trace.peer_ip = config_.peer_ip;
  data.trace.hostname = config_.hostname;
  data.trace.with = with_protocol();
  if (recipients_.size() == 1) data.trace.recipient = recipients_.front().address;
  data.maildirs = maildirs_;
  data.quotas = quotas_;
  data.quota_per_copy = lmtp();
  data.max_size = config_.max_message_size;
  data.max_line_length = config_.max_line_length;
  return {line(354, "", "End data with <CR><LF>.<CR><LF>"), std::move(data)};
}

const char* Session::with_protocol() const {
  // RFC 3848 (ESMTP, ESMTPS, LMTP, LMTPS) and RFC 6531 (UTF8SMTP, UTF8SMTPS, UTF8LMTP, UTF8LMTPS).
  const bool utf8 = mail_ && mail_->smtputf8;
  if (lmtp()) {
    if (utf8) return secure_ ? "UTF8LMTPS" : "UTF8LMTP";
    return secure_ ? "LMTPS" : "LMTP";
  }
  if (!esmtp_) return "SMTP";
  if (utf8) return secure_ ? "UTF8SMTPS" : "UTF8SMTP";
  return secure_ ? "ESMTPS" : "ESMTP";
}

void Session::on_data_line(std::string_view text) {
  if (!in_headers_) return;
  if (text.empty()) {
    in_headers_ = false;
    return;
  }
  if (starts_with_nocase(text, "Received:")) ++received_headers_;
}

std::string Session::data_reply(const std::string& text) const {
  if (!lmtp()) return text;
  std::string out;  // RFC 2033 4.2: one reply per recipient that RCPT accepted, in order
  for (std::size_t i = 0; i < recipients_.size(); ++i) out += text;
  return out;
}

Step Session::on_data_end(const core::BodySummary& summary) {
  if (state_ != State::kData) return {};
  std::string refusal;
  if (summary.over_size) {
    refusal = line(552, "5.3.4", "message too big (this server accepts " + std::to_string(config_.max_message_size) +
                                     " octets)");
  } else if (summary.long_lines > 0) {
    refusal = line(554, "5.6.0", "message has a line over " + std::to_string(config_.max_line_length) + " octets");
  } else if (summary.bare_endings > 0 && config_.reject_bare_line_endings) {
    refusal = line(554, "5.6.0", "bare LF or CR in message data (only CRLF ends a line)");
  } else if (received_headers_ > config_.max_received_headers) {
    refusal = line(554, "5.4.6", "mail loop detected (" + std::to_string(received_headers_) + " Received headers)");
  }
  if (!refusal.empty()) {
    std::string reply = data_reply(refusal);
    reset_transaction();
    state_ = State::kReady;
    return {std::move(reply), DiscardData{}};
  }
  state_ = State::kCommitting;
  return {"", CommitData{}};
}

Step Session::on_commit_result(const CommitResult& result) {
  if (state_ != State::kCommitting) return {};
  std::string reply;
  bool any = false;
  auto over_quota = [&](std::size_t copy) -> const std::optional<std::string>* {
    if (copy >= result.over_quota.size() || !result.over_quota[copy]) return nullptr;
    return &result.over_quota[copy];
  };
  auto failure_line = [](const Error& error, const std::string& who) {
    const std::string prefix = who.empty() ? "" : "<" + who + "> ";
    switch (error.code) {
      case ErrorCode::kTemporary:
        return line(452, "4.3.1", prefix + "insufficient system storage, try again later");
      case ErrorCode::kPermanent:
        return line(552, "5.3.4", prefix + "message too big");
      default:
        return line(451, "4.3.0", prefix + "local error in processing, try again later");
    }
  };
  if (result.error) {
    if (lmtp()) {
      for (const auto& r : recipients_) reply += failure_line(*result.error, r.address);
    } else {
      reply = failure_line(*result.error, "");
    }
  } else if (lmtp()) {
    for (const auto& r : recipients_) {
      const bool ok = r.copy < result.per_recipient.size() && result.per_recipient[r.copy].ok();
      if (ok) {
        any = true;
        reply += line(250, "2.0.0", "<" + r.address + "> delivered");
      } else if (const auto* why = over_quota(r.copy)) {
        reply += line(552, "5.2.2", "<" + r.address + "> " + **why);
      } else {
        Error error = r.copy < result.per_recipient.size() ? result.per_recipient[r.copy].error()
                                                           : make_error(ErrorCode::kInternal, "no result");
        reply += failure_line(error, r.address);
      }
    }
  } else {
    // SMTP has one reply for all: 250 only if every copy is durable. A partial failure is a
    // temporary error for the whole transaction: the client retries, and the recipients
    // that got their copy may get it twice (duplicates over loss, RFC 5321 6.1).
    // Quotas (ReceiveData::quota_per_copy false): a copy is held back only when every one is, so
    // the message is refused whole with 552 5.2.2, or stored for every recipient.
    bool all = !result.per_recipient.empty();
    bool all_over_quota = all;
    Error first = make_error(ErrorCode::kInternal, "no result");
    for (std::size_t i = 0; i < result.per_recipient.size(); ++i) {
      const auto& status = result.per_recipient[i];
      if (!over_quota(i)) all_over_quota = false;
      if (status.ok()) {
        any = true;
      } else if (all) {
        all = false;
        first = status.error();
      }
    }
    if (all_over_quota) {
      reply = line(552, "5.2.2", result.per_recipient.size() == 1 ? *result.over_quota[0]
                                                                   : "every recipient's mailbox is full or over its quota");
    } else {
      reply = all ? line(250, "2.0.0", "OK delivered") : failure_line(first, "");
    }
  }
  if (any) ++delivered_;
  reset_transaction();
  state_ = State::kReady;
  return {std::move(reply), NoEffect{}};
}

void Session::reset_transaction() {
  mail_.reset();
  recipients_.clear();
  maildirs_.clear();
  quotas_.clear();
  pending_rcpt_.reset();
  any_rcpt_refused_ = false;
  if (state_ != State::kFresh && state_ != State::kClosed) state_ = State::kReady;
}

const char* state_name(State state) {
  switch (state) {
    case State::kFresh: return "greeting";
    case State::kReady: return "ready";
    case State::kMail:
    case State::kAwaitingLookup:
    case State::kAwaitingCount: return "mail";
    case State::kData: return "data";
    case State::kCommitting: return "commit";
    case State::kClosed: return "closed";
  }
  return "closed";
}

std::string Session::loggable_line(std::string_view line) {
  if (parse_command(log::first_word(line)).verb != Verb::kAuth) return std::string(line);
  return log::redact_after(line, 2);
}

}  // namespace mailroom::smtp
