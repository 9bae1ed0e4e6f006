// Certificate and key files: loading, checking, describing, expiry, self-signed generation.
#include "core/tls/certificate.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>

namespace mailroom::tls {

namespace {

struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

// The whole file, or an error naming it (`what`: "certificate", "private key", "chain").
Result<std::string> read_pem_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, std::string("cannot read ") + what + " " + path + ": " + std::strerror(errno));
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxPemFileBytes) {
      return make_error(ErrorCode::kInvalidArgument, path + " is larger than " + std::to_string(kMaxPemFileBytes) +
                                                         " bytes: not a PEM " + what);
    }
  }
  return text;
}

BioPtr memory_bio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string x509_name(X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string day_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

bool is_encrypted_key(const std::string& pem) {
  return pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
         pem.find("Proc-Type: 4,ENCRYPTED") != std::string::npos;
}

// Where the advice puts the unencrypted copy: next to the key, "-unencrypted.pem" added.
std::string unencrypted_name(const std::string& path) {
  const std::string suffix = ".pem";
  if (path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return path.substr(0, path.size() - suffix.size()) + "-unencrypted.pem";
  }
  return path + "-unencrypted.pem";
}

// A GENERAL_NAME for a DNS name or an IP address (4 or 16 bytes), or null.
GENERAL_NAME* dns_entry(const std::string& name) {
  GENERAL_NAME* gen = GENERAL_NAME_new();
  ASN1_IA5STRING* text = ASN1_IA5STRING_new();
  if (gen == nullptr || text == nullptr || ASN1_STRING_set(text, name.data(), static_cast<int>(name.size())) != 1) {
    GENERAL_NAME_free(gen);
    ASN1_IA5STRING_free(text);
    return nullptr;
  }
  GENERAL_NAME_set0_value(gen, GEN_DNS, text);
  return gen;
}

GENERAL_NAME* ip_entry(const unsigned char* bytes, int size) {
  GENERAL_NAME* gen = GENERAL_NAME_new();
  ASN1_OCTET_STRING* octets = ASN1_OCTET_STRING_new();
  if (gen == nullptr || octets == nullptr || ASN1_OCTET_STRING_set(octets, bytes, size) != 1) {
    GENERAL_NAME_free(gen);
    ASN1_OCTET_STRING_free(octets);
    return nullptr;
  }
  GENERAL_NAME_set0_value(gen, GEN_IPADD, octets);
  return gen;
}

// An address parsed to bytes: IPv4 (4) or IPv6 (16).
struct IpBytes {
  unsigned char bytes[16] = {};
  int size = 0;
};

std::optional<IpBytes> parse_ip(const std::string& text) {
  IpBytes ip;
  if (inet_pton(AF_INET, text.c_str(), ip.bytes) == 1) {
    ip.size = 4;
  } else if (inet_pton(AF_INET6, text.c_str(), ip.bytes) == 1) {
    ip.size = 16;
  } else {
    return std::nullopt;
  }
  return ip;
}

Result<std::string> pem_text(bool key, X509* cert, EVP_PKEY* pkey) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  const int ok = key ? PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr)
                     : PEM_write_bio_X509(bio.get(), cert);
  if (ok != 1) return make_error(ErrorCode::kInternal, "cannot encode the certificate: " + drain_errors());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

bool is_dns_name(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  char prev = 0;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

namespace {

// Every certificate of a PEM file, the leaf first; an error when there is none.
Result<std::vector<X509Ptr>> load_certificates(const std::string& path, const char* what) {
  auto text = read_pem_file(path, what);
  if (!text) return text.error();
  BioPtr bio = memory_bio(*text);
  std::vector<X509Ptr> certs;
  while (X509Ptr c{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) certs.push_back(std::move(c));
  if (certs.empty()) {
    return make_error(ErrorCode::kInvalidArgument, path + " is not a PEM certificate (" + drain_errors() + ")");
  }
  ERR_clear_error();  // the end of the file reads as an error
  return certs;
}

}  // namespace

Result<X509Ptr> load_certificate(const std::string& path) {
  auto certs = load_certificates(path, "certificate");
  if (!certs) return certs.error();
  return std::move(certs->front());
}

Result<PkeyPtr> load_private_key(const std::string& path) {
  auto text = read_pem_file(path, "private key");
  if (!text) return text.error();
  if (is_encrypted_key(*text)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the key file " + path + " is encrypted with a passphrase; Mailroom needs an unencrypted key: "
                      "openssl pkey -in " + path + " -out " + unencrypted_name(path));
  }
  BioPtr bio = memory_bio(*text);
  // An empty passphrase callback: an encrypted key never prompts on a tty.
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  if (!key) {
    return make_error(ErrorCode::kInvalidArgument,
                      path + " is not an unencrypted PEM private key (" + drain_errors() + ")");
  }
  return key;
}

std::string summarize(X509* cert) {
  return x509_name(X509_get_subject_name(cert)) + ", expires " + day_text(X509_get0_notAfter(cert));
}

Result<std::string> check_certificate(const std::string& cert_file, const std::string& key_file,
                                      const std::string& chain_file) {
  ERR_clear_error();
  auto cert = load_certificate(cert_file);
  if (!cert) return cert.error();
  auto key = load_private_key(key_file);
  if (!key) return key.error();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::kInvalidArgument,
                      "private key " + key_file + " does not match certificate " + cert_file);
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert->get())) <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "certificate " + cert_file + " expired on " + day_text(X509_get0_notAfter(cert->get())));
  }
  if (!chain_file.empty()) {
    auto chain = load_certificates(chain_file, "chain");
    if (!chain && chain.error().code == ErrorCode::kInvalidArgument) {
      ERR_clear_error();
      return make_error(ErrorCode::kInvalidArgument, chain_file + " holds no PEM certificate");
    }
    if (!chain) return chain.error();
  }
  return summarize(cert->get());
}

int64_t certificate_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string sha256_fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return "";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    if (i > 0) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

Result<CertificateInfo> inspect_certificate(const std::string& cert_file) {
  ERR_clear_error();
  auto certs = load_certificates(cert_file, "certificate");
  if (!certs) return certs.error();
  CertificateInfo info;
  info.chain_length = static_cast<int>(certs->size());
  X509* cert = certs->front().get();
  info.subject = x509_name(X509_get_subject_name(cert));
  info.issuer = x509_name(X509_get_issuer_name(cert));
  info.not_before = certificate_time(X509_get0_notBefore(cert));
  info.not_after = certificate_time(X509_get0_notAfter(cert));
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names.get(), i);
    if (gen->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gen->d.dNSName;
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (gen->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gen->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = {0};
      const int len = ASN1_STRING_length(s);
      const int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
      if (family != 0 && inet_ntop(family, ASN1_STRING_get0_data(s), buf, sizeof buf) != nullptr) {
        info.ip_addresses.emplace_back(buf);
      }
    }
  }
  if (BnPtr serial{ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)}) {
    if (char* hex = BN_bn2hex(serial.get())) {
      info.serial = hex;
      OPENSSL_free(hex);
    }
  }
  info.sha256_fingerprint = sha256_fingerprint(cert);
  if (EVP_PKEY* key = X509_get0_pubkey(cert)) {
    const int id = EVP_PKEY_get_base_id(key);
    info.key_type = id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC" : id == EVP_PKEY_ED25519 ? "ED25519"
                  : id == EVP_PKEY_ED448 ? "ED448" : id == EVP_PKEY_DSA ? "DSA" : OBJ_nid2sn(id);
    info.key_bits = EVP_PKEY_get_bits(key);
    info.self_signed = X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0 &&
                       X509_verify(cert, key) == 1;
  }
  ERR_clear_error();
  return info;
}

int64_t days_left(int64_t not_after, int64_t now) {
  const int64_t seconds = not_after - now;
  return seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
}

std::optional<std::string> expiry_warning(int64_t not_after, int64_t now, int64_t warn_days) {
  if (warn_days <= 0) return std::nullopt;
  const int64_t left = days_left(not_after, now);
  if (left >= warn_days) return std::nullopt;
  if (not_after <= now) return "certificate expired on " + rfc3339_utc(not_after);
  return "certificate expires in " + std::to_string(left) + (left == 1 ? " day (" : " days (") +
         rfc3339_utc(not_after) + ")";
}

Result<PemPair> make_self_signed(const SelfSignedRequest& request) {
  // Every name checked before any work: a comma or a space would be a second entry otherwise.
  std::vector<std::string> dns = {request.common_name};
  dns.insert(dns.end(), request.dns_names.begin(), request.dns_names.end());
  std::vector<std::string> unique_dns;
  for (const std::string& name : dns) {
    if (!is_dns_name(name)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "'" + name + "' is not a DNS name (letters, digits, '-' and '.'; '*.' first for a wildcard)");
    }
    bool seen = false;
    for (const auto& u : unique_dns) seen = seen || u == name;
    if (!seen) unique_dns.push_back(name);
  }
  std::vector<IpBytes> ips;
  for (const std::string& text : request.ip_addresses) {
    auto ip = parse_ip(text);
    if (!ip) return make_error(ErrorCode::kInvalidArgument, "'" + text + "' is not an IPv4 or IPv6 address");
    bool seen = false;
    for (const auto& other : ips) seen = seen || (other.size == ip->size && std::memcmp(other.bytes, ip->bytes, 16) == 0);
    if (!seen) ips.push_back(*ip);
  }

  ERR_clear_error();
  PkeyPtr key(EVP_RSA_gen(2048));
  if (!key) return make_error(ErrorCode::kInternal, "RSA key generation failed: " + drain_errors());
  X509Ptr cert(X509_new());
  if (!cert) return make_error(ErrorCode::kInternal, "X509_new failed");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return make_error(ErrorCode::kInternal, "RAND_bytes failed");
  serial[0] &= 0x7f;
  BnPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return make_error(ErrorCode::kInternal, "cannot set the serial number");
  }
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(request.days) * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(request.common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  GeneralNamesPtr sans(GENERAL_NAMES_new());
  if (!sans) return make_error(ErrorCode::kInternal, "GENERAL_NAMES_new failed");
  for (const std::string& n : unique_dns) {
    GENERAL_NAME* gen = dns_entry(n);
    if (gen == nullptr || sk_GENERAL_NAME_push(sans.get(), gen) == 0) {
      GENERAL_NAME_free(gen);
      return make_error(ErrorCode::kInternal, "cannot add the name " + n);
    }
  }
  for (const IpBytes& ip : ips) {
    GENERAL_NAME* gen = ip_entry(ip.bytes, ip.size);
    if (gen == nullptr || sk_GENERAL_NAME_push(sans.get(), gen) == 0) {
      GENERAL_NAME_free(gen);
      return make_error(ErrorCode::kInternal, "cannot add an IP address");
    }
  }
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, sans.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return make_error(ErrorCode::kInternal, "certificate extension failed: " + drain_errors());
  }
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair<int, const char*>{NID_basic_constraints, "critical,CA:FALSE"},
                            {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                            {NID_ext_key_usage, "serverAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    if (!ext) return make_error(ErrorCode::kInternal, "certificate extension failed: " + drain_errors());
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return make_error(ErrorCode::kInternal, "certificate signing failed: " + drain_errors());
  }
  auto cert_pem = pem_text(false, cert.get(), nullptr);
  if (!cert_pem) return cert_pem.error();
  auto key_pem = pem_text(true, nullptr, key.get());
  if (!key_pem) return key_pem.error();
  return PemPair{std::move(cert_pem).value(), std::move(key_pem).value()};
}

}  // namespace mailroom::tls
