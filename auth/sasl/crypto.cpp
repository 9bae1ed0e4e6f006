// MD4/MD5 compression functions, EVP wrappers and encoding helpers for the SASL mechanisms.
#include "auth/sasl/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace mailroom::auth::sasl::crypto {

namespace {

const EVP_MD* evp_of(Hash h) {
  switch (h) {
    case Hash::kMd5: return EVP_md5();
    case Hash::kSha1: return EVP_sha1();
    case Hash::kSha256: return EVP_sha256();
  }
  return nullptr;
}

inline uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

inline uint32_t load_le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

inline void store_le32(unsigned char* p, uint32_t v) {
  p[0] = static_cast<unsigned char>(v);
  p[1] = static_cast<unsigned char>(v >> 8);
  p[2] = static_cast<unsigned char>(v >> 16);
  p[3] = static_cast<unsigned char>(v >> 24);
}

constexpr std::array<uint32_t, 4> kInitialState = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};

// The Merkle-Damgard padding shared by MD4 and MD5: 0x80, zeros, 64-bit little-endian bit count.
std::string md_padding(uint64_t length) {
  std::string pad(1, '\x80');
  const std::size_t used = static_cast<std::size_t>((length + 1) % 64);
  pad.append(used <= 56 ? 56 - used : 120 - used, '\0');
  unsigned char len[8];
  const uint64_t bits = length * 8;
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(bits >> (8 * i));
  pad.append(reinterpret_cast<const char*>(len), 8);
  return pad;
}

void md4_block(std::array<uint32_t, 4>& s, const unsigned char* p) {
  uint32_t x[16];
  for (int i = 0; i < 16; ++i) x[i] = load_le32(p + 4 * i);
  uint32_t a = s[0], b = s[1], c = s[2], d = s[3];
  auto f = [](uint32_t x1, uint32_t y, uint32_t z) { return (x1 & y) | (~x1 & z); };
  auto g = [](uint32_t x1, uint32_t y, uint32_t z) { return (x1 & y) | (x1 & z) | (y & z); };
  auto h = [](uint32_t x1, uint32_t y, uint32_t z) { return x1 ^ y ^ z; };
  static constexpr int kR1[4] = {3, 7, 11, 19};
  static constexpr int kR2[4] = {3, 5, 9, 13};
  static constexpr int kR3[4] = {3, 9, 11, 15};
  static constexpr int kOrder3[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
  for (int i = 0; i < 16; ++i) {
    const uint32_t t = rotl(a + f(b, c, d) + x[i], kR1[i % 4]);
    a = d; d = c; c = b; b = t;
  }
  for (int i = 0; i < 16; ++i) {
    const int k = (i % 4) * 4 + i / 4;  // 0,4,8,12,1,5,...
    const uint32_t t = rotl(a + g(b, c, d) + x[k] + 0x5a827999u, kR2[i % 4]);
    a = d; d = c; c = b; b = t;
  }
  for (int i = 0; i < 16; ++i) {
    const uint32_t t = rotl(a + h(b, c, d) + x[kOrder3[i]] + 0x6ed9eba1u, kR3[i % 4]);
    a = d; d = c; c = b; b = t;
  }
  s[0] += a; s[1] += b; s[2] += c; s[3] += d;
}

constexpr std::array<uint32_t, 64> kMd5K = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
constexpr int kMd5R[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

}  // namespace

std::size_t hash_size(Hash h) {
  switch (h) {
    case Hash::kMd5: return 16;
    case Hash::kSha1: return 20;
    case Hash::kSha256: return 32;
  }
  return 0;
}

std::string hash(Hash h, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, evp_of(h), nullptr) != 1) std::abort();
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string hmac(Hash h, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // HMAC() rejects a null key pointer even with length 0.
  static const unsigned char kEmpty = 0;
  const void* k = key.empty() ? static_cast<const void*>(&kEmpty) : static_cast<const void*>(key.data());
  if (HMAC(evp_of(h), k, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len) == nullptr) {
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string md4(std::string_view data) {
  std::array<uint32_t, 4> s = kInitialState;
  std::string padded(data);
  padded += md_padding(data.size());
  for (std::size_t i = 0; i < padded.size(); i += 64) {
    md4_block(s, reinterpret_cast<const unsigned char*>(padded.data()) + i);
  }
  std::string out(16, '\0');
  for (int i = 0; i < 4; ++i) store_le32(reinterpret_cast<unsigned char*>(out.data()) + 4 * i, s[i]);
  return out;
}

Md5::Md5() : state_(kInitialState) {}

Md5::Md5(const State& state, uint64_t bytes_done) : state_(state), length_(bytes_done) {}

void Md5::block(const unsigned char* p) {
  uint32_t x[16];
  for (int i = 0; i < 16; ++i) x[i] = load_le32(p + 4 * i);
  uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  for (int i = 0; i < 64; ++i) {
    uint32_t f = 0;
    int k = 0;
    switch (i / 16) {
      case 0: f = (b & c) | (~b & d); k = i; break;
      case 1: f = (d & b) | (~d & c); k = (5 * i + 1) % 16; break;
      case 2: f = b ^ c ^ d; k = (3 * i + 5) % 16; break;
      default: f = c ^ (b | ~d); k = (7 * i) % 16; break;
    }
    const uint32_t t = d;
    d = c;
    c = b;
    b = b + rotl(a + f + kMd5K[i] + x[k], kMd5R[i / 16][i % 4]);
    a = t;
  }
  state_[0] += a; state_[1] += b; state_[2] += c; state_[3] += d;
}

void Md5::update(std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  length_ += n;
  if (buffered_ > 0) {
    const std::size_t take = std::min(n, 64 - buffered_);
    std::memcpy(buffer_.data() + buffered_, p, take);
    buffered_ += take;
    p += take;
    n -= take;
    if (buffered_ < 64) return;
    block(buffer_.data());
    buffered_ = 0;
  }
  for (; n >= 64; n -= 64, p += 64) block(p);
  if (n > 0) {
    std::memcpy(buffer_.data(), p, n);
    buffered_ = n;
  }
}

std::string Md5::finish() {
  const uint64_t length = length_;
  update(md_padding(length));
  std::string out(16, '\0');
  for (int i = 0; i < 4; ++i) store_le32(reinterpret_cast<unsigned char*>(out.data()) + 4 * i, state_[i]);
  return out;
}

bool equal_ct(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::abort();
  }
  return out;
}

std::optional<std::string> utf8_to_utf16le(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  auto put = [&out](uint32_t unit) {
    out += static_cast<char>(unit & 0xff);
    out += static_cast<char>(unit >> 8);
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = 0;
    std::size_t len = 0;
    if (c < 0x80) { cp = c; len = 1; }
    else if ((c & 0xe0) == 0xc0) { cp = c & 0x1f; len = 2; }
    else if ((c & 0xf0) == 0xe0) { cp = c & 0x0f; len = 3; }
    else if ((c & 0xf8) == 0xf0) { cp = c & 0x07; len = 4; }
    else return std::nullopt;
    if (i + len > s.size()) return std::nullopt;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      put(0xd800 | (cp >> 10));
      put(0xdc00 | (cp & 0x3ff));
    } else {
      put(cp);
    }
    i += len;
  }
  return out;
}

std::optional<std::string> utf16le_to_utf8(std::string_view s) {
  if (s.size() % 2 != 0) return std::nullopt;
  std::string out;
  auto unit_at = [&s](std::size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(s[i])) |
           (static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8);
  };
  for (std::size_t i = 0; i < s.size(); i += 2) {
    uint32_t cp = unit_at(i);
    if (cp >= 0xdc00 && cp <= 0xdfff) return std::nullopt;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      if (i + 4 > s.size()) return std::nullopt;
      const uint32_t lo = unit_at(i + 2);
      if (lo < 0xdc00 || lo > 0xdfff) return std::nullopt;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      i += 2;
    }
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  return out;
}

}  // namespace mailroom::auth::sasl::crypto
