// SCRAM server side (RFC 5802, RFC 7677): message parsing, proof check, key derivation, storage.
#include "auth/sasl/scram.h"

#include <openssl/evp.h>

#include <charconv>
#include <cstdlib>
#include <utility>
#include <vector>

#include "auth/sasl/base64.h"
#include "auth/sasl/crypto.h"
#include "auth/sasl/saslprep.h"

namespace mailroom::auth::sasl {

namespace {

crypto::Hash crypto_hash(ScramHash h) { return h == ScramHash::kSha1 ? crypto::Hash::kSha1 : crypto::Hash::kSha256; }

std::size_t key_size(ScramHash h) { return crypto::hash_size(crypto_hash(h)); }

SecretKind secret_kind(ScramHash h) {
  return h == ScramHash::kSha1 ? SecretKind::kScramSha1 : SecretKind::kScramSha256;
}

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (true) {
    const auto comma = s.find(',', pos);
    out.push_back(s.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

// saslname (RFC 5802 section 5.1): "=2C" is ',' and "=3D" is '='; any other '=' is an error.
std::optional<std::string> decode_saslname(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ',') return std::nullopt;
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    const auto esc = s.substr(i + 1, 2);
    if (esc == "2C") out += ',';
    else if (esc == "3D") out += '=';
    else return std::nullopt;
    i += 2;
  }
  return out;
}

bool printable_nonce(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

std::string xor_bytes(std::string_view a, std::string_view b) {
  std::string out(a);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(out[i] ^ b[i]);
  return out;
}

// Keyed per process so mock salts are stable within a run (a repeat probe sees the same salt)
// but unpredictable across servers.
const std::string& mock_salt_key() {
  static const std::string key = crypto::random_bytes(32);
  return key;
}

class ScramMechanism final : public AuthMechanism {
 public:
  explicit ScramMechanism(ScramOptions options) : options_(std::move(options)) {}

  std::string_view name() const override { return scram_mechanism_name(options_.hash); }
  bool needs_tls_by_default() const override { return false; }

  MechStep start(std::optional<std::string_view> initial) override {
    if (state_ != State::kStart) return malformed("SCRAM exchange already started");
    if (!initial) {
      state_ = State::kClientFirst;
      return Challenge{""};
    }
    return client_first(*initial, true);
  }

  MechStep step(std::string_view line) override {
    if (state_ == State::kClientFirst) return client_first(line, false);
    if (state_ == State::kClientFinal) return client_final(line);
    return malformed("unexpected SCRAM line");
  }

  MechStep provide_secret(std::optional<Secret> secret) override {
    if (state_ != State::kNeedSecret) return malformed("SCRAM did not ask for a secret");
    std::optional<ScramKeys> keys;
    if (!secret) {
      fail_reason_ = "no " + std::string(name()) + " secret for user '" + authcid_ + "'";
    } else if (secret->kind != secret_kind(options_.hash)) {
      fail_reason_ = "secret of the wrong kind for " + std::string(name());
    } else if (auto parsed = scram_parse(secret->value); !parsed) {
      fail_reason_ = "stored SCRAM keys are malformed: " + parsed.error().message;
    } else if (parsed->hash != options_.hash) {
      fail_reason_ = "stored SCRAM keys use another hash";
    } else {
      keys = std::move(parsed).value();
    }
    if (keys) {
      keys_ = std::move(*keys);
    } else {
      keys_.hash = options_.hash;
      keys_.iterations = kScramDefaultIterations;
      keys_.salt = crypto::hmac(crypto::Hash::kSha256, mock_salt_key(), authcid_).substr(0, 16);
      // Random keys: no proof can match them.
      keys_.stored_key = crypto::random_bytes(key_size(options_.hash));
      keys_.server_key = crypto::random_bytes(key_size(options_.hash));
    }
    std::string snonce = options_.server_nonce;
    if (snonce.empty()) snonce = base64_encode(crypto::random_bytes(18));
    nonce_ = client_nonce_ + snonce;
    server_first_ = "r=" + nonce_ + ",s=" + base64_encode(keys_.salt) + ",i=" + std::to_string(keys_.iterations);
    state_ = State::kClientFinal;
    return Challenge{base64_encode(server_first_)};
  }

 private:
  enum class State { kStart, kClientFirst, kNeedSecret, kClientFinal, kDone };

  MechStep malformed(std::string reason) {
    state_ = State::kDone;
    return Failure{FailureKind::kMalformed, std::move(reason)};
  }

  MechStep rejected(std::string reason) {
    state_ = State::kDone;
    return Failure{FailureKind::kRejected, std::move(reason)};
  }

  MechStep client_first(std::string_view b64, bool initial) {
    auto decoded = decode_client_data(b64, initial);
    if (auto* f = std::get_if<Failure>(&decoded)) {
      state_ = State::kDone;
      return std::move(*f);
    }
    const std::string_view msg = std::get<std::string>(decoded);
    // gs2-header = gs2-cbind-flag "," [authzid] ","
    if (msg.empty()) return malformed("empty SCRAM client-first message");
    if (msg[0] == 'p') return rejected("SCRAM channel binding requested but not supported");
    if ((msg[0] != 'n' && msg[0] != 'y') || msg.size() < 2 || msg[1] != ',') {
      return malformed("SCRAM gs2 header must start with 'n,' or 'y,'");
    }
    const auto second = msg.find(',', 2);
    if (second == std::string_view::npos) return malformed("SCRAM gs2 header is incomplete");
    const std::string_view authz_field = msg.substr(2, second - 2);
    if (!authz_field.empty()) {
      if (authz_field.substr(0, 2) != "a=") return malformed("SCRAM gs2 authzid must be 'a=...'");
      auto a = decode_saslname(authz_field.substr(2));
      if (!a || a->empty()) return malformed("SCRAM authzid is not a valid saslname");
      auto prepared = saslprep(*a, SaslprepUse::kQuery);
      if (!prepared) return malformed("SCRAM authzid: " + prepared.error().message);
      authzid_ = std::move(prepared).value();
    }
    gs2_header_ = std::string(msg.substr(0, second + 1));
    client_first_bare_ = std::string(msg.substr(second + 1));
    const auto attrs = split_commas(client_first_bare_);
    if (attrs[0].substr(0, 2) == "m=") return malformed("SCRAM mandatory extension not supported");
    if (attrs.size() < 2 || attrs[0].substr(0, 2) != "n=" || attrs[1].substr(0, 2) != "r=") {
      return malformed("SCRAM client-first must be 'n=user,r=nonce'");
    }
    auto user = decode_saslname(attrs[0].substr(2));
    if (!user || user->empty()) return malformed("SCRAM username is not a valid saslname");
    auto prepared = saslprep(*user, SaslprepUse::kQuery);
    if (!prepared) return malformed("SCRAM username: " + prepared.error().message);
    authcid_ = std::move(prepared).value();
    client_nonce_ = std::string(attrs[1].substr(2));
    if (!printable_nonce(client_nonce_)) return malformed("SCRAM client nonce is not printable");
    if (!authzid_.empty() && authzid_ == authcid_) authzid_.clear();
    if (!authzid_.empty() && !options_.allow_authzid) {
      return rejected("SCRAM authzid '" + authzid_ + "' differs from authcid '" + authcid_ + "'");
    }
    state_ = State::kNeedSecret;
    return NeedSecret{authcid_, authzid_, "", {secret_kind(options_.hash)}};
  }

  MechStep client_final(std::string_view b64) {
    auto decoded = decode_client_data(b64, false);
    if (auto* f = std::get_if<Failure>(&decoded)) {
      state_ = State::kDone;
      return std::move(*f);
    }
    const std::string_view msg = std::get<std::string>(decoded);
    const auto proof_at = msg.rfind(",p=");
    if (proof_at == std::string_view::npos) return malformed("SCRAM client-final has no proof");
    const std::string_view without_proof = msg.substr(0, proof_at);
    const auto attrs = split_commas(without_proof);
    if (attrs.size() < 2 || attrs[0].substr(0, 2) != "c=" || attrs[1].substr(0, 2) != "r=") {
      return malformed("SCRAM client-final must start 'c=...,r=...'");
    }
    auto cbind = base64_decode(attrs[0].substr(2));
    if (!cbind) return malformed("SCRAM channel-binding data is not base64");
    if (*cbind != gs2_header_) return rejected("SCRAM channel-binding data does not match the gs2 header");
    if (attrs[1].substr(2) != nonce_) return rejected("SCRAM nonce mismatch");
    auto proof = base64_decode(msg.substr(proof_at + 3));
    if (!proof) return malformed("SCRAM proof is not base64");
    if (proof->size() != key_size(options_.hash)) return malformed("SCRAM proof has the wrong length");

    const auto h = crypto_hash(options_.hash);
    const std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
    const std::string client_signature = crypto::hmac(h, keys_.stored_key, auth_message);
    const std::string client_key = xor_bytes(*proof, client_signature);
    const bool proof_ok = crypto::equal_ct(crypto::hash(h, client_key), keys_.stored_key);
    state_ = State::kDone;
    if (!fail_reason_.empty()) return Failure{FailureKind::kRejected, fail_reason_};
    if (!proof_ok) return Failure{FailureKind::kRejected, "SCRAM proof mismatch for user '" + authcid_ + "'"};
    const std::string server_signature = crypto::hmac(h, keys_.server_key, auth_message);
    return Success{authcid_, authzid_, base64_encode("v=" + base64_encode(server_signature))};
  }

  ScramOptions options_;
  State state_ = State::kStart;
  std::string authcid_, authzid_;
  std::string gs2_header_, client_first_bare_, client_nonce_;
  std::string nonce_, server_first_;
  ScramKeys keys_;
  std::string fail_reason_;  // set when the user has no usable secret: fail at the end
};

std::string_view hash_label(ScramHash h) { return h == ScramHash::kSha1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256"; }

}  // namespace

std::string_view scram_mechanism_name(ScramHash hash) { return hash_label(hash); }

ScramKeys scram_derive_keys(std::string_view password, std::string_view salt, uint32_t iterations,
                            ScramHash hash) {
  const auto h = crypto_hash(hash);
  std::string salted(crypto::hash_size(h), '\0');
  const EVP_MD* md = hash == ScramHash::kSha1 ? EVP_sha1() : EVP_sha256();
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), md, static_cast<int>(salted.size()),
                        reinterpret_cast<unsigned char*>(salted.data())) != 1) {
    std::abort();  // only fails on allocation failure or absurd arguments
  }
  ScramKeys keys;
  keys.hash = hash;
  keys.iterations = iterations;
  keys.salt = std::string(salt);
  keys.stored_key = crypto::hash(h, crypto::hmac(h, salted, "Client Key"));
  keys.server_key = crypto::hmac(h, salted, "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  return keys;
}

ScramKeys scram_make_keys(std::string_view password, ScramHash hash, uint32_t iterations) {
  return scram_derive_keys(password, crypto::random_bytes(16), iterations, hash);
}

std::string scram_encode(const ScramKeys& keys) {
  return std::string(hash_label(keys.hash)) + "$" + std::to_string(keys.iterations) + ":" +
         base64_encode(keys.salt) + "$" + base64_encode(keys.stored_key) + ":" + base64_encode(keys.server_key);
}

Result<ScramKeys> scram_parse(std::string_view stored) {
  auto bad = [](std::string why) { return make_error(ErrorCode::kInvalidArgument, "SCRAM keys: " + why); };
  ScramKeys keys;
  const auto d1 = stored.find('$');
  if (d1 == std::string_view::npos) return bad("missing '$'");
  const auto label = stored.substr(0, d1);
  if (label == "SCRAM-SHA-256") keys.hash = ScramHash::kSha256;
  else if (label == "SCRAM-SHA-1") keys.hash = ScramHash::kSha1;
  else return bad("unknown scheme '" + std::string(label) + "'");
  const auto d2 = stored.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return bad("missing second '$'");
  const auto params = stored.substr(d1 + 1, d2 - d1 - 1);
  const auto keys_part = stored.substr(d2 + 1);
  const auto c1 = params.find(':');
  const auto c2 = keys_part.find(':');
  if (c1 == std::string_view::npos || c2 == std::string_view::npos) return bad("missing ':'");
  const auto iter_text = params.substr(0, c1);
  uint32_t iter = 0;
  auto [end, ec] = std::from_chars(iter_text.data(), iter_text.data() + iter_text.size(), iter);
  // Decimal as scram_encode() writes it: no sign, no leading zero.
  if (ec != std::errc() || end != iter_text.data() + iter_text.size() || iter == 0 || iter > kScramMaxIterations ||
      iter_text.front() == '0') {
    return bad("bad iteration count");
  }
  keys.iterations = iter;
  auto salt = base64_decode(params.substr(c1 + 1));
  auto stored_key = base64_decode(keys_part.substr(0, c2));
  auto server_key = base64_decode(keys_part.substr(c2 + 1));
  if (!salt || salt->empty()) return bad("bad salt");
  const std::size_t n = key_size(keys.hash);
  if (!stored_key || stored_key->size() != n || !server_key || server_key->size() != n) {
    return bad("bad key length");
  }
  keys.salt = std::move(salt).value();
  keys.stored_key = std::move(stored_key).value();
  keys.server_key = std::move(server_key).value();
  return keys;
}

std::unique_ptr<AuthMechanism> make_scram(ScramOptions options) {
  return std::make_unique<ScramMechanism>(std::move(options));
}

}  // namespace mailroom::auth::sasl
