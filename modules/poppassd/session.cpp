// The poppassd session: USER -> PASS (the old password, checked like a login) -> NEWPASS (the
// policy and the change, on a worker) -> QUIT.
#include "modules/poppassd/session.h"

#include <cctype>

#include "core/log/transcript.h"

namespace mailroom::poppassd {

namespace {

// "<code> text\r\n": control bytes become spaces, cut to kMaxReplyLine, so no text breaks framing.
std::string reply_line(std::string_view code, std::string_view text) {
  std::string out(code);
  out += ' ';
  for (char c : text) {
    if (out.size() >= kMaxReplyLine - 2) break;
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  out += "\r\n";
  return out;
}

std::string ok(std::string_view text) { return reply_line("200", text); }
std::string err(std::string_view text) { return reply_line("500", text); }
Step reply_only(std::string reply) { return Step{std::move(reply), NoEffect{}}; }

std::string upper(std::string_view word) {
  std::string out(word);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

const char* state_name(State state) {
  switch (state) {
    case State::kUser: return "user";
    case State::kPass: return "pass";
    case State::kAwaitingLogin: return "checking";
    case State::kNewPass: return "newpass";
    case State::kAwaitingChange: return "changing";
    case State::kDone: return "done";
    case State::kClosed: return "closed";
  }
  return "closed";
}

Session::Session(SessionConfig config) : config_(std::move(config)) {}

Session::~Session() { forget_password(); }

void Session::forget_password() { old_password_.assign(old_password_.size(), '\0'); old_password_.clear(); }

Step Session::greeting() {
  std::string text = config_.hostname;
  if (!config_.banner.empty()) text += " " + config_.banner.substr(0, kMaxBannerLength);
  return reply_only(ok(text));
}

Step Session::on_line(std::string_view line) {
  if (state_ == State::kClosed) return Step{"", Close{}};
  const std::string_view verb = log::first_word(line);
  // The argument is everything after the verb and one space: passwords may hold spaces.
  std::string_view arg = line.substr(std::min(line.size(), static_cast<std::size_t>(verb.data() - line.data()) + verb.size()));
  if (!arg.empty()) arg.remove_prefix(1);
  return dispatch(upper(verb), arg);
}

std::string Session::loggable_line(std::string_view line) const {
  const std::string verb = upper(log::first_word(line));
  if (verb == "PASS" || verb == "NEWPASS") return log::redact_after(line, 1);
  return std::string(line);
}

Step Session::on_line_too_long() {
  if (state_ == State::kClosed) return Step{"", Close{}};
  return bad_command("Line too long.");
}

Step Session::dispatch(std::string_view verb, std::string_view arg) {
  if (verb == "QUIT") {
    state_ = State::kClosed;
    forget_password();
    return Step{ok(kBye), Close{}};
  }
  if (verb == "USER" && state_ == State::kUser) return cmd_user(arg);
  if (verb == "PASS" && state_ == State::kPass) return cmd_pass(arg);
  if (verb == "NEWPASS" && state_ == State::kNewPass) return cmd_newpass(arg);
  if (verb == "USER" || verb == "PASS" || verb == "NEWPASS") return bad_command("Command out of sequence.");
  return bad_command("Unknown command.");
}

Step Session::bad_command(std::string_view reason) {
  ++bad_commands_;
  if (config_.max_bad_commands <= 0 || bad_commands_ >= static_cast<uint64_t>(config_.max_bad_commands)) {
    state_ = State::kClosed;
    forget_password();
    return Step{err(std::string(reason) + " Too many errors, closing connection."), Close{}};
  }
  return reply_only(err(reason));
}

Step Session::cmd_user(std::string_view arg) {
  // Refused before any password is read: a service that cannot change passwords must not become
  // a way to test them.
  if (!config_.changes_allowed) return reply_only(err(kChangesNotAllowed));
  if (!config_.plaintext_login_allowed) return reply_only(err(kNeedsTls));
  if (arg.empty()) return bad_command("Username required.");
  pending_user_ = std::string(arg);
  state_ = State::kPass;
  return reply_only(ok(kAskPassword));
}

Step Session::cmd_pass(std::string_view arg) {
  if (arg.empty()) return bad_command("Password required.");
  state_ = State::kAwaitingLogin;
  Result<storage::Address> address = storage::parse_address(pending_user_);
  if (!address) return Step{"", RejectLogin{std::move(pending_user_), address.error().message}};
  address_ = *address;
  old_password_ = std::string(arg);
  return Step{"", Authenticate{*address, old_password_}};
}

Step Session::on_login_result(auth::LoginOutcome outcome) {
  pending_user_.clear();
  if (outcome == auth::LoginOutcome::kOk) {
    state_ = State::kNewPass;
    return reply_only(ok(kAskNewPassword));
  }
  address_.reset();
  forget_password();
  state_ = State::kUser;
  if (outcome == auth::LoginOutcome::kAuthFailed) return reply_only(err(kOldPasswordIncorrect));
  return reply_only(err("Server error, try again later."));
}

Step Session::cmd_newpass(std::string_view arg) {
  if (arg.empty()) return bad_command("New password required.");
  state_ = State::kAwaitingChange;
  return Step{"", ChangePassword{*address_, old_password_, std::string(arg)}};
}

Step Session::on_change_result(const ChangeResult& result) {
  switch (result.outcome) {
    case ChangeResult::Outcome::kChanged:
      forget_password();
      state_ = State::kDone;
      return reply_only(ok(kChanged));
    case ChangeResult::Outcome::kRefused:
      state_ = State::kNewPass;  // the client may offer another one (counted: max_bad_commands)
      return bad_command(result.reason);
    case ChangeResult::Outcome::kFailed:
      break;
  }
  state_ = State::kNewPass;
  return reply_only(err("Server error, password not changed."));
}

}  // namespace mailroom::poppassd
