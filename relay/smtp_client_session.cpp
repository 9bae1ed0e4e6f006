// The SMTP client state machine (see the header): reply parsing, the command sequence, and
// per-recipient outcomes.
#include "relay/smtp_client_session.h"

#include <algorithm>
#include <cctype>

#include "auth/sasl/base64.h"

namespace mailroom::relay {

namespace {

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reply class of a code: 2, 3, 4 or 5.
int klass(int code) { return code / 100; }

}  // namespace

const char* recipient_outcome_name(RecipientOutcome outcome) {
  switch (outcome) {
    case RecipientOutcome::kUndecided: return "undecided";
    case RecipientOutcome::kDelivered: return "delivered";
    case RecipientOutcome::kTemporary: return "temporary";
    case RecipientOutcome::kPermanent: return "permanent";
  }
  return "undecided";
}

std::string SmtpClientSession::Reply::text() const {
  std::string out = std::to_string(code);
  for (const auto& line : lines) {
    out += ' ';
    out += line;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

SmtpClientSession::SmtpClientSession(ClientConfig config, std::string sender, std::vector<std::string> recipients,
                                     uint64_t size)
    : config_(std::move(config)), sender_(std::move(sender)), size_(size) {
  for (auto& r : recipients) results_.push_back({std::move(r), RecipientOutcome::kUndecided, ""});
  accepted_.assign(results_.size(), false);
}

void SmtpClientSession::command(ClientStep& step, std::string line, std::string_view logged) {
  transcript_.push_back("C: " + (logged.empty() ? line : std::string(logged)));
  step.send.push_back(std::move(line) + "\r\n");
}

ClientStep SmtpClientSession::on_bytes(std::string_view data) {
  ClientStep step;
  if (state_ == State::kDone) return step;
  buffer_.append(data);
  while (state_ != State::kDone) {
    const auto nl = buffer_.find('\n');
    if (nl == std::string::npos) {
      if (buffer_.size() > kMaxReplyLine) {
        return fail_all(RecipientOutcome::kTemporary, "smarthost sent a reply line over " +
                                                          std::to_string(kMaxReplyLine) + " octets", false);
      }
      break;
    }
    if (nl > kMaxReplyLine) {
      return fail_all(RecipientOutcome::kTemporary,
                      "smarthost sent a reply line over " + std::to_string(kMaxReplyLine) + " octets", false);
    }
    std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    transcript_.push_back("S: " + line);
    // "NNN", "NNN text", "NNN-text": three digits 2-5xx, then a space, a hyphen or nothing.
    const bool well_formed = line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && is_digit(line[1]) &&
                             is_digit(line[2]) && (line.size() == 3 || line[3] == ' ' || line[3] == '-');
    if (!well_formed) {
      return fail_all(RecipientOutcome::kTemporary, "smarthost sent a malformed reply: " + line.substr(0, 200),
                      true);
    }
    const int code = std::stoi(line.substr(0, 3));
    if (!pending_.lines.empty() && code != pending_.code) {
      return fail_all(RecipientOutcome::kTemporary,
                      "smarthost changed the reply code inside a multi-line reply: " + line.substr(0, 200), true);
    }
    pending_.code = code;
    pending_.lines.push_back(line.size() > 4 ? line.substr(4) : "");
    if (line.size() > 3 && line[3] == '-') {
      if (pending_.lines.size() >= kMaxReplyLines) {
        return fail_all(RecipientOutcome::kTemporary,
                        "smarthost sent a reply of over " + std::to_string(kMaxReplyLines) + " lines", true);
      }
      continue;
    }
    Reply reply = std::move(pending_);
    pending_ = Reply{};
    ClientStep next = on_reply(reply);
    step.send.insert(step.send.end(), next.send.begin(), next.send.end());
    step.start_tls = step.start_tls || next.start_tls;
    step.send_body = step.send_body || next.send_body;
    step.close = step.close || next.close;
    if (next.start_tls || next.send_body || next.close) break;  // the driver acts before more replies
  }
  return step;
}

bool SmtpClientSession::offers(std::string_view keyword) const {
  for (const auto& ext : extensions_) {
    if (ext == keyword || (ext.size() > keyword.size() && ext.starts_with(keyword) && ext[keyword.size()] == ' ')) {
      return true;
    }
  }
  return false;
}

bool SmtpClientSession::offers_auth(std::string_view mechanism) const {
  for (const auto& ext : extensions_) {
    if (!ext.starts_with("AUTH ") && !ext.starts_with("AUTH=")) continue;
    std::string_view rest = std::string_view(ext).substr(5);
    while (!rest.empty()) {
      const auto sp = rest.find(' ');
      if (rest.substr(0, sp) == mechanism) return true;
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
  }
  return false;
}

ClientStep SmtpClientSession::on_reply(const Reply& reply) {
  ClientStep step;
  const int k = klass(reply.code);
  switch (state_) {
    case State::kGreeting:
      if (k != 2) return fail_all(RecipientOutcome::kTemporary, "smarthost greeting: " + reply.text(), true);
      state_ = State::kEhlo;
      command(step, "EHLO " + config_.helo_name);
      return step;
    case State::kEhlo:
      if (k != 2) {
        if (k == 4) return fail_all(RecipientOutcome::kTemporary, "smarthost refused EHLO: " + reply.text(), true);
        state_ = State::kHelo;
        command(step, "HELO " + config_.helo_name);
        return step;
      }
      extensions_.clear();
      for (std::size_t i = 1; i < reply.lines.size(); ++i) extensions_.push_back(upper(reply.lines[i]));
      return after_hello(std::move(step));
    case State::kHelo:
      if (k != 2) return fail_all(RecipientOutcome::kTemporary, "smarthost refused HELO: " + reply.text(), true);
      extensions_.clear();
      return after_hello(std::move(step));
    case State::kStartTls:
      if (reply.code != 220) {
        return fail_all(RecipientOutcome::kTemporary, "smarthost refused STARTTLS: " + reply.text(), true);
      }
      step.start_tls = true;
      return step;
    case State::kAuthPlain:
    case State::kAuthDone:
      if (reply.code != 235) {
        return fail_all(RecipientOutcome::kTemporary, "smarthost refused the credentials: " + reply.text(), true);
      }
      return send_mail(std::move(step));
    case State::kAuthLoginUser:
      if (reply.code != 334) {
        return fail_all(RecipientOutcome::kTemporary, "smarthost refused AUTH LOGIN: " + reply.text(), true);
      }
      state_ = State::kAuthLoginPassword;
      command(step, auth::sasl::base64_encode(config_.user), "[user name]");
      return step;
    case State::kAuthLoginPassword:
      if (reply.code != 334) {
        return fail_all(RecipientOutcome::kTemporary, "smarthost refused the credentials: " + reply.text(), true);
      }
      state_ = State::kAuthDone;
      command(step, auth::sasl::base64_encode(config_.password), "[password]");
      return step;
    case State::kMail:
      if (k != 2) {
        return fail_all(k == 5 ? RecipientOutcome::kPermanent : RecipientOutcome::kTemporary, reply.text(), true);
      }
      state_ = State::kRcpt;
      rcpt_index_ = 0;
      command(step, "RCPT TO:<" + results_[0].address + ">");
      return step;
    case State::kRcpt: {
      RecipientResult& r = results_[rcpt_index_];
      r.reply = reply.text();
      if (k == 2) {
        accepted_[rcpt_index_] = true;
      } else {
        r.outcome = k == 5 ? RecipientOutcome::kPermanent : RecipientOutcome::kTemporary;
      }
      ++rcpt_index_;
      if (rcpt_index_ < results_.size()) {
        command(step, "RCPT TO:<" + results_[rcpt_index_].address + ">");
        return step;
      }
      return after_recipients(std::move(step));
    }
    case State::kData:
      if (reply.code != 354) {
        decide_accepted(k == 5 ? RecipientOutcome::kPermanent : RecipientOutcome::kTemporary, reply.text());
        if (k != 5) failure_ = "smarthost refused DATA: " + reply.text();
        state_ = State::kQuit;
        command(step, "QUIT");
        return step;
      }
      state_ = State::kBody;
      step.send_body = true;
      transcript_.push_back("C: [message]");
      return step;
    case State::kBody:
      decide_accepted(k == 2 ? RecipientOutcome::kDelivered
                             : (k == 5 ? RecipientOutcome::kPermanent : RecipientOutcome::kTemporary),
                      reply.text());
      if (k == 4) failure_ = "smarthost refused the message: " + reply.text();
      state_ = State::kQuit;
      command(step, "QUIT");
      return step;
    case State::kQuit:
      state_ = State::kDone;
      step.close = true;
      return step;
    case State::kDone:
      return step;
  }
  return step;
}

ClientStep SmtpClientSession::after_hello(ClientStep step) {
  if (config_.require_starttls && !tls_active_) {
    if (!offers("STARTTLS")) {
      return fail_all(RecipientOutcome::kTemporary, "smarthost offers no STARTTLS", true);
    }
    state_ = State::kStartTls;
    command(step, "STARTTLS");
    return step;
  }
  if (!config_.user.empty()) {
    // Credentials only over TLS, or when TLS was explicitly turned off.
    if (config_.require_starttls && !tls_active_) {
      return fail_all(RecipientOutcome::kTemporary, "no TLS: the credentials are not sent", true);
    }
    if (offers_auth("PLAIN")) {
      state_ = State::kAuthPlain;
      std::string token;
      token.push_back('\0');
      token += config_.user;
      token.push_back('\0');
      token += config_.password;
      command(step, "AUTH PLAIN " + auth::sasl::base64_encode(token), "AUTH PLAIN [credentials]");
      return step;
    }
    if (offers_auth("LOGIN")) {
      state_ = State::kAuthLoginUser;
      command(step, "AUTH LOGIN");
      return step;
    }
    return fail_all(RecipientOutcome::kTemporary, "smarthost offers no AUTH PLAIN or LOGIN", true);
  }
  return send_mail(std::move(step));
}

ClientStep SmtpClientSession::send_mail(ClientStep step) {
  if (results_.empty()) {
    state_ = State::kQuit;
    command(step, "QUIT");
    return step;
  }
  state_ = State::kMail;
  std::string line = "MAIL FROM:<" + sender_ + ">";
  if (offers("SIZE")) line += " SIZE=" + std::to_string(size_);
  command(step, std::move(line));
  return step;
}

ClientStep SmtpClientSession::after_recipients(ClientStep step) {
  if (std::find(accepted_.begin(), accepted_.end(), true) == accepted_.end()) {
    state_ = State::kQuit;
    command(step, "QUIT");
    return step;
  }
  state_ = State::kData;
  command(step, "DATA");
  return step;
}

ClientStep SmtpClientSession::on_tls_started() {
  ClientStep step;
  if (state_ != State::kStartTls) return step;
  tls_active_ = true;
  buffer_.clear();  // nothing sent before the handshake counts (RFC 3207)
  pending_ = Reply{};
  extensions_.clear();
  transcript_.push_back("-- TLS started");
  state_ = State::kEhlo;
  command(step, "EHLO " + config_.helo_name);
  return step;
}

ClientStep SmtpClientSession::on_connection_lost(const std::string& why) {
  if (state_ == State::kDone) return {};
  if (state_ == State::kQuit) {  // everything is decided; only QUIT's reply went missing
    state_ = State::kDone;
    return ClientStep{{}, false, false, true};
  }
  return fail_all(RecipientOutcome::kTemporary, why, false);
}

void SmtpClientSession::decide_accepted(RecipientOutcome outcome, const std::string& reply) {
  for (std::size_t i = 0; i < results_.size(); ++i) {
    if (accepted_[i] && results_[i].outcome == RecipientOutcome::kUndecided) {
      results_[i].outcome = outcome;
      results_[i].reply = reply;
    }
  }
}

ClientStep SmtpClientSession::fail_all(RecipientOutcome outcome, const std::string& why, bool quit) {
  ClientStep step;
  if (failure_.empty() && outcome == RecipientOutcome::kTemporary) failure_ = why;
  for (auto& r : results_) {
    if (r.outcome == RecipientOutcome::kUndecided) {
      r.outcome = outcome;
      r.reply = why;
    }
  }
  buffer_.clear();
  pending_ = Reply{};
  if (quit && state_ != State::kQuit) {
    state_ = State::kQuit;
    command(step, "QUIT");
  } else {
    state_ = State::kDone;
    step.close = true;
  }
  return step;
}

}  // namespace mailroom::relay
