// Password hashing (argon2id for new passwords) and verification of imported crypt/argon2 hashes.
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

// POP3 cannot carry longer passwords or these bytes, so we refuse to store them.
inline constexpr size_t kMaxPasswordBytes = 1024;

struct StoredHash {
  std::string scheme;  // one of the kScheme* names
  std::string stored;  // the self-describing hash string ("$argon2id$...", "$6$...", "$5$...")
};

// kInvalidArgument if the password is empty, longer than kMaxPasswordBytes, or has NUL/CR/LF.
Status check_password(std::string_view plaintext);

// argon2id, t=2, m=19456 KiB, p=1, 16-byte random salt, 32-byte hash; returns the encoded string.
Result<std::string> hash_password(std::string_view plaintext);

// True if `plaintext` matches `stored` (scheme taken from the stored string's prefix: argon2id,
// SHA512-CRYPT or SHA256-CRYPT). Unknown or malformed schemes give false.
bool verify_password(std::string_view plaintext, std::string_view stored);

// The scheme name of a stored hash string, or "" if it is none we verify.
std::string_view scheme_of(std::string_view stored);

// Accepts an imported hash: "{SHA512-CRYPT}$6$...", "$6$...", "{SHA256-CRYPT}$5$...", "$5$...",
// "$argon2id$v=19$...", "{ARGON2ID}$argon2id$...". Checks its shape; kInvalidArgument otherwise.
Result<StoredHash> parse_imported_hash(std::string_view text);

// A fixed argon2id hash with the default parameters, verified against when the mailbox is
// unknown so that a login attempt costs the same whether or not the mailbox exists.
const std::string& dummy_hash();

}  // namespace mailroom::storage::password
