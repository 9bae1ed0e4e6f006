// SecretBox: encryption at rest of plaintext-equivalent secrets (AES-256-GCM, OpenSSL EVP) with
// the 32-byte key in DATA/secrets.key. It protects a copied database, not a copied data dir.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace mailroom::storage {

class SecretBox {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kNonceBytes = 12;
  static constexpr size_t kTagBytes = 16;
  // The stored form: kPrefix + base64(nonce | ciphertext | tag).
  static constexpr std::string_view kPrefix = "enc1:";
  static constexpr std::string_view kKeyFileName = "secrets.key";

  // Reads the key at `key_path`. kNotFound if it does not exist; kPermanent if it is not a regular
  // file, has the wrong size, or can be read by group or others (the message says how to fix it).
  static Result<SecretBox> load(const std::string& key_path);
  // As load(), but creates a fresh random key (mode 0600) when the file does not exist. Safe
  // against a concurrent creator: the key appears atomically (written aside, then link()ed into
  // place, which fails if the name exists), and the loser of the race reads the winner's key.
  static Result<SecretBox> load_or_create(const std::string& key_path);
  // A box over a given key (tests).
  static SecretBox from_key(const std::array<unsigned char, kKeyBytes>& key) { return SecretBox(key); }

  SecretBox(SecretBox&& other) noexcept;
  SecretBox& operator=(SecretBox&& other) noexcept;
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;
  ~SecretBox();  // wipes the key

  // Encrypts `plaintext` with a fresh random nonce; `aad` is authenticated, not stored (the
  // caller passes the same context to open()). kInternal only if OpenSSL fails.
  Result<std::string> seal(std::string_view plaintext, std::string_view aad) const;
  // Decrypts a value seal() produced with the same key and `aad`. kInvalidArgument when it is not
  // in the stored form, kPermanent when authentication fails (other key, altered value, or a
  // value moved to another mailbox or kind). The message never contains the value.
  Result<std::string> open(std::string_view stored, std::string_view aad) const;

  // SHA-256 of the key, lowercase hex: names the key (e.g. in a shared database, so that every
  // node of a cluster can check it has the same one) without revealing it.
  std::string fingerprint() const;

  static bool is_sealed(std::string_view stored) { return stored.substr(0, kPrefix.size()) == kPrefix; }

 private:
  explicit SecretBox(const std::array<unsigned char, kKeyBytes>& key) : key_(key) {}
  std::array<unsigned char, kKeyBytes> key_{};
};

// DATA_DIR/secrets.key.
std::string secret_key_path(const std::string& data_dir);

// The authenticated context of a stored secret: binds it to its mailbox row and kind, so a value
// copied to another row fails to decrypt.
std::string secret_aad(int64_t mailbox_id, std::string_view kind);

}  // namespace mailroom::storage
