// SmtpClientSession: the client side of one SMTP conversation with the smarthost, as a pure state
// machine: the driver feeds it the bytes the server sent and performs what each Step asks (send
// these command lines, start TLS now, stream the message body, close). No socket, no clock: the
// driver owns the connection, the timeouts and the TLS handshake (relay/relay.cpp).
//
// The conversation: greeting, EHLO (HELO when EHLO is refused), STARTTLS (required unless the
// config turns it off: a server without it is a temporary failure and nothing is sent), EHLO
// again, AUTH PLAIN or LOGIN (as offered; credentials only over TLS or with TLS turned off),
// MAIL FROM (SIZE= when offered), one RCPT TO per recipient, DATA, the body (dot-stuffed by the
// driver, then ".\r\n"), QUIT. Every recipient ends delivered, temporary (4xx, a connection or
// protocol problem) or permanent (5xx), with the reply that decided it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailroom::relay {

struct ClientConfig {
  std::string helo_name;          // our name in EHLO/HELO
  bool require_starttls = true;   // smarthost_tls starttls; false = none (plaintext)
  std::string user;               // empty: no AUTH
  std::string password;
};

enum class RecipientOutcome { kUndecided, kDelivered, kTemporary, kPermanent };
const char* recipient_outcome_name(RecipientOutcome outcome);

struct RecipientResult {
  std::string address;
  RecipientOutcome outcome = RecipientOutcome::kUndecided;
  std::string reply;  // the server's reply (or our reason) as one line
};

// What the driver does next, in this order: send `send` (each line ends in CRLF), then start
// the TLS handshake (and call tls_started()), or stream the body (then ".\r\n"), or close.
struct ClientStep {
  std::vector<std::string> send;
  bool start_tls = false;
  bool send_body = false;
  bool close = false;
};

class SmtpClientSession {
 public:
  // Longest reply line accepted (RFC 5321 allows 512; servers' texts run longer), and the most
  // lines of one multi-line reply (an EHLO listing).
  static constexpr std::size_t kMaxReplyLine = 2048;
  static constexpr std::size_t kMaxReplyLines = 64;

  SmtpClientSession(ClientConfig config, std::string sender, std::vector<std::string> recipients,
                    uint64_t size);

  // Bytes from the server (plaintext; after STARTTLS, what TLS decrypted).
  ClientStep on_bytes(std::string_view data);
  // The handshake the last step asked for has completed.
  ClientStep on_tls_started();
  // The connection failed, closed or timed out (`why` is one line): every recipient not decided
  // yet becomes temporary.
  ClientStep on_connection_lost(const std::string& why);

  bool finished() const { return state_ == State::kDone; }
  bool tls_active() const { return tls_active_; }
  const std::vector<RecipientResult>& results() const { return results_; }
  // The reason the session failed as a whole ("" when it did not): becomes the entry's last_error.
  const std::string& failure() const { return failure_; }
  // The conversation ("C: ..." / "S: ...") with AUTH arguments redacted: safe to log.
  const std::vector<std::string>& transcript() const { return transcript_; }

 private:
  enum class State {
    kGreeting, kEhlo, kHelo, kStartTls, kAuthPlain, kAuthLoginUser, kAuthLoginPassword, kAuthDone,
    kMail, kRcpt, kData, kBody, kQuit, kDone
  };
  struct Reply {
    int code = 0;
    std::vector<std::string> lines;  // the text after "NNN-" / "NNN "
    std::string text() const;        // "NNN first line" (continuations joined with " ")
  };

  ClientStep on_reply(const Reply& reply);
  ClientStep after_hello(ClientStep step);
  ClientStep send_mail(ClientStep step);
  ClientStep after_recipients(ClientStep step);
  // Every undecided recipient gets `outcome`; the session sends QUIT (or just closes).
  ClientStep fail_all(RecipientOutcome outcome, const std::string& why, bool quit);
  void decide_accepted(RecipientOutcome outcome, const std::string& reply);
  void command(ClientStep& step, std::string line, std::string_view logged = {});
  bool offers(std::string_view keyword) const;
  bool offers_auth(std::string_view mechanism) const;

  ClientConfig config_;
  std::string sender_;
  uint64_t size_ = 0;
  std::vector<RecipientResult> results_;
  std::vector<bool> accepted_;     // RCPT got 2xx
  std::size_t rcpt_index_ = 0;
  State state_ = State::kGreeting;
  std::string buffer_;             // an incomplete reply line
  Reply pending_;                  // lines of a multi-line reply so far
  std::vector<std::string> extensions_;  // the last EHLO's keywords lines, upper-cased
  bool tls_active_ = false;
  std::string failure_;
  std::vector<std::string> transcript_;
};

}  // namespace mailroom::relay
