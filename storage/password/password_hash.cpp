// Password hashing with libargon2; verification of crypt hashes (SHA-crypt, bcrypt, MD5-crypt)
// with libxcrypt's crypt_r and of Dovecot's salted SHA and PLAIN-MD5 digests with OpenSSL.
#include "storage/password/password_hash.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <memory>
#include <vector>

#include "storage/encoding/base64.h"

namespace mailroom::storage::password {
namespace {

// OWASP's argon2id recommendation (2023): 19 MiB, 2 passes, 1 lane.
constexpr uint32_t kArgonTimeCost = 2;
constexpr uint32_t kArgonMemoryKiB = 19456;
constexpr uint32_t kArgonLanes = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

// Bounds for imported argon2 parameters: a hash is verified on every login, so a hostile or
// mistaken import must not make each login cost gigabytes or minutes.
constexpr uint64_t kMaxImportMemoryKiB = 1024 * 1024;  // 1 GiB
constexpr uint64_t kMaxImportTimeCost = 64;
constexpr uint64_t kMaxImportLanes = 64;

constexpr std::string_view kArgonPrefix = "$argon2id$";
constexpr std::string_view kSha512Prefix = "$6$";
constexpr std::string_view kSha256Prefix = "$5$";
constexpr std::string_view kMd5CryptPrefix = "$1$";
constexpr std::string_view kSshaPrefix = "{SSHA}";
constexpr std::string_view kSsha256Prefix = "{SSHA256}";
constexpr std::string_view kSsha512Prefix = "{SSHA512}";
constexpr std::string_view kPlainMd5Prefix = "{PLAIN-MD5}";
constexpr size_t kMd5Bytes = 16;

constexpr std::string_view kAcceptedFormats =
    "accepted formats: {ARGON2ID}$argon2id$v=19$m=..,t=..,p=..$SALT$HASH, $argon2id$..., "
    "{SHA512-CRYPT}$6$SALT$HASH, $6$..., {SHA256-CRYPT}$5$SALT$HASH, $5$..., "
    "{BLF-CRYPT}$2y$COST$SALTHASH, $2a$/$2b$/$2y$..., {MD5-CRYPT}$1$SALT$HASH, $1$..., "
    "{CRYPT} before a crypt string, {SSHA}BASE64, {SSHA256}BASE64, {SSHA512}BASE64, "
    "{PLAIN-MD5}HEX or {PLAIN-MD5}BASE64";

bool is_bcrypt(std::string_view s) {
  return s.size() >= 4 && s[0] == '$' && s[1] == '2' && (s[2] == 'a' || s[2] == 'b' || s[2] == 'y') && s[3] == '$';
}

// The digest a {SSHA*} scheme salts; nullptr for any other scheme.
const EVP_MD* salted_digest(std::string_view scheme) {
  if (scheme == kSchemeSsha) return EVP_sha1();
  if (scheme == kSchemeSsha256) return EVP_sha256();
  if (scheme == kSchemeSsha512) return EVP_sha512();
  return nullptr;
}

std::string_view brace_prefix(std::string_view scheme) {
  if (scheme == kSchemeSsha) return kSshaPrefix;
  if (scheme == kSchemeSsha256) return kSsha256Prefix;
  if (scheme == kSchemeSsha512) return kSsha512Prefix;
  if (scheme == kSchemePlainMd5) return kPlainMd5Prefix;
  return {};
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool is_crypt_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '/';
}

bool is_b64_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

bool all_of(std::string_view s, bool (*pred)(char)) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 12) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Error bad_hash(const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument,
                    "unrecognised password hash (" + why + "); " + std::string(kAcceptedFormats));
}

// "$6$[rounds=N$]SALT$HASH": salt 1-16 crypt characters, hash 86 (SHA-512) or 43 (SHA-256).
Status check_sha_crypt(std::string_view text, std::string_view prefix, size_t hash_len) {
  std::string_view rest = text.substr(prefix.size());
  std::vector<std::string_view> parts = split(rest, '$');
  if (parts.size() == 3) {
    constexpr std::string_view kRounds = "rounds=";
    uint64_t rounds = 0;
    if (!starts_with(parts[0], kRounds) || !parse_u64(parts[0].substr(kRounds.size()), rounds) ||
        rounds < 1000 || rounds > 999999999) {
      return bad_hash("bad rounds= field");
    }
    parts.erase(parts.begin());
  }
  if (parts.size() != 2) return bad_hash("expected " + std::string(prefix) + "SALT$HASH");
  if (parts[0].empty() || parts[0].size() > 16 || !all_of(parts[0], is_crypt_char)) {
    return bad_hash("the salt must be 1-16 characters of [./0-9A-Za-z]");
  }
  if (parts[1].size() != hash_len || !all_of(parts[1], is_crypt_char)) {
    return bad_hash("the hash part must be " + std::to_string(hash_len) + " characters of [./0-9A-Za-z]");
  }
  return {};
}

// "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" with unpadded standard base64 salt and hash.
Status check_argon2id(std::string_view text) {
  std::vector<std::string_view> parts = split(text.substr(kArgonPrefix.size()), '$');
  if (parts.size() != 4) return bad_hash("expected $argon2id$v=19$m=..,t=..,p=..$SALT$HASH");
  if (parts[0] != "v=19") return bad_hash("only argon2 version 19 is supported");
  std::vector<std::string_view> params = split(parts[1], ',');
  uint64_t m = 0;
  uint64_t t = 0;
  uint64_t p = 0;
  if (params.size() != 3 || !starts_with(params[0], "m=") || !parse_u64(params[0].substr(2), m) ||
      !starts_with(params[1], "t=") || !parse_u64(params[1].substr(2), t) ||
      !starts_with(params[2], "p=") || !parse_u64(params[2].substr(2), p)) {
    return bad_hash("bad argon2 parameters, expected m=..,t=..,p=..");
  }
  if (p < 1 || p > kMaxImportLanes || t < 1 || t > kMaxImportTimeCost || m < 8 * p ||
      m > kMaxImportMemoryKiB) {
    return bad_hash("argon2 parameters out of range (m <= 1048576 KiB, t <= 64, 1 <= p <= 64)");
  }
  // Base64 without padding: 4n+1 characters can never be valid.
  auto b64_bytes = [](std::string_view s) { return s.size() % 4 == 1 ? 0 : s.size() * 3 / 4; };
  if (!all_of(parts[2], is_b64_char) || b64_bytes(parts[2]) < 8) {
    return bad_hash("the argon2 salt must be base64 of at least 8 bytes");
  }
  if (!all_of(parts[3], is_b64_char) || b64_bytes(parts[3]) < 16) {
    return bad_hash("the argon2 hash must be base64 of at least 16 bytes");
  }
  return {};
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// "$2y$CC$" + 22 characters of salt + 31 of hash, bcrypt's own base64 alphabet ([./0-9A-Za-z]).
Status check_bcrypt(std::string_view text) {
  if (text.size() != 60 || text[6] != '$' || text[4] < '0' || text[4] > '9' || text[5] < '0' || text[5] > '9') {
    return bad_hash("expected $2y$COST$ and 53 characters of salt and hash");
  }
  int cost = (text[4] - '0') * 10 + (text[5] - '0');
  if (cost < 4 || cost > kMaxImportBcryptCost) {
    return bad_hash("bcrypt cost " + std::to_string(cost) + " out of range (4-" +
                    std::to_string(kMaxImportBcryptCost) + ")");
  }
  if (!all_of(text.substr(7), is_crypt_char)) return bad_hash("the bcrypt salt and hash must be [./0-9A-Za-z]");
  return {};
}

// "$1$SALT$HASH": salt 1-8 crypt characters, hash 22.
Status check_md5_crypt(std::string_view text) {
  std::vector<std::string_view> parts = split(text.substr(kMd5CryptPrefix.size()), '$');
  if (parts.size() != 2) return bad_hash("expected $1$SALT$HASH");
  if (parts[0].empty() || parts[0].size() > 8 || !all_of(parts[0], is_crypt_char)) {
    return bad_hash("the MD5-crypt salt must be 1-8 characters of [./0-9A-Za-z]");
  }
  if (parts[1].size() != 22 || !all_of(parts[1], is_crypt_char)) {
    return bad_hash("the MD5-crypt hash part must be 22 characters of [./0-9A-Za-z]");
  }
  return {};
}

// The raw bytes of a {PLAIN-MD5} value: 32 hex digits or base64 of 16 bytes (Dovecot reads both).
bool decode_plain_md5(std::string_view text, std::string& out) {
  if (text.size() == 2 * kMd5Bytes && all_of(text, is_hex)) {
    out.clear();
    for (size_t i = 0; i < text.size(); i += 2) {
      auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
      out.push_back(static_cast<char>(nibble(text[i]) * 16 + nibble(text[i + 1])));
    }
    return true;
  }
  return base64_decode(text, out) && out.size() == kMd5Bytes;
}

// The digest || salt bytes of a {SSHA*} value: base64, longer than the digest (a salt of 1+ bytes).
bool decode_salted(std::string_view text, const EVP_MD* md, std::string& out) {
  return base64_decode(text, out) && out.size() > static_cast<size_t>(EVP_MD_get_size(md));
}

Status check_braced(std::string_view scheme, std::string_view payload) {
  std::string raw;
  if (scheme == kSchemePlainMd5) {
    if (!decode_plain_md5(payload, raw)) return bad_hash("{PLAIN-MD5} wants 32 hex digits or base64 of 16 bytes");
    return {};
  }
  if (!decode_salted(payload, salted_digest(scheme), raw)) {
    return bad_hash("{" + std::string(scheme) + "} wants padded base64 of the digest followed by the salt");
  }
  return {};
}

// digest(plaintext || salt) == the stored digest, in constant time.
bool verify_digest(std::string_view plaintext, const EVP_MD* md, std::string_view expected, std::string_view salt) {
  std::string input(plaintext);
  input.append(salt);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  bool ok = EVP_Digest(input.data(), input.size(), digest.data(), &len, md, nullptr) == 1 &&
            len == expected.size() && CRYPTO_memcmp(digest.data(), expected.data(), len) == 0;
  OPENSSL_cleanse(input.data(), input.size());
  return ok;
}

bool verify_braced(std::string_view plaintext, std::string_view scheme, std::string_view payload) {
  std::string raw;
  if (scheme == kSchemePlainMd5) {
    return decode_plain_md5(payload, raw) && verify_digest(plaintext, EVP_md5(), raw, {});
  }
  const EVP_MD* md = salted_digest(scheme);
  if (md == nullptr || !decode_salted(payload, md, raw)) return false;
  const auto digest_size = static_cast<size_t>(EVP_MD_get_size(md));
  return verify_digest(plaintext, md, std::string_view(raw).substr(0, digest_size),
                       std::string_view(raw).substr(digest_size));
}

bool verify_crypt(std::string_view plaintext, std::string_view stored) {
  std::string key(plaintext);
  std::string setting(stored);
  // struct crypt_data is large (about 32 KiB): keep it off the worker's stack. Value-initialised,
  // so `initialized` is 0 as crypt_r requires.
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_r(key.c_str(), setting.c_str(), data.get());
  if (out == nullptr || out[0] != '$') return false;  // "*0"/"*1" mean failure
  std::string_view computed(out);
  bool match = computed.size() == stored.size() &&
               CRYPTO_memcmp(computed.data(), stored.data(), stored.size()) == 0;
  OPENSSL_cleanse(key.data(), key.size());
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return match;
}

}  // namespace

Status check_password(std::string_view plaintext) {
  if (plaintext.empty()) return make_error(ErrorCode::kInvalidArgument, "the password is empty");
  if (plaintext.size() > kMaxPasswordBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the password is longer than " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  if (plaintext.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the password contains a NUL, CR or LF character (POP3 cannot send those)");
  }
  return {};
}

Result<std::string> hash_password(std::string_view plaintext) {
  if (auto st = check_password(plaintext); !st) return st.error();
  std::array<unsigned char, kSaltBytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return make_error(ErrorCode::kInternal, "could not get random bytes for a password salt");
  }
  size_t len = argon2_encodedlen(kArgonTimeCost, kArgonMemoryKiB, kArgonLanes, kSaltBytes, kHashBytes,
                                 Argon2_id);
  std::string encoded(len, '\0');
  int rc = argon2id_hash_encoded(kArgonTimeCost, kArgonMemoryKiB, kArgonLanes, plaintext.data(),
                                 plaintext.size(), salt.data(), salt.size(), kHashBytes, encoded.data(),
                                 encoded.size());
  if (rc != ARGON2_OK) {
    return make_error(ErrorCode::kInternal, std::string("argon2id hashing failed: ") + argon2_error_message(rc));
  }
  encoded.resize(encoded.find('\0'));  // argon2_encodedlen counts the terminator
  return encoded;
}

std::string_view scheme_of(std::string_view stored) {
  if (starts_with(stored, kArgonPrefix)) return kSchemeArgon2id;
  if (starts_with(stored, kSha512Prefix)) return kSchemeSha512Crypt;
  if (starts_with(stored, kSha256Prefix)) return kSchemeSha256Crypt;
  if (is_bcrypt(stored)) return kSchemeBcrypt;
  if (starts_with(stored, kMd5CryptPrefix)) return kSchemeMd5Crypt;
  // Longest first: "{SSHA}" is no prefix of the others, but keep the order obvious.
  if (starts_with(stored, kSsha512Prefix)) return kSchemeSsha512;
  if (starts_with(stored, kSsha256Prefix)) return kSchemeSsha256;
  if (starts_with(stored, kSshaPrefix)) return kSchemeSsha;
  if (starts_with(stored, kPlainMd5Prefix)) return kSchemePlainMd5;
  return {};
}

bool verify_password(std::string_view plaintext, std::string_view stored) {
  // A NUL would truncate the key given to crypt_r; such passwords are never stored anyway.
  if (plaintext.size() > kMaxPasswordBytes || plaintext.find('\0') != std::string_view::npos) return false;
  std::string_view scheme = scheme_of(stored);
  if (scheme == kSchemeArgon2id) {
    std::string encoded(stored);  // argon2id_verify wants a C string
    return argon2id_verify(encoded.c_str(), plaintext.data(), plaintext.size()) == ARGON2_OK;
  }
  if (scheme == kSchemeSha512Crypt || scheme == kSchemeSha256Crypt || scheme == kSchemeBcrypt ||
      scheme == kSchemeMd5Crypt) {
    return verify_crypt(plaintext, stored);
  }
  std::string_view prefix = brace_prefix(scheme);
  if (!prefix.empty()) return verify_braced(plaintext, scheme, stored.substr(prefix.size()));
  return false;
}

Result<StoredHash> parse_imported_hash(std::string_view text) {
  // An optional Dovecot-style "{SCHEME}" prefix. For crypt strings it must agree with the hash
  // that follows ({CRYPT}: any of them); {SSHA*} and {PLAIN-MD5} name the encoding of the rest.
  std::string_view declared;
  bool any_crypt = false;
  if (starts_with(text, "{")) {
    size_t close = text.find('}');
    if (close == std::string_view::npos) return bad_hash("unterminated {SCHEME} prefix");
    std::string upper;
    for (char c : text.substr(1, close - 1)) upper.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
    std::string_view payload = text.substr(close + 1);
    if (upper == "SHA512-CRYPT") {
      declared = kSchemeSha512Crypt;
    } else if (upper == "SHA256-CRYPT") {
      declared = kSchemeSha256Crypt;
    } else if (upper == "ARGON2ID") {
      declared = kSchemeArgon2id;
    } else if (upper == "BLF-CRYPT") {
      declared = kSchemeBcrypt;
    } else if (upper == "MD5-CRYPT") {
      declared = kSchemeMd5Crypt;
    } else if (upper == "CRYPT") {
      any_crypt = true;
    } else {
      for (std::string_view braced : {kSchemeSsha, kSchemeSsha256, kSchemeSsha512, kSchemePlainMd5}) {
        if ("{" + upper + "}" != brace_prefix(braced)) continue;
        if (Status shape = check_braced(braced, payload); !shape) return shape.error();
        return StoredHash{std::string(braced), std::string(brace_prefix(braced)) + std::string(payload)};
      }
      return bad_hash("unsupported scheme {" + std::string(text.substr(1, close - 1)) + "}");
    }
    text = payload;
  }
  std::string_view scheme = scheme_of(text);
  if (scheme.empty() || starts_with(text, "{")) return bad_hash("unknown hash type");
  if (any_crypt && scheme == kSchemeArgon2id) return bad_hash("{CRYPT} takes a crypt string ($6$, $5$, $2y$, $1$)");
  if (!declared.empty() && declared != scheme) {
    return bad_hash("the {SCHEME} prefix does not match the hash");
  }
  Status shape = scheme == kSchemeArgon2id      ? check_argon2id(text)
                 : scheme == kSchemeSha512Crypt ? check_sha_crypt(text, kSha512Prefix, 86)
                 : scheme == kSchemeSha256Crypt ? check_sha_crypt(text, kSha256Prefix, 43)
                 : scheme == kSchemeBcrypt      ? check_bcrypt(text)
                                                : check_md5_crypt(text);
  if (!shape) return shape.error();
  return StoredHash{std::string(scheme), std::string(text)};
}

const std::string& dummy_hash() {
  // Computed once from a random password nobody knows; the parameters match hash_password's,
  // so an unknown mailbox costs the same as a known one.
  static const std::string hash = [] {
    std::array<unsigned char, 24> secret{};
    RAND_bytes(secret.data(), static_cast<int>(secret.size()));
    std::string pw;
    for (unsigned char b : secret) pw.push_back(static_cast<char>('a' + b % 26));
    auto h = hash_password(pw);
    return h ? std::move(*h) : std::string("$argon2id$v=19$m=19456,t=2,p=1$");
  }();
  return hash;
}

}  // namespace mailroom::storage::password
