// CRAM-MD5 (RFC 2195): the server sends "<random.timestamp@host>", the client answers
// "user HMAC-MD5(password, challenge) in hex". Verified from the password or from the
// precomputed HMAC-MD5 contexts Dovecot stores as "{CRAM-MD5}<64 hex>".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/sasl/auth_mechanism.h"

namespace mailroom::auth::sasl {

struct CramMd5Options {
  std::string hostname = "localhost";  // goes after the '@' of the challenge
  // Fixed challenge for tests; empty means "<random hex.unix time@hostname>".
  std::string challenge;
};

std::unique_ptr<AuthMechanism> make_cram_md5(CramMd5Options options);

// The HMAC-MD5 key-schedule state for `password`: the MD5 chaining values after the opad block
// then after the ipad block, each as four little-endian 32-bit words, as 64 lowercase hex digits
// (Dovecot's hmac_md5_get_cram_context layout). It answers every future challenge, so it is a
// plaintext equivalent for CRAM-MD5: store it only where CRAM-MD5 is enabled.
std::string cram_md5_contexts(std::string_view password);

// HMAC-MD5(password, challenge) computed from stored contexts; nullopt if `contexts_hex` is not
// 64 hex digits. 16 raw bytes.
std::optional<std::string> cram_md5_digest_from_contexts(std::string_view contexts_hex,
                                                         std::string_view challenge);

}  // namespace mailroom::auth::sasl
