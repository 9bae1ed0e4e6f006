// NTLM server side: NEGOTIATE parsing, CHALLENGE building, AUTHENTICATE parsing and the
// NTLMv2 (and optional NTLMv1) response checks of [MS-NLMP].
#include "auth/sasl/ntlm.h"

#include <openssl/evp.h>

#include <ctime>
#include <utility>

#include "auth/sasl/base64.h"
#include "auth/sasl/crypto.h"

namespace mailroom::auth::sasl {

namespace {

constexpr std::string_view kSignature{"NTLMSSP\0", 8};

constexpr uint32_t kNegotiateUnicode = 0x00000001;
constexpr uint32_t kNegotiateOem = 0x00000002;
constexpr uint32_t kRequestTarget = 0x00000004;
constexpr uint32_t kNegotiateNtlm = 0x00000200;
constexpr uint32_t kNegotiateAlwaysSign = 0x00008000;
constexpr uint32_t kTargetTypeServer = 0x00020000;
constexpr uint32_t kExtendedSessionSecurity = 0x00080000;
constexpr uint32_t kNegotiateTargetInfo = 0x00800000;
constexpr uint32_t kNegotiateVersion = 0x02000000;
constexpr uint32_t kNegotiate128 = 0x20000000;
constexpr uint32_t kNegotiateKeyExch = 0x40000000;
constexpr uint32_t kNegotiate56 = 0x80000000;

constexpr uint16_t kAvEol = 0, kAvNbComputerName = 1, kAvNbDomainName = 2, kAvDnsComputerName = 3,
                   kAvDnsDomainName = 4, kAvTimestamp = 7;

// Seconds between 1601-01-01 (FILETIME epoch) and 1970-01-01.
constexpr uint64_t kFiletimeUnixOffset = 11644473600ULL;

uint16_t get16(std::string_view s, std::size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(s[at]) | (static_cast<unsigned char>(s[at + 1]) << 8));
}
uint32_t get32(std::string_view s, std::size_t at) {
  return static_cast<uint32_t>(get16(s, at)) | (static_cast<uint32_t>(get16(s, at + 2)) << 16);
}
void put16(std::string& out, uint16_t v) {
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>(v >> 8);
}
void put32(std::string& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v & 0xffff));
  put16(out, static_cast<uint16_t>(v >> 16));
}
void put64(std::string& out, uint64_t v) {
  put32(out, static_cast<uint32_t>(v & 0xffffffffULL));
  put32(out, static_cast<uint32_t>(v >> 32));
}

std::string latin1_to_utf16le(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    out += static_cast<char>(c);
    out += '\0';
  }
  return out;
}

std::string to_utf16le(std::string_view utf8) {
  auto u = crypto::utf8_to_utf16le(utf8);
  return u ? std::move(*u) : latin1_to_utf16le(utf8);
}

// Windows upper-cases with its own table; we cover ASCII and Latin-1, which is what user names
// in mail addresses use.
std::string upper_utf16le(std::string_view s) {
  std::string out(s);
  for (std::size_t i = 0; i + 1 < out.size(); i += 2) {
    uint16_t u = get16(out, i);
    if ((u >= 'a' && u <= 'z') || (u >= 0xe0 && u <= 0xfe && u != 0xf7)) u = static_cast<uint16_t>(u - 0x20);
    else if (u == 0xff) u = 0x178;
    out[i] = static_cast<char>(u & 0xff);
    out[i + 1] = static_cast<char>(u >> 8);
  }
  return out;
}

// One DES block with a 56-bit key spread over 8 bytes (parity bits unused). Single DES lives in
// OpenSSL 3's legacy provider; three-key 3DES with K1=K2=K3 is the same permutation.
std::string des_block(std::string_view key7, std::string_view data8) {
  unsigned char k[8];
  const auto* in = reinterpret_cast<const unsigned char*>(key7.data());
  k[0] = in[0];
  for (int i = 1; i < 7; ++i) k[i] = static_cast<unsigned char>((in[i - 1] << (8 - i)) | (in[i] >> i));
  k[7] = static_cast<unsigned char>(in[6] << 1);
  unsigned char key24[24];
  for (int i = 0; i < 24; ++i) key24[i] = k[i % 8];
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  unsigned char out[16];
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_des_ede3_ecb(), nullptr, key24, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out, &len, reinterpret_cast<const unsigned char*>(data8.data()), 8) != 1 ||
      len != 8) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out), 8);
}

// DESL (MS-NLMP 6): the 16-byte key padded to 21 and cut in three DES keys.
std::string desl(std::string_view nt_hash, std::string_view challenge) {
  std::string key(nt_hash);
  key.resize(21, '\0');
  return des_block(std::string_view(key).substr(0, 7), challenge) +
         des_block(std::string_view(key).substr(7, 7), challenge) +
         des_block(std::string_view(key).substr(14, 7), challenge);
}

struct Field {
  std::string_view data;
  bool ok = false;
};

Field read_field(std::string_view msg, std::size_t at) {
  const uint16_t len = get16(msg, at);
  const uint32_t offset = get32(msg, at + 4);
  if (static_cast<uint64_t>(offset) + len > msg.size()) return {};
  return Field{msg.substr(offset, len), true};
}

class NtlmMechanism final : public AuthMechanism {
 public:
  explicit NtlmMechanism(NtlmOptions options) : options_(std::move(options)) {
    challenge_ = options_.server_challenge.size() == 8 ? options_.server_challenge : crypto::random_bytes(8);
  }

  std::string_view name() const override { return "NTLM"; }
  bool needs_tls_by_default() const override { return false; }

  MechStep start(std::optional<std::string_view> initial) override {
    if (state_ != State::kStart) return malformed("NTLM exchange already started");
    state_ = State::kNegotiate;
    if (!initial || *initial == "=") return Challenge{""};
    return negotiate(*initial);
  }

  MechStep step(std::string_view line) override {
    if (state_ == State::kNegotiate) return negotiate(line);
    if (state_ == State::kAuthenticate) return authenticate(line);
    return malformed("unexpected NTLM line");
  }

  MechStep provide_secret(std::optional<Secret> secret) override {
    if (state_ != State::kNeedSecret) return malformed("NTLM did not ask for a secret");
    state_ = State::kDone;
    if (!secret) return Failure{FailureKind::kRejected, "no NTLM secret for user '" + user_ + "'"};
    std::string nt_hash;
    if (secret->kind == SecretKind::kNtHash) {
      auto raw = crypto::from_hex(secret->value);
      if (!raw || raw->size() != 16) return Failure{FailureKind::kRejected, "stored NT hash is malformed"};
      nt_hash = std::move(*raw);
    } else if (secret->kind == SecretKind::kPlaintextPassword) {
      nt_hash = crypto::md4(to_utf16le(secret->value));
    } else {
      return Failure{FailureKind::kRejected, "secret of the wrong kind for NTLM"};
    }
    std::string expected, got;
    if (nt_response_.size() > 24) {
      // NTLMv2: NTProofStr = HMAC-MD5(NTOWFv2, ServerChallenge || blob).
      const std::string ntowf = crypto::hmac(crypto::Hash::kMd5, nt_hash, upper_utf16le(user_utf16_) + domain_utf16_);
      const std::string_view blob = std::string_view(nt_response_).substr(16);
      expected = crypto::hmac(crypto::Hash::kMd5, ntowf, challenge_ + std::string(blob));
      got = nt_response_.substr(0, 16);
    } else {
      if (!options_.allow_ntlmv1) {
        return Failure{FailureKind::kRejected, "NTLMv1 response refused for user '" + user_ + "'"};
      }
      std::string challenge = challenge_;
      if ((flags_ & kExtendedSessionSecurity) && lm_response_.size() == 24) {
        challenge = crypto::hash(crypto::Hash::kMd5, challenge_ + lm_response_.substr(0, 8)).substr(0, 8);
      }
      expected = desl(nt_hash, challenge);
      got = nt_response_;
    }
    if (expected.empty() || !crypto::equal_ct(expected, got)) {
      return Failure{FailureKind::kRejected, "NTLM response mismatch for user '" + user_ + "'"};
    }
    return Success{user_, "", std::nullopt};
  }

 private:
  enum class State { kStart, kNegotiate, kAuthenticate, kNeedSecret, kDone };

  MechStep malformed(std::string reason) {
    state_ = State::kDone;
    return Failure{FailureKind::kMalformed, std::move(reason)};
  }

  std::variant<std::string, Failure> decode(std::string_view b64, uint32_t type) {
    auto decoded = decode_client_data(b64, false);
    if (auto* f = std::get_if<Failure>(&decoded)) return std::move(*f);
    std::string msg = std::move(std::get<std::string>(decoded));
    if (msg.size() < 16 || std::string_view(msg).substr(0, 8) != kSignature || get32(msg, 8) != type) {
      return Failure{FailureKind::kMalformed, "not an NTLM type " + std::to_string(type) + " message"};
    }
    return msg;
  }

  MechStep negotiate(std::string_view b64) {
    auto decoded = decode(b64, 1);
    if (auto* f = std::get_if<Failure>(&decoded)) {
      state_ = State::kDone;
      return std::move(*f);
    }
    const uint32_t client = get32(std::get<std::string>(decoded), 12);
    flags_ = kRequestTarget | kNegotiateNtlm | kNegotiateAlwaysSign | kTargetTypeServer | kNegotiateTargetInfo |
             kNegotiateVersion;
    flags_ |= (client & kNegotiateUnicode) ? kNegotiateUnicode : kNegotiateOem;
    flags_ |= client & (kExtendedSessionSecurity | kNegotiate128 | kNegotiate56 | kNegotiateKeyExch);
    state_ = State::kAuthenticate;
    return Challenge{base64_encode(challenge_message())};
  }

  std::string encode_name(std::string_view utf8) const {
    return (flags_ & kNegotiateUnicode) ? to_utf16le(utf8) : std::string(utf8);
  }

  std::string challenge_message() const {
    auto av = [](std::string& out, uint16_t id, std::string_view value) {
      put16(out, id);
      put16(out, static_cast<uint16_t>(value.size()));
      out += value;
    };
    // AV pair strings are always UTF-16LE, whatever the negotiated encoding (MS-NLMP 2.2.2.1).
    std::string info;
    av(info, kAvNbDomainName, to_utf16le(options_.nb_domain));
    av(info, kAvNbComputerName, to_utf16le(options_.nb_computer));
    if (!options_.dns_domain.empty()) av(info, kAvDnsDomainName, to_utf16le(options_.dns_domain));
    av(info, kAvDnsComputerName, to_utf16le(options_.dns_computer));
    std::string ts;
    put64(ts, options_.timestamp ? *options_.timestamp
                                 : (static_cast<uint64_t>(std::time(nullptr)) + kFiletimeUnixOffset) * 10'000'000ULL);
    av(info, kAvTimestamp, ts);
    av(info, kAvEol, "");

    const std::string target = encode_name(options_.nb_domain);
    constexpr uint32_t kHeader = 56;
    std::string out(kSignature);
    put32(out, 2);
    put16(out, static_cast<uint16_t>(target.size()));
    put16(out, static_cast<uint16_t>(target.size()));
    put32(out, kHeader);
    put32(out, flags_);
    out += challenge_;
    out.append(8, '\0');  // Reserved
    put16(out, static_cast<uint16_t>(info.size()));
    put16(out, static_cast<uint16_t>(info.size()));
    put32(out, kHeader + static_cast<uint32_t>(target.size()));
    // Version: 10.0 build 0, NTLMSSP_REVISION_W2K3 (15). Informational only.
    out += std::string("\x0a\x00\x00\x00\x00\x00\x00\x0f", 8);
    out += target;
    out += info;
    return out;
  }

  MechStep authenticate(std::string_view b64) {
    auto decoded = decode(b64, 3);
    if (auto* f = std::get_if<Failure>(&decoded)) {
      state_ = State::kDone;
      return std::move(*f);
    }
    const std::string msg = std::move(std::get<std::string>(decoded));
    if (msg.size() < 52) return malformed("NTLM AUTHENTICATE message too short");
    const Field lm = read_field(msg, 12), nt = read_field(msg, 20), domain = read_field(msg, 28),
                user = read_field(msg, 36);
    if (!lm.ok || !nt.ok || !domain.ok || !user.ok) return malformed("NTLM AUTHENTICATE field out of bounds");
    // Older senders end the header before NegotiateFlags; then the negotiated flags stand.
    const uint32_t flags = msg.size() >= 64 ? get32(msg, 60) : flags_;
    if (msg.size() >= 64) flags_ = (flags_ & ~kExtendedSessionSecurity) | (flags & flags_ & kExtendedSessionSecurity);
    const bool unicode = (flags & kNegotiateUnicode) != 0;
    if (unicode) {
      user_utf16_ = std::string(user.data);
      domain_utf16_ = std::string(domain.data);
      auto u = crypto::utf16le_to_utf8(user.data);
      auto d = crypto::utf16le_to_utf8(domain.data);
      if (!u || !d) return malformed("NTLM user or domain is not valid UTF-16");
      user_ = std::move(*u);
      domain_ = std::move(*d);
    } else {
      // OEM code page: taken as Latin-1, which covers what mail user names use.
      user_utf16_ = latin1_to_utf16le(user.data);
      domain_utf16_ = latin1_to_utf16le(domain.data);
      user_ = std::string(user.data);
      domain_ = std::string(domain.data);
      if (auto u = crypto::utf16le_to_utf8(user_utf16_)) user_ = std::move(*u);
      if (auto d = crypto::utf16le_to_utf8(domain_utf16_)) domain_ = std::move(*d);
    }
    if (user_.empty()) {
      state_ = State::kDone;
      return Failure{FailureKind::kRejected, "anonymous NTLM is not allowed"};
    }
    nt_response_ = std::string(nt.data);
    lm_response_ = std::string(lm.data);
    if (nt_response_.size() > 24) {
      // NTLMv2_CLIENT_CHALLENGE: RespType 1, HiRespType 1, 6 reserved, time, client challenge, 4 reserved.
      if (nt_response_.size() < 16 + 28 || nt_response_[16] != 1 || nt_response_[17] != 1) {
        return malformed("NTLMv2 response blob is malformed");
      }
    } else if (nt_response_.size() != 24) {
      state_ = State::kDone;
      return Failure{FailureKind::kRejected, "NTLM without an NT response (LM only) is not supported"};
    }
    state_ = State::kNeedSecret;
    return NeedSecret{user_, "", domain_, {SecretKind::kNtHash, SecretKind::kPlaintextPassword}};
  }

  NtlmOptions options_;
  std::string challenge_;
  State state_ = State::kStart;
  uint32_t flags_ = 0;
  std::string user_, domain_, user_utf16_, domain_utf16_;
  std::string nt_response_, lm_response_;
};

}  // namespace

std::unique_ptr<AuthMechanism> make_ntlm(NtlmOptions options) {
  return std::make_unique<NtlmMechanism>(std::move(options));
}

std::string ntlm_nt_hash(std::string_view password) { return crypto::to_hex(crypto::md4(to_utf16le(password))); }

std::string ntlm_ntowfv2(std::string_view nt_hash, std::string_view user, std::string_view domain) {
  return crypto::hmac(crypto::Hash::kMd5, nt_hash, upper_utf16le(to_utf16le(user)) + to_utf16le(domain));
}

}  // namespace mailroom::auth::sasl
