// SASL LOGIN (draft-murchison-sasl-login): "Username:" then "Password:" challenges, as Outlook
// and older clients speak it. An initial response, if sent, is the username.
#include <utility>

#include "auth/sasl/auth_mechanism.h"
#include "auth/sasl/base64.h"

namespace mailroom::auth::sasl {

namespace {

class LoginMechanism final : public AuthMechanism {
 public:
  std::string_view name() const override { return "LOGIN"; }
  bool needs_tls_by_default() const override { return true; }

  MechStep start(std::optional<std::string_view> initial) override {
    if (state_ != State::kStart) return done();
    if (!initial) {
      state_ = State::kUsername;
      return Challenge{base64_encode("Username:")};
    }
    state_ = State::kUsername;
    return take_username(*initial, true);
  }

  MechStep step(std::string_view line) override {
    if (state_ == State::kUsername) return take_username(line, false);
    if (state_ != State::kPassword) return done();
    state_ = State::kDone;
    auto decoded = decode_client_data(line, false);
    if (auto* f = std::get_if<Failure>(&decoded)) return std::move(*f);
    std::string password = std::move(std::get<std::string>(decoded));
    if (password.empty() || password.find('\0') != std::string::npos) {
      return Failure{FailureKind::kMalformed, "LOGIN password is empty or has NUL"};
    }
    return VerifyPassword{std::move(username_), "", std::move(password)};
  }

 private:
  enum class State { kStart, kUsername, kPassword, kDone };

  MechStep done() {
    state_ = State::kDone;
    return Failure{FailureKind::kMalformed, "LOGIN exchange already finished"};
  }

  MechStep take_username(std::string_view b64, bool initial) {
    auto decoded = decode_client_data(b64, initial);
    if (auto* f = std::get_if<Failure>(&decoded)) {
      state_ = State::kDone;
      return std::move(*f);
    }
    username_ = std::move(std::get<std::string>(decoded));
    if (username_.empty() || username_.find('\0') != std::string::npos) {
      state_ = State::kDone;
      return Failure{FailureKind::kMalformed, "LOGIN username is empty or has NUL"};
    }
    state_ = State::kPassword;
    return Challenge{base64_encode("Password:")};
  }

  State state_ = State::kStart;
  std::string username_;
};

}  // namespace

std::unique_ptr<AuthMechanism> make_login() { return std::make_unique<LoginMechanism>(); }

}  // namespace mailroom::auth::sasl
