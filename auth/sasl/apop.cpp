// APOP digest check against the greeting timestamp.
#include "auth/sasl/apop.h"

#include "auth/sasl/crypto.h"

namespace mailroom::auth::sasl {

std::string apop_digest(std::string_view timestamp, std::string_view password) {
  return crypto::to_hex(crypto::hash(crypto::Hash::kMd5, std::string(timestamp) + std::string(password)));
}

bool apop_verify(std::string_view timestamp, std::string_view password, std::string_view digest_hex) {
  auto client = crypto::from_hex(digest_hex);
  if (!client || client->size() != 16) return false;
  return crypto::equal_ct(crypto::hash(crypto::Hash::kMd5, std::string(timestamp) + std::string(password)), *client);
}

}  // namespace mailroom::auth::sasl
