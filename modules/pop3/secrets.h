// Which password-derived secrets the POP3 mechanisms need, and deriving them. The account store
// keeps them opaque (storage::StoredSecret); this file is the one place that knows what each
// kind is, which mechanism needs it and which settings enable that mechanism.
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

#include "core/config/setting_spec.h"
#include "modules/pop3/sasl/auth_mechanism.h"
#include "storage/account_store.h"

namespace mailroom::pop3 {

inline constexpr std::string_view kSecretScramSha256 = "scram-sha-256";
inline constexpr std::string_view kSecretScramSha1 = "scram-sha-1";
inline constexpr std::string_view kSecretCramMd5 = "cram-md5";
inline constexpr std::string_view kSecretNtHash = "nt-hash";
inline constexpr std::string_view kSecretPlaintext = "plaintext";

std::string_view secret_kind_name(sasl::SecretKind kind);
std::optional<sasl::SecretKind> secret_kind_from_name(std::string_view name);
bool is_plaintext_equivalent(std::string_view kind_name);

// The kinds one POP3 service with these settings needs: the SCRAM keys always; cram-md5 when
// auth_mechanisms has CRAM-MD5; nt-hash when it has NTLM; plaintext when apop is on.
std::set<std::string> wanted_secret_kinds(const config::ServiceSettings& settings);

// The kinds the mechanisms this service offers right now need (SCRAM keys only when a SCRAM
// mechanism is in auth_mechanisms): what a login with the password fills in when missing, so a
// service that offers none of them pays nothing extra per login.
std::set<std::string> needed_secret_kinds(const config::ServiceSettings& settings);

// Derives `kinds` from the password. Slow (SCRAM runs PBKDF2): call it off the event loop.
std::vector<storage::StoredSecret> derive_secrets(std::string_view password, const std::set<std::string>& kinds);

// The mechanisms a mailbox holding secrets of `kinds` can log in with, besides USER/PASS,
// PLAIN and LOGIN (which use the password hash): e.g. {"APOP", "CRAM-MD5", "SCRAM-SHA-256"}.
std::vector<std::string> mechanisms_for_secrets(const std::vector<std::string>& kinds);

}  // namespace mailroom::pop3
