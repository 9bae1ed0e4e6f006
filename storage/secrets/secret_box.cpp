// SecretBox: AES-256-GCM over OpenSSL EVP, and the key file's creation and checks.
#include "storage/secrets/secret_box.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "storage/encoding/base64.h"
#include "storage/maildir/unique_fd.h"
#include "storage/secrets/private_file.h"

namespace mailroom::storage {
namespace {

// Secrets are a few hundred bytes at most; the bound keeps every length well inside an int.
constexpr size_t kMaxPlaintextBytes = 64 * 1024;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

std::string errno_text(int err) { return std::strerror(err); }

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Overwrites a string's bytes before it is freed (decrypted secrets, failed attempts).
void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace

std::string secret_key_path(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / SecretBox::kKeyFileName).string();
}

std::string secret_aad(int64_t mailbox_id, std::string_view kind) {
  std::string aad = "mailroom-secret-v1|mailbox=" + std::to_string(mailbox_id) + "|kind=";
  aad.append(kind);
  return aad;
}

SecretBox::SecretBox(SecretBox&& other) noexcept : key_(other.key_) {
  OPENSSL_cleanse(other.key_.data(), other.key_.size());
}

SecretBox& SecretBox::operator=(SecretBox&& other) noexcept {
  if (this != &other) {
    key_ = other.key_;
    OPENSSL_cleanse(other.key_.data(), other.key_.size());
  }
  return *this;
}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string SecretBox::fingerprint() const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(key_.data(), key_.size(), digest, &length, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

Result<SecretBox> SecretBox::load(const std::string& key_path) {
  UniqueFd fd(::open(key_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) return make_error(ErrorCode::kNotFound, "the secrets key " + key_path + " does not exist");
    return make_error(ErrorCode::kIo, "cannot open the secrets key " + key_path + ": " + errno_text(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return make_error(ErrorCode::kIo, "cannot stat the secrets key " + key_path + ": " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kPermanent, "the secrets key " + key_path + " is not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return make_error(ErrorCode::kPermanent, "the secrets key " + key_path + " has mode " + mode_text(st.st_mode) +
                                                 ": group and others must have no access (run 'chmod 600 " +
                                                 key_path + "')");
  }
  if (st.st_size != static_cast<off_t>(kKeyBytes)) {
    return make_error(ErrorCode::kPermanent,
                      "the secrets key " + key_path + " has " + std::to_string(st.st_size) + " bytes, not " +
                          std::to_string(kKeyBytes) + ": it is damaged or not a Mailroom key (restore it from "
                          "your backup; without it the stored legacy-mechanism secrets cannot be decrypted)");
  }
  std::array<unsigned char, kKeyBytes> key{};
  size_t got = 0;
  while (got < key.size()) {
    ssize_t n = ::read(fd.get(), key.data() + got, key.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      OPENSSL_cleanse(key.data(), key.size());
      return make_error(ErrorCode::kIo, "cannot read the secrets key " + key_path + ": " +
                                            (n < 0 ? errno_text(err) : std::string("file shorter than its size")));
    }
    got += static_cast<size_t>(n);
  }
  SecretBox box(key);
  OPENSSL_cleanse(key.data(), key.size());
  return box;
}

Result<SecretBox> SecretBox::load_or_create(const std::string& key_path) {
  auto existing = load(key_path);
  if (existing.ok() || existing.error().code != ErrorCode::kNotFound) return existing;

  std::array<unsigned char, kKeyBytes> key{};
  unsigned char tag[8];
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1 || RAND_bytes(tag, sizeof tag) != 1) {
    return make_error(ErrorCode::kInternal, "cannot create the secrets key: the random generator failed");
  }
  SecretBox box(key);
  OPENSSL_cleanse(key.data(), key.size());

  // Written aside in full, then linked into place: another process never sees a partial key, and
  // link() fails with EEXIST if someone else's key got there first.
  std::string tmp_name = key_path + ".tmp-" + std::to_string(::getpid()) + "-";
  for (unsigned char b : tag) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", b);
    tmp_name += hex;
  }
  UniqueFd fd(::open(tmp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return make_error(ErrorCode::kIo, "cannot create the secrets key " + key_path + ": " + errno_text(errno));
  }
  TempFileGuard guard(tmp_name);  // removed in every outcome: once linked, the key lives on under its final name
  size_t put = 0;
  while (put < box.key_.size()) {
    ssize_t n = ::write(fd.get(), box.key_.data() + put, box.key_.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(ErrorCode::kIo, "cannot write the secrets key " + tmp_name + ": " + errno_text(errno));
    put += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || fd.close() != 0) {
    return make_error(ErrorCode::kIo, "cannot write the secrets key " + tmp_name + ": " + errno_text(errno));
  }
  if (::link(tmp_name.c_str(), key_path.c_str()) != 0) {
    int err = errno;
    if (err == EEXIST) return load(key_path);  // lost the race: use the winner's key
    return make_error(ErrorCode::kIo, "cannot create the secrets key " + key_path + ": " + errno_text(err));
  }
  if (Status s = fsync_parent_dir(key_path); !s) return s.error();
  return box;
}

Result<std::string> SecretBox::seal(std::string_view plaintext, std::string_view aad) const {
  if (plaintext.size() > kMaxPlaintextBytes || aad.size() > kMaxPlaintextBytes) {
    return make_error(ErrorCode::kInvalidArgument, "a secret to encrypt is longer than 64 KiB");
  }
  std::string blob(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(blob.data());
  if (RAND_bytes(out, static_cast<int>(kNonceBytes)) != 1) {
    return make_error(ErrorCode::kInternal, "cannot encrypt a secret: the random generator failed");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), out) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1;
  if (ok && !plaintext.empty()) {
    ok = EVP_EncryptUpdate(ctx.get(), out + kNonceBytes, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                           static_cast<int>(plaintext.size())) == 1 &&
         static_cast<size_t>(len) == plaintext.size();
  }
  int final_len = 0;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), out + kNonceBytes + plaintext.size(), &final_len) == 1 && final_len == 0 &&
       EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                           out + kNonceBytes + plaintext.size()) == 1;
  if (!ok) {
    wipe(blob);
    return make_error(ErrorCode::kInternal, "cannot encrypt a secret: OpenSSL AES-256-GCM failed");
  }
  return std::string(kPrefix) + base64_encode(out, blob.size());
}

Result<std::string> SecretBox::open(std::string_view stored, std::string_view aad) const {
  if (!is_sealed(stored)) return make_error(ErrorCode::kInvalidArgument, "the value is not an encrypted secret");
  std::string blob;
  if (!base64_decode(stored.substr(kPrefix.size()), blob) || blob.size() < kNonceBytes + kTagBytes ||
      blob.size() - kNonceBytes - kTagBytes > kMaxPlaintextBytes || aad.size() > kMaxPlaintextBytes) {
    return make_error(ErrorCode::kInvalidArgument, "the encrypted secret is malformed (bad base64 or too short)");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(blob.data());
  const size_t ct_size = blob.size() - kNonceBytes - kTagBytes;
  std::string plain(ct_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  unsigned char tag[kTagBytes];
  std::memcpy(tag, in + kNonceBytes + ct_size, kTagBytes);

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), in) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1;
  if (ok && ct_size > 0) {
    ok = EVP_DecryptUpdate(ctx.get(), out, &len, in + kNonceBytes, static_cast<int>(ct_size)) == 1 &&
         static_cast<size_t>(len) == ct_size;
  }
  if (!ok || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag) != 1) {
    wipe(plain);
    return make_error(ErrorCode::kInternal, "cannot decrypt a secret: OpenSSL AES-256-GCM failed");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out + ct_size, &final_len) != 1) {
    wipe(plain);
    return make_error(ErrorCode::kPermanent,
                      "the encrypted secret does not authenticate (another key file, an altered value, or a value "
                      "moved from another mailbox or kind)");
  }
  OPENSSL_cleanse(blob.data(), blob.size());
  return plain;
}

}  // namespace mailroom::storage
