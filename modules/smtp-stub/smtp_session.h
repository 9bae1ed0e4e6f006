// The SMTP (RFC 5321) and LMTP (RFC 2033) session state machine. Pure: it takes command lines,
// the data's lines and the results of effects, and returns replies plus the next effect for the
// adapter to perform. No sockets, no libuv, no disk: unit-tested with strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/base/result.h"
#include "core/net/line_reader.h"
#include "delivery/recipient_lookup.h"
#include "delivery/trace_headers.h"
#include "modules/smtp-stub/smtp_command.h"
#include "storage/quota.h"

namespace mailroom::smtp {

enum class Protocol { kSmtp, kLmtp };

struct SessionConfig {
  Protocol protocol = Protocol::kSmtp;
  std::string hostname = "localhost";
  uint64_t max_message_size = 64ull * 1024 * 1024;
  std::size_t max_recipients = 100;
  std::size_t max_received_headers = 50;
  bool reject_bare_line_endings = true;  // false: normalise them to CRLF
  std::size_t max_line_length = 65536;   // data line octets with CRLF
  std::size_t max_bad_commands = 10;
  bool smtputf8 = true;
  bool starttls_available = false;  // STARTTLS may be offered (setting on, usable certificate)
  bool secure = false;              // the connection is TLS already
  bool count_unknown_recipients = true;
  std::string peer_ip;              // for the Received header
};

// ---- effects: what the adapter must do after sending the reply ----
struct NoEffect {};
// Look the recipient up (on a worker) and check its quota (delivery::check_quota with `size`),
// then call on_recipient().
struct LookupRecipient {
  RcptTo rcpt;
  std::optional<uint64_t> size;  // MAIL's SIZE=, if given
};
// The 354 is out: read the data (Connection::begin_body with these limits), streaming it to
// disk: first trace_headers(trace) (the adapter fills in date, id and TLS), then every data line
// with CRLF; feed each line to on_data_line() and the end to on_data_end().
struct ReceiveData {
  delivery::TraceInfo trace;
  uint64_t max_size = 0;         // wire octets of the data
  std::size_t max_line_length = 0;
  std::vector<std::string> maildirs;  // one per accepted recipient, in RCPT order
  std::vector<storage::Quota> quotas;  // parallel to maildirs: checked again at the commit
  // How the commit applies quotas: LMTP holds back each copy over its quota; SMTP, which has one
  // reply for all, refuses the message only when every copy is over (else stores every copy).
  bool quota_per_copy = false;
};
// Make the received message durable in every maildir of ReceiveData, then on_commit_result().
struct CommitData {};
// The data is refused (the reply says why): drop what was written.
struct DiscardData {};
// An unknown recipient: count a failed login with the anti-hammering guard, then call
// on_failure_counted(blocked) after its delay.
struct CountFailure {};
// Close once the reply is written.
struct Close {};
// STARTTLS accepted: after the 220 is queued, switch to TLS (dropping buffered input), then call
// on_tls_started().
struct StartTls {};

using Effect = std::variant<NoEffect, LookupRecipient, ReceiveData, CommitData, DiscardData, CountFailure, Close,
                            StartTls>;

struct Step {
  std::string reply;  // complete wire text (CRLF line ends); may be empty
  Effect effect;
};

// What a recipient lookup found (delivery/recipient_lookup.h, shared with XTND XMIT).
using RecipientStatus = delivery::RecipientStatus;
using RecipientVerdict = delivery::RecipientVerdict;

// The result of CommitData: `error` when no copy could be made (then `per_recipient` is empty),
// else one status per maildir of ReceiveData (each mailbox once, whatever the RCPTs repeated).
struct CommitResult {
  std::optional<Error> error;
  std::vector<Status> per_recipient;
  // Parallel to per_recipient (or empty): the quota refusal of a copy held back.
  std::vector<std::optional<std::string>> over_quota;
};

enum class State {
  kFresh,           // no EHLO/HELO/LHLO yet (or since STARTTLS)
  kReady,           // greeted, no transaction
  kMail,            // MAIL accepted, RCPTs being collected
  kAwaitingLookup,  // LookupRecipient outstanding
  kAwaitingCount,   // CountFailure outstanding
  kData,            // data arriving
  kCommitting,      // CommitData outstanding
  kClosed
};

// The state in a word ("greeting", "ready", "mail", "data", "commit", "closed"), for mailctl
// sessions.
const char* state_name(State state);

class Session {
 public:
  explicit Session(SessionConfig config);

  Step greeting() const;  // "220 <hostname> ESMTP ready" (LMTP: "LMTP ready"; no product name)
  // One command line without its ending. Only called when no effect is outstanding.
  Step on_line(std::string_view line, core::LineEnding ending);
  // How `line` may appear in a transcript: AUTH's arguments past the mechanism are "<redacted>"
  // (AUTH is refused, but a client may send its credentials with it all the same).
  static std::string loggable_line(std::string_view line);
  // A command line over the line limit was dropped (the adapter handles auto-deny first).
  Step on_line_too_long();
  Step on_recipient(const RecipientVerdict& verdict);
  // After CountFailure: `blocked` ends the session (421), else the 550 for the unknown mailbox.
  Step on_failure_counted(bool blocked);
  // A line of data (un-stuffed, without its ending): header accounting (Received: lines).
  void on_data_line(std::string_view line);
  Step on_data_end(const core::BodySummary& summary);
  Step on_commit_result(const CommitResult& result);
  void on_tls_started();

  State state() const { return state_; }
  std::size_t bad_commands() const { return bad_commands_; }
  bool secure() const { return secure_; }
  const std::string& helo() const { return helo_; }
  const std::string& hostname() const { return config_.hostname; }
  // The mailboxes of the transaction's accepted recipients, comma-separated (for the log).
  std::string recipient_mailboxes() const;
  // Transactions completed with at least one stored copy (for the disconnect log).
  uint64_t delivered() const { return delivered_; }

 private:
  // One per accepted RCPT, duplicates included (LMTP answers each); `copy` indexes maildirs_,
  // which holds each mailbox once (one stored copy per mailbox).
  struct Recipient {
    std::string address;  // as the client wrote it (LMTP replies)
    std::size_t copy = 0;
    std::string mailbox;  // canonical
  };

  Step dispatch(const Command& cmd);
  Step bad(int code, std::string_view enhanced, std::string_view text);
  Step cmd_hello(const Command& cmd);
  Step cmd_mail(const Command& cmd);
  Step cmd_rcpt(const Command& cmd);
  Step cmd_data(const Command& cmd);
  Step cmd_starttls(const Command& cmd);
  std::string ehlo_reply() const;
  void reset_transaction();
  // One reply per accepted recipient (LMTP) or one for the transaction (SMTP).
  std::string data_reply(const std::string& line) const;
  bool lmtp() const { return config_.protocol == Protocol::kLmtp; }
  const char* with_protocol() const;  // RFC 3848 / RFC 6531 "with" value

  SessionConfig config_;
  State state_ = State::kFresh;
  bool secure_ = false;
  bool esmtp_ = false;
  std::string helo_;
  std::size_t bad_commands_ = 0;
  uint64_t delivered_ = 0;
  // transaction
  std::optional<MailFrom> mail_;
  std::vector<Recipient> recipients_;
  std::vector<std::string> maildirs_;
  std::vector<storage::Quota> quotas_;  // parallel to maildirs_
  std::optional<RcptTo> pending_rcpt_;
  bool any_rcpt_refused_ = false;
  // data
  bool in_headers_ = true;
  std::size_t received_headers_ = 0;
};

}  // namespace mailroom::smtp
