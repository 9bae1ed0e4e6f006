// Small crypto helpers shared by the SASL mechanisms: MD4 and resumable MD5 (our own, because
// OpenSSL 3 hides MD4 in the legacy provider and exposes no MD5 midstate), HMAC/hash over EVP,
// constant-time comparison, hex, random bytes and the UTF-16LE conversions NTLM needs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailroom::auth::sasl::crypto {

enum class Hash { kMd5, kSha1, kSha256 };

std::size_t hash_size(Hash hash);
std::string hash(Hash hash, std::string_view data);
std::string hmac(Hash hash, std::string_view key, std::string_view data);

// RFC 1320. 16 raw bytes.
std::string md4(std::string_view data);

// MD5 (RFC 1321) whose chaining state can be saved after whole 64-byte blocks and resumed: the
// Dovecot CRAM-MD5 verifier is exactly the two HMAC-MD5 states after the ipad/opad blocks.
class Md5 {
 public:
  using State = std::array<uint32_t, 4>;
  Md5();
  // Resumes from `state`, as if `bytes_done` (a multiple of 64) bytes had already been hashed.
  Md5(const State& state, uint64_t bytes_done);
  void update(std::string_view data);
  std::string finish();  // 16 raw bytes; the object must not be used afterwards
  // Valid only when the bytes hashed so far are a multiple of 64.
  const State& state() const { return state_; }

 private:
  void block(const unsigned char* p);
  State state_;
  uint64_t length_ = 0;
  std::array<unsigned char, 64> buffer_{};
  std::size_t buffered_ = 0;
};

// CRYPTO_memcmp; different lengths compare unequal (the length is not secret).
bool equal_ct(std::string_view a, std::string_view b);

std::string to_hex(std::string_view bytes);  // lowercase
// Upper or lower case accepted; nullopt for odd length or a non-hex digit.
std::optional<std::string> from_hex(std::string_view hex);

// RAND_bytes; aborts the process if the CSPRNG fails (nothing sane to do without it).
std::string random_bytes(std::size_t n);

// UTF-8 -> UTF-16LE bytes; nullopt for malformed UTF-8.
std::optional<std::string> utf8_to_utf16le(std::string_view utf8);
// UTF-16LE bytes -> UTF-8; nullopt for odd length or unpaired surrogates.
std::optional<std::string> utf16le_to_utf8(std::string_view utf16);

}  // namespace mailroom::auth::sasl::crypto
