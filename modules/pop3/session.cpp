// The POP3 session state machine: greeting, a command table by state (AUTHORIZATION,
// TRANSACTION), and the effects (authenticate, stream, commit deletions) the adapter performs.
#include "modules/pop3/session.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <charconv>
#include <ctime>

#include "core/log/transcript.h"
#include "modules/pop3/command.h"
#include "modules/pop3/expiry.h"
#include "modules/pop3/reply.h"
#include "auth/sasl/apop.h"
#include "auth/sasl/cram_md5.h"
#include "auth/sasl/ntlm.h"
#include "auth/sasl/scram.h"

namespace mailroom::pop3 {

namespace {

Step reply_only(std::string reply) { return Step{std::move(reply), NoEffect{}}; }

// Strict decimal: digits only (no sign, no spaces), no overflow.
std::optional<uint64_t> parse_decimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// "1 message", "3 messages".
std::string messages(std::size_t n) { return std::to_string(n) + (n == 1 ? " message" : " messages"); }

bool ends_with_word_ci(std::string_view text, std::string_view word) {
  if (text.size() < word.size()) return false;
  const std::string_view tail = text.substr(text.size() - word.size());
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(tail[i])) != word[i]) return false;
  }
  return text.size() == word.size() || text[text.size() - word.size() - 1] == ' ';
}

}  // namespace

static_assert(kMaxApopTimestampLength == 105, "a 400-character banner and the timestamp fill 512 octets");

Session::Session(SessionConfig config) : config_(std::move(config)), secure_(config_.secure) {}


Step Session::greeting() {
  // The timestamp is kept whole (APOP digests cover it); the banner gives way to the 512 cap.
  const std::string& stamp = config_.apop_timestamp;
  const std::size_t fixed = 4 /* "+OK " */ + 2 /* CRLF */ + (stamp.empty() ? 0 : stamp.size() + 1);
  std::string banner = config_.banner;
  if (fixed >= kMaxReplyLine) {
    banner.clear();
  } else if (banner.size() > kMaxReplyLine - fixed) {
    banner.resize(kMaxReplyLine - fixed);
  }
  std::string text = banner;
  if (!stamp.empty()) {
    if (!text.empty()) text += ' ';
    text += stamp;
  }
  return reply_only(ok_line(text));
}

const storage::Address* Session::user() const { return user_ ? &*user_ : nullptr; }

Step Session::on_line(std::string_view line) {
  if (state_ == State::kClosed) return Step{"", Close{}};
  if (state_ == State::kSaslExchange) return on_sasl_line(line);
  if (state_ == State::kSaslFinal) {  // SCRAM: the client acknowledged the server's proof
    state_ = State::kAuthorization;
    if (line == "*") return reply_only(err_line("authentication cancelled"));
    state_ = State::kAwaitingLogin;
    return Step{"", Authenticate{*pending_address_, "", sasl_name_, true}};
  }
  // The adapter must hold lines back while an effect is outstanding (PIPELINING).
  assert(state_ == State::kAuthorization || state_ == State::kTransaction);
  if (state_ != State::kAuthorization && state_ != State::kTransaction) {
    return reply_only(err_line("command not valid in this state"));
  }
  Result<Command> cmd = parse_command(line);
  if (!cmd) return bad_command(cmd.error().message);
  return dispatch(*cmd);
}

Step Session::on_line_too_long() {
  if (state_ == State::kClosed) return Step{"", Close{}};
  return bad_command("line too long");
}

Step Session::dispatch(const Command& cmd) {
  using Handler = Step (Session::*)(const Command&);
  struct Entry {
    std::string_view verb;
    bool in_authorization;
    bool in_transaction;
    Handler handler;
  };
  static constexpr Entry kTable[] = {
      {"APOP", true, false, &Session::cmd_apop},
      {"USER", true, false, &Session::cmd_user}, {"PASS", true, false, &Session::cmd_pass},
      {"QUIT", true, true, &Session::cmd_quit},  {"CAPA", true, true, &Session::cmd_capa},
      {"STLS", true, false, &Session::cmd_stls}, {"AUTH", true, false, &Session::cmd_auth},
      {"STAT", false, true, &Session::cmd_stat}, {"LIST", false, true, &Session::cmd_list},
      {"UIDL", false, true, &Session::cmd_uidl}, {"RETR", false, true, &Session::cmd_retr},
      {"TOP", false, true, &Session::cmd_top},   {"DELE", false, true, &Session::cmd_dele},
      {"RSET", false, true, &Session::cmd_rset}, {"NOOP", false, true, &Session::cmd_noop},
      {"XTND", false, true, &Session::cmd_xtnd}, {"LAST", false, true, &Session::cmd_last},
      {"UTF8", true, false, &Session::cmd_utf8},
  };
  for (const Entry& e : kTable) {
    if (e.verb != cmd.verb) continue;
    if (e.verb == "XTND" && !config_.xtnd_xmit) break;  // off: unknown, as it always was
    if (e.verb == "LAST" && !config_.last_command) break;
    const bool allowed = state_ == State::kAuthorization ? e.in_authorization : e.in_transaction;
    if (!allowed) return bad_command("command not valid in this state");
    return (this->*e.handler)(cmd);
  }
  return bad_command("unknown command");
}

Step Session::bad_command(std::string_view reason) {
  ++bad_commands_;
  if (config_.max_bad_commands <= 0 ||
      bad_commands_ >= static_cast<uint64_t>(config_.max_bad_commands)) {
    state_ = State::kClosed;
    return Step{err_line("too many bad commands, closing connection"), Close{}};
  }
  return reply_only(err_line(reason));
}

std::optional<std::size_t> Session::message_index(std::string_view arg, Step& reply) {
  const std::optional<uint64_t> number = parse_decimal(arg);
  if (!number) {
    reply = bad_command("no such message");
    return std::nullopt;
  }
  if (*number == 0 || *number > list().size()) {
    reply = reply_only(err_line("no such message"));
    return std::nullopt;
  }
  const auto index = static_cast<std::size_t>(*number - 1);
  if (deleted_[index]) {
    reply = reply_only(err_line("message " + std::to_string(*number) + " already deleted"));
    return std::nullopt;
  }
  return index;
}

std::size_t Session::live_count() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < list().size(); ++i) n += deleted_[i] ? 0 : 1;
  return n;
}

uint64_t Session::live_octets() const {
  uint64_t total = 0;
  for (std::size_t i = 0; i < list().size(); ++i) total += deleted_[i] ? 0 : list()[i].size;
  return total;
}

std::string Session::maildrop_summary() const {
  return "maildrop has " + messages(live_count()) + " (" + std::to_string(live_octets()) + " octets)";
}

std::string Session::sign_off() const {
  std::string_view name = config_.banner;
  while (!name.empty() && (name.back() == ' ' || name.back() == '.' || name.back() == '!')) name.remove_suffix(1);
  if (ends_with_word_ci(name, "ready")) name.remove_suffix(5);
  while (!name.empty() && (name.back() == ' ' || name.back() == ',')) name.remove_suffix(1);
  return name.empty() ? std::string("signing off") : std::string(name) + " signing off";
}

// ---- AUTHORIZATION ----

Step Session::cmd_user(const Command& cmd) {
  if (cmd.raw_arg.empty()) return bad_command("USER needs a user name");
  if (!login_allowed()) {
    return reply_only(err_line("plaintext login is not allowed on an unencrypted connection; use STLS first",
                               RespCode::kAuth));
  }
  // Always +OK: the reply must not reveal whether the mailbox exists.
  pending_user_ = cmd.raw_arg;
  return reply_only(ok_line("send PASS"));
}

Step Session::cmd_pass(const Command& cmd) {
  if (!login_allowed()) {
    return reply_only(err_line("plaintext login is not allowed on an unencrypted connection; use STLS first",
                               RespCode::kAuth));
  }
  if (!pending_user_) return bad_command("send USER first");
  if (cmd.raw_arg.empty()) return bad_command("PASS needs a password");
  const std::string user_sent = *pending_user_;
  Result<storage::Address> address = storage::parse_address(user_sent, config_.alt_at_chars);
  pending_user_.reset();
  if (!address) {
    // Same reply as a wrong password (an unparsable login is a login that does not exist), and
    // counted like one.
    pending_address_.reset();
    return reject(user_sent, "USER", address.error().message);
  }
  pending_address_ = *address;
  state_ = State::kAwaitingLogin;
  return Step{"", Authenticate{std::move(*address), cmd.raw_arg}};
}

Step Session::reject(std::string user, std::string mechanism, std::string reason) {
  state_ = State::kAwaitingLogin;
  RejectLogin r{pending_address_, std::move(user), std::move(mechanism), std::move(reason)};
  return Step{"", std::move(r)};
}

// APOP name digest (RFC 1939 section 7): MD5(timestamp + password) proves the password.
Step Session::cmd_apop(const Command& cmd) {
  if (config_.apop_timestamp.empty()) return reply_only(err_line("APOP is not offered by this server", RespCode::kAuth));
  if (cmd.args.size() != 2) return bad_command("APOP needs a name and a digest");
  const std::string& digest = cmd.args[1];
  bool hex = digest.size() == 32;
  for (char c : digest) hex = hex && std::isxdigit(static_cast<unsigned char>(c));
  if (!hex) return bad_command("APOP digest must be 32 hex digits");
  pending_user_.reset();
  pending_address_.reset();
  Result<storage::Address> address = storage::parse_address(cmd.args[0], config_.alt_at_chars);
  if (!address) return reject(cmd.args[0], "APOP", address.error().message);
  pending_address_ = *address;
  apop_digest_ = digest;
  state_ = State::kAwaitingSecret;
  return Step{"", FetchSecret{std::move(*address), {auth::sasl::SecretKind::kPlaintextPassword}, "APOP"}};
}

Step Session::on_login_result(LoginOutcome outcome, std::vector<storage::MessageInfo> listing) {
  return on_login_result(outcome, std::make_shared<const std::vector<storage::MessageInfo>>(std::move(listing)));
}

const std::vector<storage::MessageInfo>& Session::list() const {
  static const std::vector<storage::MessageInfo> kNone;
  return listing_ ? *listing_ : kNone;
}

Step Session::on_login_result(LoginOutcome outcome, storage::Listing listing) {
  assert(state_ == State::kAwaitingLogin);
  if (outcome == LoginOutcome::kOk) {
    user_ = std::move(pending_address_);
    pending_address_.reset();
    listing_ = std::move(listing);
    deleted_.assign(list().size(), false);
    retrieved_.assign(list().size(), false);
    highest_accessed_ = 0;
    state_ = State::kTransaction;
    return reply_only(ok_line(maildrop_summary()));
  }
  // Any failure returns to AUTHORIZATION: the client may start again with USER.
  pending_address_.reset();
  pending_user_.reset();
  state_ = State::kAuthorization;
  const RespCode code = resp_code_for(outcome);
  switch (outcome) {
    case LoginOutcome::kAuthFailed: return reply_only(err_line("invalid user name or password", code));
    case LoginOutcome::kInUse: return reply_only(err_line("mailbox is locked by another session", code));
    case LoginOutcome::kLoginDelay:
      return reply_only(err_line("logins to this mailbox must be at least " + std::to_string(limits_.login_delay) +
                                     " seconds apart, try again later",
                                 code));
    case LoginOutcome::kOk:
    case LoginOutcome::kTemporary: break;
  }
  return reply_only(err_line("temporary failure, try again later", code));
}

Step Session::cmd_quit(const Command& cmd) {
  if (!cmd.args.empty()) return bad_command("QUIT takes no arguments");
  if (state_ == State::kAuthorization) {
    state_ = State::kClosed;
    return Step{ok_line(sign_off()), Close{}};
  }
  CommitDeletions commit;
  std::vector<bool> gone = deleted_;
  if (limits_.expire_days) {
    ExpiryPlan plan = plan_expiry(limits_.retrievals, list(), deleted_, retrieved_, now(), *limits_.expire_days);
    for (std::size_t i : plan.expired) gone[i] = true;
    commit.expired = plan.expired.size();
    if (plan.record != limits_.retrievals) commit.record = std::move(plan.record);
  }
  left_after_update_ = 0;
  for (std::size_t i = 0; i < gone.size(); ++i) {
    if (gone[i]) {
      commit.indexes.push_back(i);
    } else {
      ++left_after_update_;
    }
  }
  state_ = State::kUpdate;
  return Step{"", std::move(commit)};
}

Step Session::on_update_result(const Status& status) {
  assert(state_ == State::kUpdate);
  state_ = State::kClosed;
  if (!status) {
    return Step{err_line("some deleted messages not removed", RespCode::kSysTemp), Close{}};
  }
  return Step{ok_line(sign_off() + " (" + messages(left_after_update_) + " left)"), Close{}};
}

Step Session::cmd_capa(const Command& cmd) {
  if (!cmd.args.empty()) return bad_command("CAPA takes no arguments");
  std::string reply = ok_line("Capability list follows");
  // AUTH-RESP-CODE (RFC 3206): failed logins carry [AUTH] (or [SYS/TEMP], [IN-USE]).
  reply += "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n";
  // RFC 2449 sections 6.5 and 6.7: in AUTHORIZATION the service's values, "USER" because a mailbox may
  // have its own (shown after login). LOGIN-DELAY only when there is one; EXPIRE always.
  const bool before_login = state_ == State::kAuthorization;
  const int64_t delay = before_login ? config_.login_delay : limits_.login_delay;
  const std::optional<int64_t>& expire = before_login ? config_.expire_days : limits_.expire_days;
  const std::string per_user = before_login ? " USER" : "";
  if (delay > 0) reply += "LOGIN-DELAY " + std::to_string(delay) + per_user + "\r\n";
  reply += "EXPIRE " + (expire ? std::to_string(*expire) : std::string("NEVER")) + per_user + "\r\n";
  // RFC 6856: the UTF8 command, and UTF-8 user names and passwords in USER/PASS (and SASL).
  reply += "UTF8 USER\r\n";
  if (state_ == State::kAuthorization && login_allowed()) reply += "USER\r\n";
  if (state_ == State::kAuthorization && config_.stls_available && !secure_) reply += "STLS\r\n";
  if (state_ == State::kAuthorization) {
    std::string sasl;
    for (const auto& m : usable_mechanisms()) sasl += " " + m;
    if (!sasl.empty()) reply += "SASL" + sasl + "\r\n";
  }
  // "XTND XMIT" as qpopper and Eudora write it (two words: a capability with an argument).
  if (config_.xtnd_xmit) reply += "XTND XMIT\r\n";
  if (config_.capa_implementation) reply += "IMPLEMENTATION Mailroom\r\n";
  reply += ".\r\n";
  return reply_only(std::move(reply));
}

// RFC 6856 section 2: the client may now get UTF-8 in replies and headers. Mailroom never
// down-converts a message, and USER/PASS take UTF-8 with or without this command.
Step Session::cmd_utf8(const Command& cmd) {
  if (!cmd.args.empty()) return bad_command("UTF8 takes no arguments");
  utf8_ = true;
  return reply_only(ok_line("UTF8 enabled"));
}

Step Session::cmd_stls(const Command& cmd) {
  if (!cmd.args.empty()) return bad_command("STLS takes no arguments");
  if (secure_) return bad_command("TLS is already active");
  if (!config_.stls_available) return bad_command("STLS is not available");
  return Step{ok_line("Begin TLS negotiation"), StartTls{}};
}

void Session::on_tls_started() {
  secure_ = true;
  pending_user_.reset();
}

// ---- AUTH (RFC 5034) ----

std::vector<std::string> Session::usable_mechanisms() const {
  // PLAIN and LOGIN carry the password itself: offered where USER/PASS is. The others never
  // reveal it and are offered on any connection.
  std::vector<std::string> out;
  for (const auto& m : config_.sasl_mechanisms) {
    if ((m == "PLAIN" || m == "LOGIN") && !login_allowed()) continue;
    out.push_back(m);
  }
  return out;
}

std::unique_ptr<auth::sasl::AuthMechanism> Session::make_mechanism(const std::string& name) const {
  if (name == "PLAIN") return auth::sasl::make_plain();
  if (name == "LOGIN") return auth::sasl::make_login();
  if (name == "CRAM-MD5") {
    auth::sasl::CramMd5Options o;
    o.hostname = config_.hostname;
    o.challenge = config_.cram_md5_challenge;
    return auth::sasl::make_cram_md5(std::move(o));
  }
  if (name == "NTLM") {
    auth::sasl::NtlmOptions o;
    o.dns_computer = config_.hostname;
    o.server_challenge = config_.ntlm_server_challenge;
    o.allow_ntlmv1 = config_.ntlm_v1;
    return auth::sasl::make_ntlm(std::move(o));
  }
  if (name == "SCRAM-SHA-1" || name == "SCRAM-SHA-256") {
    auth::sasl::ScramOptions o;
    o.hash = name == "SCRAM-SHA-1" ? auth::sasl::ScramHash::kSha1 : auth::sasl::ScramHash::kSha256;
    o.server_nonce = config_.scram_server_nonce;
    return auth::sasl::make_scram(std::move(o));
  }
  return nullptr;
}

Step Session::cmd_auth(const Command& cmd) {
  const std::vector<std::string> usable = usable_mechanisms();
  if (cmd.args.empty()) {  // the RFC 1734 listing some clients still ask for
    if (!config_.auth_list_bare) return bad_command("AUTH needs a mechanism name");
    std::string text = ok_line("SASL mechanisms follow");
    for (const auto& m : usable) text += m + "\r\n";
    return reply_only(text + ".\r\n");
  }
  if (cmd.args.size() > 2) return bad_command("AUTH takes a mechanism and an optional initial response");
  std::string name = cmd.args[0];
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  bool offered = false;
  for (const auto& m : usable) offered = offered || m == name;
  if (offered) sasl_ = make_mechanism(name);
  if (!sasl_) {
    if (!login_allowed() && (name == "PLAIN" || name == "LOGIN")) {
      return reply_only(err_line("plaintext authentication is not allowed on an unencrypted connection; use STLS first",
                                 RespCode::kAuth));
    }
    return reply_only(err_line("unsupported authentication mechanism", RespCode::kAuth));
  }
  sasl_name_ = name;
  sasl_user_.clear();
  pending_user_.reset();
  pending_address_.reset();
  std::optional<std::string_view> initial;
  if (cmd.args.size() == 2) initial = cmd.args[1];
  return sasl_result(sasl_->start(initial));
}

Step Session::on_sasl_line(std::string_view line) {
  if (line == "*") {
    sasl_.reset();
    state_ = State::kAuthorization;
    return reply_only(err_line("authentication cancelled"));
  }
  return sasl_result(sasl_->step(line));
}

Step Session::sasl_result(auth::sasl::MechStep step) {
  if (auto* challenge = std::get_if<auth::sasl::Challenge>(&step)) {
    state_ = State::kSaslExchange;
    return reply_only("+ " + challenge->b64 + "\r\n");
  }
  if (auto* need = std::get_if<auth::sasl::NeedSecret>(&step)) {
    // NTLM clients may send the user and the domain apart ("alice" + "example.test").
    std::string user = need->authcid;
    if (!need->realm.empty() && user.find('@') == std::string::npos &&
        user.find_first_of(config_.alt_at_chars) == std::string::npos) {
      user += "@" + need->realm;
    }
    sasl_user_ = user;
    Result<storage::Address> address = storage::parse_address(user, config_.alt_at_chars);
    if (!address) return sasl_result(sasl_->provide_secret(std::nullopt));  // no such user
    pending_address_ = *address;
    state_ = State::kAwaitingSecret;
    return Step{"", FetchSecret{std::move(*address), need->accepted, sasl_name_}};
  }
  std::unique_ptr<auth::sasl::AuthMechanism> done = std::move(sasl_);
  state_ = State::kAuthorization;
  if (auto* verify = std::get_if<auth::sasl::VerifyPassword>(&step)) {
    Result<storage::Address> address = storage::parse_address(verify->authcid, config_.alt_at_chars);
    if (!address) return reject(verify->authcid, sasl_name_, address.error().message);
    pending_address_ = *address;
    state_ = State::kAwaitingLogin;
    return Step{"", Authenticate{std::move(*address), std::move(verify->password), sasl_name_}};
  }
  if (auto* success = std::get_if<auth::sasl::Success>(&step)) {
    if (!pending_address_) return reject(success->authcid, sasl_name_, "no address for a successful exchange");
    if (success->server_final_b64) {  // SCRAM: the client checks our proof before we say +OK
      state_ = State::kSaslFinal;
      return reply_only("+ " + *success->server_final_b64 + "\r\n");
    }
    state_ = State::kAwaitingLogin;
    return Step{"", Authenticate{*pending_address_, "", sasl_name_, true}};
  }
  auto* failure = std::get_if<auth::sasl::Failure>(&step);
  switch (failure->kind) {
    case auth::sasl::FailureKind::kCancelled: return reply_only(err_line("authentication cancelled"));
    case auth::sasl::FailureKind::kMalformed: return bad_command("malformed authentication data");
    case auth::sasl::FailureKind::kRejected: break;
  }
  return reject(sasl_user_, sasl_name_, failure->reason);
}

Step Session::on_secret(std::optional<auth::sasl::Secret> secret) {
  assert(state_ == State::kAwaitingSecret);
  if (apop_digest_) {
    std::string digest = std::move(*apop_digest_);
    apop_digest_.reset();
    state_ = State::kAuthorization;
    if (!secret) return reject(pending_address_ ? pending_address_->str() : "", "APOP", "no such mailbox or no APOP secret");
    if (!auth::sasl::apop_verify(config_.apop_timestamp, secret->value, digest)) {
      return reject(pending_address_->str(), "APOP", "wrong APOP digest");
    }
    state_ = State::kAwaitingLogin;
    return Step{"", Authenticate{*pending_address_, "", "APOP", true}};
  }
  state_ = State::kAuthorization;
  if (!sasl_) return reply_only(err_line("authentication failed", RespCode::kAuth));
  return sasl_result(sasl_->provide_secret(std::move(secret)));
}

Step Session::on_secret_error() {
  assert(state_ == State::kAwaitingSecret);
  sasl_.reset();
  apop_digest_.reset();
  pending_address_.reset();
  state_ = State::kAuthorization;
  return reply_only(err_line("temporary failure, try again later", RespCode::kSysTemp));
}

// ---- TRANSACTION ----

Step Session::cmd_stat(const Command& cmd) {
  if (!cmd.args.empty()) return bad_command("STAT takes no arguments");
  return reply_only(ok_line(std::to_string(live_count()) + " " + std::to_string(live_octets())));
}

Step Session::cmd_list(const Command& cmd) {
  if (cmd.args.size() > 1) return bad_command("LIST takes at most one argument");
  Step reply;
  if (cmd.args.size() == 1) {
    const std::optional<std::size_t> index = message_index(cmd.args[0], reply);
    if (!index) return reply;
    return reply_only(ok_line(std::to_string(*index + 1) + " " + std::to_string(list()[*index].size)));
  }
  std::string text = ok_line(messages(live_count()) + " (" + std::to_string(live_octets()) + " octets)");
  for (std::size_t i = 0; i < list().size(); ++i) {
    if (deleted_[i]) continue;
    text += std::to_string(i + 1) + " " + std::to_string(list()[i].size) + "\r\n";
  }
  text += ".\r\n";
  return reply_only(std::move(text));
}

Step Session::cmd_uidl(const Command& cmd) {
  if (cmd.args.size() > 1) return bad_command("UIDL takes at most one argument");
  Step reply;
  if (cmd.args.size() == 1) {
    const std::optional<std::size_t> index = message_index(cmd.args[0], reply);
    if (!index) return reply;
    return reply_only(ok_line(std::to_string(*index + 1) + " " + list()[*index].uid));
  }
  std::string text = ok_line("unique-id listing follows");
  for (std::size_t i = 0; i < list().size(); ++i) {
    if (deleted_[i]) continue;
    text += std::to_string(i + 1) + " " + list()[i].uid + "\r\n";
  }
  text += ".\r\n";
  return reply_only(std::move(text));
}

Step Session::cmd_retr(const Command& cmd) {
  if (cmd.args.size() != 1) return bad_command("RETR takes one message number");
  Step reply;
  const std::optional<std::size_t> index = message_index(cmd.args[0], reply);
  if (!index) return reply;
  state_ = State::kStreaming;
  streaming_index_ = *index;
  streaming_whole_ = true;
  return Step{"", StreamMessage{*index, std::nullopt, ok_line(std::to_string(list()[*index].size) + " octets")}};
}

Step Session::cmd_top(const Command& cmd) {
  if (cmd.args.size() != 2) return bad_command("TOP takes a message number and a line count");
  const std::optional<uint64_t> lines = parse_decimal(cmd.args[1]);
  if (!lines) return bad_command("invalid line count");
  Step reply;
  const std::optional<std::size_t> index = message_index(cmd.args[0], reply);
  if (!index) return reply;
  state_ = State::kStreaming;
  streaming_index_ = *index;
  streaming_whole_ = false;
  return Step{"", StreamMessage{*index, *lines, ok_line("top of message follows")}};
}

void Session::on_stream_done() {
  assert(state_ == State::kStreaming);
  if (state_ != State::kStreaming) return;
  state_ = State::kTransaction;
  if (streaming_whole_ && streaming_index_ < retrieved_.size()) retrieved_[streaming_index_] = true;
  highest_accessed_ = std::max(highest_accessed_, streaming_index_ + 1);
}

Step Session::on_stream_failed() {
  assert(state_ == State::kStreaming);
  if (state_ == State::kStreaming) state_ = State::kTransaction;
  // Not a bad command, and nothing the client can fix: another client removed the message, or
  // the file cannot be read now. The session goes on; QUIT still commits its DELEs.
  return reply_only(err_line("message " + std::to_string(streaming_index_ + 1) + " cannot be read now",
                             RespCode::kSysTemp));
}

Step Session::cmd_dele(const Command& cmd) {
  if (cmd.args.size() != 1) return bad_command("DELE takes one message number");
  Step reply;
  const std::optional<std::size_t> index = message_index(cmd.args[0], reply);
  if (!index) return reply;
  deleted_[*index] = true;
  return reply_only(ok_line("message " + std::to_string(*index + 1) + " deleted"));
}

Step Session::cmd_rset(const Command& cmd) {
  if (!cmd.args.empty()) return bad_command("RSET takes no arguments");
  deleted_.assign(list().size(), false);
  highest_accessed_ = 0;  // RFC 1460: RSET also resets LAST
  return reply_only(ok_line(maildrop_summary()));
}

// LAST (RFC 1460, dropped by RFC 1725): the highest message number sent by RETR or TOP this
// session (since the last RSET), 0 if none. Only with last_command on.
Step Session::cmd_last(const Command& cmd) {
  if (!cmd.args.empty()) return bad_command("LAST takes no arguments");
  return reply_only(ok_line(std::to_string(highest_accessed_)));
}

int64_t Session::now() const {
  if (config_.clock) return config_.clock();
  return static_cast<int64_t>(std::time(nullptr));
}

Step Session::cmd_noop(const Command& cmd) {
  if (!cmd.args.empty()) return bad_command("NOOP takes no arguments");
  return reply_only(ok_line(""));
}

// ---- XTND XMIT ----

Step Session::cmd_xtnd(const Command& cmd) {
  std::string sub = cmd.args.empty() ? "" : cmd.args[0];
  for (char& c : sub) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (sub != "XMIT") return bad_command("unknown XTND command");
  if (cmd.args.size() != 1) return bad_command("XTND XMIT takes no arguments");
  state_ = State::kXmitPreparing;
  return Step{"", PrepareXmit{}};
}

Step Session::on_xmit_ready(const Status& status) {
  assert(state_ == State::kXmitPreparing);
  if (!status) {
    state_ = State::kTransaction;
    return reply_only(err_line("cannot take a message now, try again later", RespCode::kSysTemp));
  }
  state_ = State::kXmitData;
  xmit_header_.emplace(config_.xmit_max_header_size);
  return Step{ok_line("Start sending message, end with a line containing only '.'"),
              ReceiveXmit{config_.max_message_size, config_.xmit_max_line_length}};
}

bool Session::on_xmit_line(std::string_view line) {
  if (state_ != State::kXmitData || !xmit_header_) return false;
  return xmit_header_->feed(line);
}

Step Session::on_xmit_end(const core::BodySummary& summary) {
  assert(state_ == State::kXmitData);
  state_ = State::kTransaction;
  const delivery::HeaderScanner header = std::move(*xmit_header_);
  xmit_header_.reset();
  auto refuse = [](std::string text, RespCode code = RespCode::kNone) {
    return Step{err_line(text, code), DiscardXmit{}};
  };
  if (summary.over_size) {
    return refuse("message too big: at most " + std::to_string(config_.max_message_size) + " octets", RespCode::kSysPerm);
  }
  if (summary.long_lines > 0) {
    return refuse("message has a line longer than " + std::to_string(config_.xmit_max_line_length) + " octets",
                  RespCode::kSysPerm);
  }
  if (header.overflow()) {
    return refuse("address fields longer than " + std::to_string(config_.xmit_max_header_size) + " octets",
                  RespCode::kSysPerm);
  }
  SendXmit send{*user_, {}, summary.octets};
  std::vector<delivery::AddrSpec> from;
  std::size_t from_fields = 0;
  for (const auto& field : header.fields()) {
    auto list = delivery::parse_address_list(field.body);
    if (!list) return refuse("invalid address in " + field.name + ": " + list.error().message);
    if (field.name == "from") {
      ++from_fields;
      from.insert(from.end(), list->begin(), list->end());
      continue;
    }
    for (auto& spec : *list) {
      bool seen = false;
      for (const auto& r : send.recipients) seen = seen || r.same_as(spec);
      if (!seen) send.recipients.push_back(std::move(spec));
    }
  }
  if (!config_.xtnd_xmit_any_sender) {
    if (from_fields != 1 || from.size() != 1) {
      return refuse("the message needs one From address: " + user_->str());
    }
    const Result<storage::Address> sender = storage::parse_address(from.front().str());
    if (!sender || !(*sender == *user_)) {
      return refuse("From must be " + user_->str() + ", not " + from.front().str());
    }
  }
  if (send.recipients.empty()) return refuse("no recipients: the message has no To, Cc or Bcc address");
  state_ = State::kXmitSending;
  return Step{"", std::move(send)};
}

Step Session::on_xmit_result(const XmitResult& result) {
  assert(state_ == State::kXmitSending);
  state_ = State::kTransaction;
  switch (result.outcome) {
    case XmitOutcome::kSent: {
      std::string text = "message sent";
      if (result.local > 0) text += ", delivered to " + std::to_string(result.local) + (result.local == 1 ? " mailbox" : " mailboxes");
      if (result.queued > 0) text += ", queued for " + std::to_string(result.queued) + (result.queued == 1 ? " remote recipient" : " remote recipients");
      return reply_only(ok_line(text));
    }
    case XmitOutcome::kUnknownRecipient:
      return reply_only(err_line("no such mailbox: " + result.recipient + "; nothing sent"));
    case XmitOutcome::kDisabledRecipient:
      return reply_only(err_line("mailbox disabled: " + result.recipient + "; nothing sent"));
    case XmitOutcome::kNoSmarthost:
      return reply_only(err_line("remote recipient " + result.recipient + " not allowed: no smarthost configured; nothing sent"));
    case XmitOutcome::kOverQuota:  // worded as SMTP's 552 5.2.2 ("<rcpt>: mailbox full: ...")
      return reply_only(err_line(result.recipient + ": " + (result.detail.empty() ? "mailbox full" : result.detail) +
                                 "; nothing sent"));
    case XmitOutcome::kTemporary: break;
  }
  return reply_only(err_line("message not sent: temporary failure, try again later", RespCode::kSysTemp));
}

const char* state_name(State state) {
  switch (state) {
    case State::kAuthorization:
    case State::kSaslExchange:
    case State::kSaslFinal:
    case State::kAwaitingSecret:
    case State::kAwaitingLogin: return "AUTHORIZATION";
    case State::kTransaction:
    case State::kStreaming:
    case State::kXmitPreparing:
    case State::kXmitData:
    case State::kXmitSending: return "TRANSACTION";
    case State::kUpdate: return "UPDATE";
    case State::kClosed: return "closed";
  }
  return "closed";
}

std::string Session::loggable_line(std::string_view line) const {
  if (state_ == State::kSaslExchange || state_ == State::kSaslFinal) return log::redact_after(line, 0);
  const std::string_view verb = log::first_word(line);
  if (!is_secret_command(verb)) return std::string(line);
  // AUTH keeps its mechanism's name (no secret); PASS and APOP keep nothing.
  std::string upper(verb);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return log::redact_after(line, upper == "AUTH" ? 2 : 1);
}

}  // namespace mailroom::pop3
