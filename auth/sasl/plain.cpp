// SASL PLAIN (RFC 4616): "[authzid] NUL authcid NUL passwd" in one message.
#include <utility>

#include "auth/sasl/auth_mechanism.h"

namespace mailroom::auth::sasl {

namespace {

class PlainMechanism final : public AuthMechanism {
 public:
  explicit PlainMechanism(PlainOptions options) : options_(options) {}

  std::string_view name() const override { return "PLAIN"; }
  bool needs_tls_by_default() const override { return true; }

  MechStep start(std::optional<std::string_view> initial) override {
    if (state_ != State::kStart) return finished();
    if (!initial) {
      state_ = State::kWaiting;
      return Challenge{""};
    }
    return finish(*initial, true);
  }

  MechStep step(std::string_view line) override {
    if (state_ != State::kWaiting) return finished();
    return finish(line, false);
  }

 private:
  enum class State { kStart, kWaiting, kDone };

  MechStep finished() {
    state_ = State::kDone;
    return Failure{FailureKind::kMalformed, "PLAIN exchange already finished"};
  }

  MechStep finish(std::string_view b64, bool initial) {
    state_ = State::kDone;
    auto decoded = decode_client_data(b64, initial);
    if (auto* f = std::get_if<Failure>(&decoded)) return std::move(*f);
    const std::string& msg = std::get<std::string>(decoded);
    const auto nul1 = msg.find('\0');
    const auto nul2 = nul1 == std::string::npos ? std::string::npos : msg.find('\0', nul1 + 1);
    if (nul2 == std::string::npos || msg.find('\0', nul2 + 1) != std::string::npos) {
      return Failure{FailureKind::kMalformed, "PLAIN message needs exactly two NUL separators"};
    }
    VerifyPassword out;
    out.authzid = msg.substr(0, nul1);
    out.authcid = msg.substr(nul1 + 1, nul2 - nul1 - 1);
    out.password = msg.substr(nul2 + 1);
    if (out.authcid.empty()) return Failure{FailureKind::kMalformed, "PLAIN authcid is empty"};
    if (out.password.empty()) return Failure{FailureKind::kMalformed, "PLAIN password is empty"};
    // RFC 4616 section 2: an authzid equal to the authcid is the same as none.
    if (!out.authzid.empty() && out.authzid != out.authcid && !options_.allow_authzid) {
      return Failure{FailureKind::kRejected,
                     "PLAIN authzid '" + out.authzid + "' differs from authcid '" + out.authcid + "'"};
    }
    if (out.authzid == out.authcid) out.authzid.clear();
    return out;
  }

  PlainOptions options_;
  State state_ = State::kStart;
};

}  // namespace

std::unique_ptr<AuthMechanism> make_plain(PlainOptions options) {
  return std::make_unique<PlainMechanism>(options);
}

}  // namespace mailroom::auth::sasl
