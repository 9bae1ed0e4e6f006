// Password hashing (argon2id for new passwords) and verification of imported hashes: argon2id,
// SHA-crypt, bcrypt, MD5-crypt (libxcrypt) and Dovecot's {SSHA*} and {PLAIN-MD5} (OpenSSL).
// Every function is thread-safe and slow by design: call it off the event loop.
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"

namespace mailroom::storage::password {

// Names stored in mailboxes.password_scheme.
inline constexpr std::string_view kSchemeArgon2id = "argon2id";
inline constexpr std::string_view kSchemeSha512Crypt = "sha512-crypt";
inline constexpr std::string_view kSchemeSha256Crypt = "sha256-crypt";
inline constexpr std::string_view kSchemeBcrypt = "bcrypt";        // $2a$ $2b$ $2y$ ({BLF-CRYPT})
inline constexpr std::string_view kSchemeMd5Crypt = "md5-crypt";   // $1$ ({MD5-CRYPT})
inline constexpr std::string_view kSchemeSsha = "ssha";            // {SSHA}base64(SHA1(pw||salt)||salt)
inline constexpr std::string_view kSchemeSsha256 = "ssha256";      // {SSHA256}...
inline constexpr std::string_view kSchemeSsha512 = "ssha512";      // {SSHA512}...
inline constexpr std::string_view kSchemePlainMd5 = "plain-md5";   // {PLAIN-MD5}hex or base64 of MD5(pw)

// Highest bcrypt cost accepted on import (2^15 rounds, about 2 s a login): a hash is verified on
// every login, so a hostile or mistaken import must not make each one cost minutes.
inline constexpr int kMaxImportBcryptCost = 15;

// POP3 cannot carry longer passwords or these bytes, so we refuse to store them.
inline constexpr size_t kMaxPasswordBytes = 1024;

struct StoredHash {
  std::string scheme;  // one of the kScheme* names
  // The self-describing hash string: "$argon2id$...", "$6$...", "$5$...", "$2y$...", "$1$...",
  // "{SSHA}...", "{SSHA256}...", "{SSHA512}...", "{PLAIN-MD5}..." (the {..} prefix upper case).
  std::string stored;
};

// kInvalidArgument if the password is empty, longer than kMaxPasswordBytes, or has NUL/CR/LF.
Status check_password(std::string_view plaintext);

// argon2id, t=2, m=19456 KiB, p=1, 16-byte random salt, 32-byte hash; returns the encoded string.
Result<std::string> hash_password(std::string_view plaintext);

// True if `plaintext` matches `stored` (scheme taken from the stored string's prefix, see
// StoredHash::stored). Digests are compared in constant time. Unknown or malformed hashes give false.
bool verify_password(std::string_view plaintext, std::string_view stored);

// The scheme name of a stored hash string, or "" if it is none we verify.
std::string_view scheme_of(std::string_view stored);

// Accepts an imported hash as Dovecot writes it (`doveadm pw -s SCHEME`), or the bare crypt string:
// "{SHA512-CRYPT}$6$...", "$6$...", "{SHA256-CRYPT}$5$...", "$5$...", "$argon2id$v=19$...",
// "{ARGON2ID}$argon2id$...", "{BLF-CRYPT}$2y$...", "$2a$/$2b$/$2y$...", "{MD5-CRYPT}$1$...",
// "$1$...", "{CRYPT}" before any of those crypt strings, "{SSHA}B64", "{SSHA256}B64",
// "{SSHA512}B64" (base64 of digest || salt, salt at least 1 byte), "{PLAIN-MD5}HEX32" or
// "{PLAIN-MD5}B64" (Dovecot reads both). The {SCHEME} name is case-insensitive. Checks its shape;
// kInvalidArgument otherwise.
Result<StoredHash> parse_imported_hash(std::string_view text);

// A fixed argon2id hash with the default parameters, verified against when the mailbox is
// unknown so that a login attempt costs the same whether or not the mailbox exists.
const std::string& dummy_hash();

}  // namespace mailroom::storage::password
