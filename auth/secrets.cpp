// Secret kinds of the login mechanisms: names, which offered mechanisms need them, derivation.
#include "auth/secrets.h"

#include "auth/sasl/cram_md5.h"
#include "auth/sasl/crypto.h"
#include "auth/sasl/ntlm.h"
#include "auth/sasl/saslprep.h"
#include "auth/sasl/scram.h"

namespace mailroom::auth {

std::string_view secret_kind_name(sasl::SecretKind kind) {
  switch (kind) {
    case sasl::SecretKind::kPlaintextPassword: return kSecretPlaintext;
    case sasl::SecretKind::kCramMd5Contexts: return kSecretCramMd5;
    case sasl::SecretKind::kScramSha1: return kSecretScramSha1;
    case sasl::SecretKind::kScramSha256: return kSecretScramSha256;
    case sasl::SecretKind::kNtHash: return kSecretNtHash;
  }
  return kSecretPlaintext;
}

std::optional<sasl::SecretKind> secret_kind_from_name(std::string_view name) {
  for (auto kind : {sasl::SecretKind::kPlaintextPassword, sasl::SecretKind::kCramMd5Contexts,
                    sasl::SecretKind::kScramSha1, sasl::SecretKind::kScramSha256, sasl::SecretKind::kNtHash}) {
    if (secret_kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

std::vector<std::string> plaintext_equivalent_kinds() {
  return {std::string(kSecretCramMd5), std::string(kSecretNtHash), std::string(kSecretPlaintext)};
}

bool is_plaintext_equivalent(std::string_view kind_name) {
  for (const auto& kind : plaintext_equivalent_kinds()) {
    if (kind == kind_name) return true;
  }
  return false;
}

namespace {
bool offers(const LoginOffer& offer, std::string_view mechanism) {
  for (const auto& m : offer.mechanisms) {
    if (m == mechanism) return true;
  }
  return false;
}
}  // namespace

std::set<std::string> wanted_secret_kinds(const LoginOffer& offer) {
  std::set<std::string> kinds{std::string(kSecretScramSha256), std::string(kSecretScramSha1)};
  if (offers(offer, "CRAM-MD5")) kinds.insert(std::string(kSecretCramMd5));
  if (offers(offer, "NTLM")) kinds.insert(std::string(kSecretNtHash));
  if (offer.apop) kinds.insert(std::string(kSecretPlaintext));
  return kinds;
}

std::set<std::string> needed_secret_kinds(const LoginOffer& offer) {
  std::set<std::string> kinds = wanted_secret_kinds(offer);
  if (!offers(offer, "SCRAM-SHA-256")) kinds.erase(std::string(kSecretScramSha256));
  if (!offers(offer, "SCRAM-SHA-1")) kinds.erase(std::string(kSecretScramSha1));
  return kinds;
}

std::vector<storage::StoredSecret> derive_secrets(std::string_view password, const std::set<std::string>& kinds) {
  std::vector<storage::StoredSecret> out;
  // SCRAM's SaltedPassword is Hi(Normalize(password), ...) (RFC 5802 section 3): SASLprep as a
  // stored string. A password SASLprep refuses gets no SCRAM keys (no client could log in with
  // them); printable ASCII is unchanged, so keys derived before SASLprep stay valid.
  const Result<std::string> scram_password = sasl::saslprep(password, sasl::SaslprepUse::kStoredString);
  for (const auto& kind : kinds) {
    storage::StoredSecret s{kind, {}, is_plaintext_equivalent(kind)};
    if (kind == kSecretScramSha256 || kind == kSecretScramSha1) {
      if (!scram_password) continue;
      const auto hash = kind == kSecretScramSha256 ? sasl::ScramHash::kSha256 : sasl::ScramHash::kSha1;
      s.value = sasl::scram_encode(sasl::scram_make_keys(*scram_password, hash));
    } else if (kind == kSecretCramMd5) {
      s.value = sasl::cram_md5_contexts(password);
    } else if (kind == kSecretNtHash) {
      s.value = sasl::ntlm_nt_hash(password);
    } else if (kind == kSecretPlaintext) {
      s.value = std::string(password);
    } else {
      continue;  // a kind this build does not know
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> mechanisms_for_secrets(const std::vector<std::string>& kinds) {
  std::vector<std::string> out;
  auto has = [&kinds](std::string_view k) {
    for (const auto& x : kinds) {
      if (x == k) return true;
    }
    return false;
  };
  if (has(kSecretPlaintext)) out.push_back("APOP");
  if (has(kSecretCramMd5) || has(kSecretPlaintext)) out.push_back("CRAM-MD5");
  if (has(kSecretNtHash) || has(kSecretPlaintext)) out.push_back("NTLM");
  if (has(kSecretScramSha1)) out.push_back("SCRAM-SHA-1");
  if (has(kSecretScramSha256)) out.push_back("SCRAM-SHA-256");
  return out;
}

}  // namespace mailroom::auth
