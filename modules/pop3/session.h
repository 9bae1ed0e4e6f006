// The POP3 session state machine (RFC 1939, RFC 2449 CAPA, RFC 3206 codes). Pure: it takes lines
// and results of effects, and returns replies plus the next effect for the adapter to perform.
// No sockets, no libuv, no disk: unit-tested with strings.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/base/result.h"
#include "core/net/line_reader.h"
#include "auth/login_outcome.h"
#include "auth/sasl/auth_mechanism.h"
#include "storage/address.h"
#include "delivery/address_list.h"
#include "delivery/header_scanner.h"
#include "storage/mail_store.h"

namespace mailroom::pop3 {

struct Command;

// The banner setting's default: neutral, no product name (capa_implementation decides that).
inline constexpr std::string_view kDefaultBanner = "POP3 server ready";
// The longest banner the setting accepts, and the longest APOP timestamp the module makes: with
// "+OK ", a space and CRLF they fill a reply line (512 octets) exactly, so neither is cut.
inline constexpr std::size_t kMaxBannerLength = 400;
inline constexpr std::size_t kMaxApopTimestampLength = 512 - 4 - kMaxBannerLength - 1 - 2;

struct SessionConfig {
  std::string apop_timestamp;     // "<pid.clock@host>" (RFC 1939 section 7), made by the adapter
  std::string banner = std::string(kDefaultBanner);  // greeting text; also names the sign-off
  std::string alt_at_chars;       // alternate '@' characters accepted in logins
  bool capa_implementation = false;  // advertise "IMPLEMENTATION Mailroom" in CAPA
  int64_t max_bad_commands = 10;  // then the session ends
  bool stls_available = false;    // STLS may be offered (starttls on and a usable certificate)
  bool secure = false;            // the connection is TLS already (implicit TLS port)
  // Whether USER/PASS may be used while the connection is not encrypted
  // (tls_required_for_login off, or a loopback client exempted from it).
  bool plaintext_login_allowed = true;
  // SASL mechanisms offered by AUTH (RFC 5034), upper case, in CAPA order (e.g. PLAIN, LOGIN).
  // PLAIN and LOGIN send the password itself: they follow the same TLS rule as USER/PASS;
  // CRAM-MD5, NTLM and SCRAM-* never reveal it and are offered on any connection.
  std::vector<std::string> sasl_mechanisms = {"PLAIN", "LOGIN"};
  bool ntlm_v1 = false;               // accept NTLMv1 responses (legacy setting)
  std::string hostname = "localhost";  // in CRAM-MD5 challenges and NTLM target info
  // XTND XMIT (docs/xtnd-xmit.md): sending a message through the session, off unless xtnd_xmit.
  bool xtnd_xmit = false;
  bool xtnd_xmit_any_sender = false;           // From need not be the logged-in mailbox
  uint64_t max_message_size = storage::kDefaultMaxMessageSize;  // wire octets of the message
  std::size_t xmit_max_line_length = 65536;    // octets of one message line with its CRLF
  std::size_t xmit_max_header_size = 65536;    // octets of From/To/Cc/Bcc field bodies kept
  // RFC 2449 LOGIN-DELAY and EXPIRE (docs/pop3-extensions.md): the service's values, shown in CAPA
  // before login; after it, the mailbox's own (AccountLimits).
  int64_t login_delay = 0;              // seconds; 0: none (no LOGIN-DELAY line)
  std::optional<int64_t> expire_days;   // nullopt: NEVER
  // Client workarounds: bare AUTH lists the mechanisms (auth_list_bare); LAST (RFC 1460).
  bool auth_list_bare = true;
  bool last_command = false;
  // Unix seconds now, for EXPIRE at UPDATE (tests fix it); empty: the system clock.
  std::function<int64_t()> clock;
  // Fixed values for tests (empty: random per exchange).
  std::string cram_md5_challenge;
  std::string scram_server_nonce;
  std::string ntlm_server_challenge;
};

// What a login found out about the mailbox (its account settings over the service's), given to
// the session with the login's outcome (kOk or kLoginDelay).
struct AccountLimits {
  int64_t login_delay = 0;
  std::optional<int64_t> expire_days;  // nullopt: NEVER
  storage::Retrievals retrievals;      // first retrievals read at login (only when expire_days is set)
};

// ---- effects: what the adapter must do after sending the reply ----
struct NoEffect {};
// Verify credentials, then lock and open the maildrop; answer with on_login_result().
struct Authenticate {
  storage::Address address;
  std::string password;
  std::string mechanism = "USER";  // for the log: USER, PLAIN, LOGIN, APOP, CRAM-MD5, ...
  // The mechanism proved the credentials already (APOP, CRAM-MD5, NTLM, SCRAM): only check the
  // mailbox is still enabled, then lock and open. `password` is empty then.
  bool verified = false;
};
// APOP or a SASL mechanism needs the user's stored secret: look up the first kind of `accepted`
// the mailbox has (auth::sasl::SecretKind, see auth/secrets.h for the stored names), then call on_secret().
struct FetchSecret {
  storage::Address address;
  std::vector<auth::sasl::SecretKind> accepted;
  std::string mechanism;
};
// The credentials were rejected without a password check (wrong APOP digest, CRAM-MD5 or SCRAM
// proof, NTLM response, unknown or unparsable user): count the failure like a wrong password,
// then call on_login_result(kAuthFailed). `reason` is for the log only.
struct RejectLogin {
  std::optional<storage::Address> address;
  std::string user;  // as the client sent it
  std::string mechanism;
  std::string reason;
};
// Stream message `index` (0-based): the whole message (top_lines empty) or the headers, the blank
// line and `*top_lines` body lines; dot-stuffed, then ".\r\n". The step's reply is empty: the
// adapter sends `ok_reply` first, but only once the message is open (and its first chunk read),
// then calls on_stream_done() when finished. If the message cannot be opened or read before
// anything was sent, it calls on_stream_failed() and sends that reply instead.
struct StreamMessage {
  std::size_t index = 0;
  std::optional<uint64_t> top_lines;
  std::string ok_reply;  // "+OK ..." line, CRLF-terminated
};
// UPDATE state: remove these messages (0-based indexes: the DELEs and, with EXPIRE, the expired),
// then, if they are gone, replace the retrieval record with `record` when it is set; then call
// on_update_result().
struct CommitDeletions {
  std::vector<std::size_t> indexes;
  std::size_t expired = 0;  // how many of them EXPIRE chose (for the log)
  std::optional<storage::Retrievals> record;
};
// Close the connection after the reply has been written.
struct Close {};
// STLS accepted: after the "+OK" is queued, switch the connection to TLS (dropping any input
// buffered so far) and call on_tls_started().
struct StartTls {};

// XTND XMIT accepted: make the spool ready (a worker job), then call on_xmit_ready().
struct PrepareXmit {};
// The "+OK" to XTND XMIT is out: read the message (Connection::begin_body with these limits),
// with the Received line in front, streaming to the spool every line on_xmit_line() keeps; give
// the end to on_xmit_end().
struct ReceiveXmit {
  uint64_t max_size = 0;
  std::size_t max_line_length = 0;
};
// The message is refused (the reply says why): drop what was written.
struct DiscardXmit {};
// Deliver the spooled message: look every recipient up, commit the local copies (and the queue's
// if any is remote), queue the remote ones; nothing at all if any recipient is refused. Then
// call on_xmit_result().
struct SendXmit {
  storage::Address sender;  // the envelope sender: always the logged-in mailbox
  std::vector<delivery::AddrSpec> recipients;  // To + Cc + Bcc, each once
  uint64_t octets = 0;      // the message as the client sent it (wire octets)
};

using Effect = std::variant<NoEffect, Authenticate, FetchSecret, RejectLogin, StreamMessage, CommitDeletions, Close,
                            StartTls, PrepareXmit, ReceiveXmit, DiscardXmit, SendXmit>;

struct Step {
  std::string reply;  // complete wire text, CRLF line endings (multi-line replies end in ".\r\n")
  Effect effect;
};

enum class State {
  kAuthorization,
  kSaslExchange,    // a "+ ..." challenge is out; the next line is the client's answer
  kSaslFinal,       // SCRAM's server-final was sent as a challenge; waiting for the empty line
  kAwaitingSecret,  // FetchSecret is outstanding
  kAwaitingLogin,   // Authenticate or RejectLogin is outstanding
  kTransaction,
  kStreaming,
  kXmitPreparing,   // PrepareXmit is outstanding
  kXmitData,        // the message of XTND XMIT is arriving
  kXmitSending,     // SendXmit is outstanding
  kUpdate,
  kClosed
};

// The state's RFC 1939 name (AUTHORIZATION, TRANSACTION, UPDATE; "closed"), for mailctl sessions.
const char* state_name(State state);

// How a login ended (auth/login_outcome.h). kOk: the listing is valid; kAuthFailed -> "-ERR [AUTH] ...";
// kInUse (maildrop locked by another session) -> "-ERR [IN-USE] ..."; kTemporary -> "-ERR [SYS/TEMP] ...".
using LoginOutcome = auth::LoginOutcome;

// How SendXmit ended. Anything but kSent means nothing was delivered or queued.
enum class XmitOutcome {
  kSent,
  kUnknownRecipient,   // a local postoffice without that mailbox (or an invalid mailbox name)
  kDisabledRecipient,  // the mailbox or its postoffice is disabled
  kNoSmarthost,        // a remote recipient, and no smarthost is configured
  kOverQuota,          // a local recipient's mailbox is full, or the message would not fit (storage/quota.h)
  kTemporary,          // the store, the disk (full) or the queue failed: try again later
};
struct XmitResult {
  XmitOutcome outcome = XmitOutcome::kTemporary;
  std::string recipient;  // the refused one (kUnknownRecipient, kDisabledRecipient, kNoSmarthost, kOverQuota)
  std::size_t local = 0;   // kSent: mailboxes given a copy
  std::size_t queued = 0;  // kSent: remote recipients queued
  std::string detail{};    // kOverQuota: which limit, as storage::quota_refusal() words it
};

class Session {
 public:
  explicit Session(SessionConfig config);

  // "+OK <banner> <timestamp>\r\n"
  Step greeting();
  // One command line without its CRLF. Only called when no effect is outstanding.
  Step on_line(std::string_view line);
  // How `line`, about to be given to on_line(), may appear in a transcript: the arguments of
  // PASS and APOP, AUTH's initial response and every line of a SASL exchange are "<redacted>".
  std::string loggable_line(std::string_view line) const;
  // The line reader dropped a line over the length limit: "-ERR line too long", counts as bad.
  Step on_line_too_long();
  // Result of FetchSecret: the secret, or nullopt when the mailbox is unknown, disabled or has
  // none of the accepted kinds (the mechanism then fails the way it must, e.g. SCRAM still
  // answers with a fake salt so the client cannot tell).
  Step on_secret(std::optional<auth::sasl::Secret> secret);
  // FetchSecret could not be answered (database trouble): "-ERR [SYS/TEMP]", back to AUTHORIZATION.
  Step on_secret_error();
  // Result of Authenticate or RejectLogin. `listing` is the maildrop snapshot when outcome == kOk.
  Step on_login_result(LoginOutcome outcome, storage::Listing listing);
  Step on_login_result(LoginOutcome outcome, std::vector<storage::MessageInfo> listing);  // tests: wraps it
  Step on_login_result(LoginOutcome outcome) { return on_login_result(outcome, storage::Listing()); }
  // The mailbox's limits, before on_login_result() of kOk or kLoginDelay.
  void set_account_limits(AccountLimits limits) { limits_ = std::move(limits); }
  // StreamMessage finished (nothing to send; returns to TRANSACTION).
  void on_stream_done();
  // StreamMessage failed before its +OK was sent (the message vanished or cannot be read):
  // "-ERR [SYS/TEMP] ...", back to TRANSACTION; the DELE marks stay as they were.
  Step on_stream_failed();
  // StartTls done: the session restarts AUTHORIZATION as if new (RFC 2595: the client must
  // forget what it learnt before, and so do we: a USER sent in plaintext is dropped).
  void on_tls_started();
  bool secure() const { return secure_; }
  // The client sent UTF8 (RFC 6856).
  bool utf8() const { return utf8_; }
  // Result of CommitDeletions: "+OK ..." or "-ERR [SYS/TEMP] ..."; effect Close either way.
  Step on_update_result(const Status& status);
  // Once CommitDeletions is out, the session needs the listing no more: the adapter takes it so
  // that a large one is freed on a worker, not on the loop.
  storage::Listing release_listing() {
    deleted_.clear();
    return std::move(listing_);
  }

  // XTND XMIT: the spool is ready (or not: "-ERR [SYS/TEMP]").
  Step on_xmit_ready(const Status& status);
  // One line of the message (un-stuffed, no ending): whether it is written (Bcc fields are not).
  bool on_xmit_line(std::string_view line);
  // The message's terminator arrived: its checks (size, line length, header, From, recipients)
  // give DiscardXmit with an -ERR, or SendXmit.
  Step on_xmit_end(const core::BodySummary& summary);
  // SendXmit's result: "+OK" only for kSent.
  Step on_xmit_result(const XmitResult& result);

  State state() const { return state_; }
  const std::string& hostname() const { return config_.hostname; }
  const storage::Address* user() const;  // set once logged in
  // Whether message `index` (0-based) is marked for deletion; false for an unknown index.
  bool marked_deleted(std::size_t index) const { return index < deleted_.size() && deleted_[index]; }
  std::size_t bad_commands() const { return bad_commands_; }

 private:
  Step dispatch(const Command& cmd);
  Step bad_command(std::string_view reason);
  // Resolves a message-number argument; on failure fills `reply` with the step to return.
  std::optional<std::size_t> message_index(std::string_view arg, Step& reply);
  std::size_t live_count() const;
  uint64_t live_octets() const;
  std::string maildrop_summary() const;  // "maildrop has N messages (M octets)"
  // The QUIT reply's text: the banner with a final "ready" replaced by "signing off".
  std::string sign_off() const;

  Step cmd_user(const Command& cmd);
  Step cmd_pass(const Command& cmd);
  Step cmd_quit(const Command& cmd);
  Step cmd_capa(const Command& cmd);
  Step cmd_stls(const Command& cmd);
  Step cmd_utf8(const Command& cmd);
  Step cmd_auth(const Command& cmd);
  Step cmd_apop(const Command& cmd);
  std::unique_ptr<auth::sasl::AuthMechanism> make_mechanism(const std::string& name) const;
  Step reject(std::string user, std::string mechanism, std::string reason);
  Step on_sasl_line(std::string_view line);
  Step sasl_result(auth::sasl::MechStep step);
  std::vector<std::string> usable_mechanisms() const;
  bool login_allowed() const { return secure_ || config_.plaintext_login_allowed; }
  Step cmd_stat(const Command& cmd);
  Step cmd_list(const Command& cmd);
  Step cmd_uidl(const Command& cmd);
  Step cmd_retr(const Command& cmd);
  Step cmd_top(const Command& cmd);
  Step cmd_dele(const Command& cmd);
  Step cmd_rset(const Command& cmd);
  Step cmd_noop(const Command& cmd);
  Step cmd_xtnd(const Command& cmd);
  Step cmd_last(const Command& cmd);
  int64_t now() const;

  SessionConfig config_;
  State state_ = State::kAuthorization;
  bool secure_ = false;
  bool utf8_ = false;  // the client sent UTF8 (RFC 6856)
  std::size_t bad_commands_ = 0;
  std::optional<std::string> pending_user_;          // after USER, before PASS
  std::optional<storage::Address> pending_address_;  // after PASS, until on_login_result
  std::optional<storage::Address> user_;
  storage::Listing listing_;  // shared with the maildrop; null before login
  std::size_t left_after_update_ = 0;  // messages not marked deleted at QUIT
  std::size_t streaming_index_ = 0;    // the message of the StreamMessage out (kStreaming)
  bool streaming_whole_ = false;       // it is a RETR (not a TOP)
  std::vector<bool> retrieved_;        // per index: a RETR of it was sent whole (EXPIRE)
  std::size_t highest_accessed_ = 0;   // LAST: the highest message number RETR or TOP sent
  AccountLimits limits_;
  const std::vector<storage::MessageInfo>& list() const;  // *listing_, or empty
  std::vector<bool> deleted_;
  std::unique_ptr<auth::sasl::AuthMechanism> sasl_;  // the AUTH exchange in progress
  std::string sasl_name_;                      // its name, for the log and effects
  std::string sasl_user_;                      // the authcid it asked a secret for
  std::optional<std::string> apop_digest_;     // APOP in progress (waiting for the secret)
  std::optional<delivery::HeaderScanner> xmit_header_;  // the XTND XMIT message's header section
};

}  // namespace mailroom::pop3
