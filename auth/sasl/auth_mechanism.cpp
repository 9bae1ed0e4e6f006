// Shared pieces of the SASL mechanisms: client-data decoding and the default provide_secret().
#include "auth/sasl/auth_mechanism.h"

#include "auth/sasl/base64.h"

namespace mailroom::auth::sasl {

MechStep AuthMechanism::provide_secret(std::optional<Secret> /*secret*/) {
  return Failure{FailureKind::kMalformed, std::string(name()) + " did not ask for a secret"};
}

std::variant<std::string, Failure> decode_client_data(std::string_view b64, bool allow_equals) {
  if (b64 == "*") return Failure{FailureKind::kCancelled, "client cancelled the exchange"};
  if (allow_equals && b64 == "=") return std::string();
  auto decoded = base64_decode(b64);
  if (!decoded) return Failure{FailureKind::kMalformed, decoded.error().message};
  return std::move(decoded).value();
}

}  // namespace mailroom::auth::sasl
