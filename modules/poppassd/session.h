// The poppassd session state machine (the Eudora password-change protocol: USER, PASS, NEWPASS,
// QUIT; every reply "200 ..." or "500 ..."). Pure: it takes lines and results of effects and
// returns replies plus the next effect for the adapter to perform. No sockets, no disk:
// unit-tested with strings (tests/unit/poppassd).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "auth/login_outcome.h"
#include "storage/address.h"

namespace mailroom::poppassd {

// The banner setting's default; the greeting is "200 <host> <banner>".
inline constexpr std::string_view kDefaultBanner = "poppassd ready";
inline constexpr std::size_t kMaxBannerLength = 400;
// A reply line, CRLF included, is at most this long (as POP3's).
inline constexpr std::size_t kMaxReplyLine = 512;

// The fixed reply texts (after "200 " / "500 "), as the Eudora poppassd words them.
inline constexpr std::string_view kAskPassword = "Your password please.";
inline constexpr std::string_view kAskNewPassword = "Your new password please.";
inline constexpr std::string_view kChanged = "Password changed, thank-you.";
inline constexpr std::string_view kOldPasswordIncorrect = "Old password is incorrect.";
inline constexpr std::string_view kBye = "Bye.";
inline constexpr std::string_view kChangesNotAllowed = "Password changes are not allowed on this server.";
inline constexpr std::string_view kNeedsTls = "Password changes need an encrypted connection: use the TLS port.";

struct SessionConfig {
  std::string hostname = "localhost";                // in the greeting
  std::string banner = std::string(kDefaultBanner);  // greeting text after the host
  bool changes_allowed = false;                      // allow_password_change
  // USER/PASS may be used on this connection (TLS, tls_required_for_login off, or an exempted
  // loopback client).
  bool plaintext_login_allowed = true;
  int64_t max_bad_commands = 10;  // unknown or out-of-order commands and refused new passwords
};

// ---- effects: what the adapter must do after sending the reply ----
struct NoEffect {};
// Verify the old password like a POP3 USER/PASS login (auth::LoginService: anti-hammering,
// the failure delay); answer with on_login_result().
struct Authenticate {
  storage::Address address;
  std::string password;
};
// The user name cannot be a mailbox: count a failed login, then on_login_result(kAuthFailed).
struct RejectLogin {
  std::string user;
  std::string reason;  // for the log
};
// On a worker: check the password policy, then set the new password and its derived secrets;
// answer with on_change_result().
struct ChangePassword {
  storage::Address address;
  std::string old_password;
  std::string new_password;
};
// Close the connection after the reply has been written.
struct Close {};

using Effect = std::variant<NoEffect, Authenticate, RejectLogin, ChangePassword, Close>;

struct Step {
  std::string reply;  // complete wire text with CRLF
  Effect effect;
};

enum class State {
  kUser,            // waiting for USER
  kPass,            // waiting for PASS (the old password)
  kAwaitingLogin,   // Authenticate or RejectLogin is outstanding
  kNewPass,         // waiting for NEWPASS
  kAwaitingChange,  // ChangePassword is outstanding
  kDone,            // changed: only QUIT is left
  kClosed
};
const char* state_name(State state);

// How a ChangePassword ended: kRefused carries the policy's sentence for the client.
struct ChangeResult {
  enum class Outcome { kChanged, kRefused, kFailed } outcome = Outcome::kFailed;
  std::string reason;
};

class Session {
 public:
  explicit Session(SessionConfig config);
  ~Session();  // wipes a password still held
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Step greeting();
  // One command line without its line ending. Only called when no effect is outstanding.
  Step on_line(std::string_view line);
  // The line as a transcript may show it: PASS and NEWPASS keep only their verb.
  std::string loggable_line(std::string_view line) const;
  Step on_line_too_long();
  Step on_login_result(auth::LoginOutcome outcome);
  Step on_change_result(const ChangeResult& result);

  State state() const { return state_; }
  // The mailbox whose old password was accepted (empty before).
  std::string user() const { return address_ ? address_->str() : std::string(); }

 private:
  Step dispatch(std::string_view verb, std::string_view arg);
  Step bad_command(std::string_view reason);
  Step cmd_user(std::string_view arg);
  Step cmd_pass(std::string_view arg);
  Step cmd_newpass(std::string_view arg);
  void forget_password();

  SessionConfig config_;
  State state_ = State::kUser;
  std::size_t bad_commands_ = 0;
  std::string pending_user_;                  // after USER
  std::optional<storage::Address> address_;   // after PASS
  std::string old_password_;                  // after PASS, until the change (the policy compares)
};

}  // namespace mailroom::poppassd
