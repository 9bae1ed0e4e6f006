// Which password-derived secrets the login mechanisms need, and deriving them. The account store
// keeps them opaque (storage::StoredSecret); this file is the one place that knows what each
// kind is and which mechanism needs it. It reads no settings: a module says what it offers
// (LoginOffer) and gets the kinds back.
//
//   kind            value (see sasl/*.h)                       needed by            plaintext-equivalent
//   scram-sha-256   "SCRAM-SHA-256$iter:salt$StoredKey:ServerKey"  SCRAM-SHA-256     no (always stored)
//   scram-sha-1     "SCRAM-SHA-1$..."                               SCRAM-SHA-1       no (always stored)
//   cram-md5        64 hex digits (HMAC-MD5 contexts)              CRAM-MD5          yes
//   nt-hash         32 hex digits, MD4(UTF-16LE(password))          NTLM              yes
//   plaintext       the password                                   APOP              yes
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sasl/auth_mechanism.h"
#include "storage/account_store.h"

namespace mailroom::auth {

inline constexpr std::string_view kSecretScramSha256 = "scram-sha-256";
inline constexpr std::string_view kSecretScramSha1 = "scram-sha-1";
inline constexpr std::string_view kSecretCramMd5 = "cram-md5";
inline constexpr std::string_view kSecretNtHash = "nt-hash";
inline constexpr std::string_view kSecretPlaintext = "plaintext";

std::string_view secret_kind_name(sasl::SecretKind kind);
std::optional<sasl::SecretKind> secret_kind_from_name(std::string_view name);
bool is_plaintext_equivalent(std::string_view kind_name);
// Every plaintext-equivalent kind (what mailctl deletes when no service wants it any more).
std::vector<std::string> plaintext_equivalent_kinds();

// What one service offers for logins, as its module reads it from its settings (pop3:
// auth_mechanisms and apop).
struct LoginOffer {
  std::vector<std::string> mechanisms;  // SASL mechanism names, upper case (e.g. PLAIN, CRAM-MD5)
  bool apop = false;                    // APOP (RFC 1939) is accepted
};

// The kinds a service offering this needs stored: the SCRAM keys always; cram-md5 when the
// mechanisms have CRAM-MD5; nt-hash when they have NTLM; plaintext when APOP is on.
std::set<std::string> wanted_secret_kinds(const LoginOffer& offer);

// The kinds the mechanisms offered right now need (SCRAM keys only when a SCRAM mechanism is
// offered): what a login with the password fills in when missing, so a service that offers none
// of them pays nothing extra per login.
std::set<std::string> needed_secret_kinds(const LoginOffer& offer);

// Derives `kinds` from the password. Slow (SCRAM runs PBKDF2): call it off the event loop. The
// SCRAM keys come from the SASLprep'ed password (sasl/saslprep.h, as a stored string); a password
// SASLprep refuses gets none (`mailctl mailbox show` then lists no SCRAM mechanism); the other
// kinds are derived from the octets as given.
std::vector<storage::StoredSecret> derive_secrets(std::string_view password, const std::set<std::string>& kinds);

// The mechanisms a mailbox holding secrets of `kinds` can log in with, besides USER/PASS,
// PLAIN and LOGIN (which use the password hash): e.g. {"APOP", "CRAM-MD5", "SCRAM-SHA-256"}.
std::vector<std::string> mechanisms_for_secrets(const std::vector<std::string>& kinds);

}  // namespace mailroom::auth
