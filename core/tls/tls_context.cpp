// Server TLS contexts, certificate checks and self-signed certificate generation.
#include "core/tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdio>
#include <ctime>
#include <optional>

namespace mailroom::tls {

namespace {

// Mozilla's "intermediate" list: forward secrecy and AEAD only.
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";
// Old clients (TLS 1.0/1.1) only speak CBC-SHA1 suites, which OpenSSL 3 hides above level 0.
constexpr const char* kLegacyCiphers = "DEFAULT:@SECLEVEL=0";

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

std::string x509_name(X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string asn1_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

std::string summarize(X509* cert) {
  return x509_name(X509_get_subject_name(cert)) + ", expires " + asn1_time(X509_get0_notAfter(cert));
}

Result<X509Ptr> load_cert(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "r"));
  if (!f) return make_error(ErrorCode::kIo, "cannot read certificate " + path + ": " + std::strerror(errno));
  X509Ptr cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return make_error(ErrorCode::kInvalidArgument, path + " is not a PEM certificate (" + drain_errors() + ")");
  }
  return cert;
}

Result<PkeyPtr> load_key(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "r"));
  if (!f) return make_error(ErrorCode::kIo, "cannot read private key " + path + ": " + std::strerror(errno));
  // An empty passphrase callback: encrypted keys are refused instead of prompting on a tty.
  PkeyPtr key(PEM_read_PrivateKey(f.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  if (!key) {
    return make_error(ErrorCode::kInvalidArgument,
                      path + " is not an unencrypted PEM private key (" + drain_errors() + ")");
  }
  return key;
}

int version_constant(std::string_view v) {
  if (v == "1.0" || v == "legacy") return TLS1_VERSION;
  if (v == "1.1") return TLS1_1_VERSION;
  if (v == "1.3") return TLS1_3_VERSION;
  return TLS1_2_VERSION;
}

}  // namespace

std::string drain_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::optional<std::string> check_min_version(std::string_view value) {
  if (value == "1.0" || value == "1.1" || value == "1.2" || value == "1.3" || value == "legacy") {
    return std::nullopt;
  }
  if (value == "ssl2" || value == "ssl3" || value == "sslv2" || value == "sslv3" || value == "SSLv2" ||
      value == "SSLv3") {
    return std::string(
        "SSLv2 and SSLv3 are broken (DROWN, POODLE) and not supported; for old clients use "
        "'legacy' (TLS 1.0 with legacy ciphers)");
  }
  return std::string("expected 1.0, 1.1, 1.2, 1.3 or legacy");
}

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsConfig& config) {
  ERR_clear_error();
  auto cert = load_cert(config.cert_file);
  if (!cert) return cert.error();
  auto key = load_key(config.key_file);
  if (!key) return key.error();

  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return make_error(ErrorCode::kInternal, "SSL_CTX_new: " + drain_errors());
  SSL_CTX_set_min_proto_version(ctx.get(), version_constant(config.min_version));
  SSL_CTX_set_max_proto_version(ctx.get(), 0);  // highest supported
  const bool legacy = config.min_version == "legacy" || config.min_version == "1.0" || config.min_version == "1.1";
  std::string ciphers = !config.ciphers.empty() ? config.ciphers : (legacy ? kLegacyCiphers : kDefaultCiphers);
  if (SSL_CTX_set_cipher_list(ctx.get(), ciphers.c_str()) != 1) {
    return make_error(ErrorCode::kInvalidArgument, "bad cipher list '" + ciphers + "': " + drain_errors());
  }
  if (!config.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx.get(), config.ciphersuites.c_str()) != 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "bad TLS 1.3 ciphersuites '" + config.ciphersuites + "': " + drain_errors());
  }
  // The certificate file may carry the chain after the leaf.
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), config.cert_file.c_str()) != 1) {
    return make_error(ErrorCode::kInvalidArgument, "cannot use certificate " + config.cert_file + ": " + drain_errors());
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), key->get()) != 1 || SSL_CTX_check_private_key(ctx.get()) != 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "private key " + config.key_file + " does not match certificate " + config.cert_file);
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                     SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
  // Idle sessions keep no read/write buffers: a large share of per-session memory otherwise.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // No resumption at all: SSL_OP_NO_TICKET alone still makes TLS 1.3 send two (stateful)
  // session tickets that nothing here could ever resume. Send none.
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  auto out = std::make_shared<TlsContext>(Token{});
  out->ctx_ = std::move(ctx);
  out->config_ = config;
  out->summary_ = summarize(cert->get());
  return out;
}

Result<std::string> check_certificate(const std::string& cert_file, const std::string& key_file,
                                      const std::string& chain_file) {
  ERR_clear_error();
  auto cert = load_cert(cert_file);
  if (!cert) return cert.error();
  auto key = load_key(key_file);
  if (!key) return key.error();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::kInvalidArgument,
                      "private key " + key_file + " does not match certificate " + cert_file);
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert->get())) <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "certificate " + cert_file + " expired on " + asn1_time(X509_get0_notAfter(cert->get())));
  }
  if (!chain_file.empty()) {
    FilePtr f(std::fopen(chain_file.c_str(), "r"));
    if (!f) return make_error(ErrorCode::kIo, "cannot read chain " + chain_file + ": " + std::strerror(errno));
    int count = 0;
    while (X509Ptr c{PEM_read_X509(f.get(), nullptr, nullptr, nullptr)}) ++count;
    ERR_clear_error();
    if (count == 0) return make_error(ErrorCode::kInvalidArgument, chain_file + " holds no PEM certificate");
  }
  return summarize(cert->get());
}

Status generate_self_signed(const std::string& cert_file, const std::string& key_file,
                            const std::string& hostname, int days) {
  ERR_clear_error();
  PkeyPtr key(EVP_RSA_gen(2048));
  if (!key) return make_error(ErrorCode::kInternal, "RSA key generation failed: " + drain_errors());
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return make_error(ErrorCode::kInternal, "RAND_bytes failed");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(hostname.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  std::string san = "DNS:" + hostname;
  if (hostname == "localhost") san += ",IP:127.0.0.1,IP:::1";
  for (auto [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                            {NID_basic_constraints, "critical,CA:FALSE"},
                            {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                            {NID_ext_key_usage, "serverAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (!ext) return make_error(ErrorCode::kInternal, "certificate extension failed: " + drain_errors());
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return make_error(ErrorCode::kInternal, "certificate signing failed: " + drain_errors());
  }
  // Write to temporary names, then rename: a running daemon never sees half a file.
  std::string key_tmp = key_file + ".tmp", cert_tmp = cert_file + ".tmp";
  {
    int fd = ::open(key_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return make_error(ErrorCode::kIo, "cannot write " + key_tmp + ": " + std::strerror(errno));
    FilePtr f(fdopen(fd, "w"));
    if (!f || PEM_write_PrivateKey(f.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
        std::fflush(f.get()) != 0 || fsync(fd) != 0) {
      return make_error(ErrorCode::kIo, "cannot write " + key_tmp);
    }
  }
  {
    FilePtr f(std::fopen(cert_tmp.c_str(), "w"));
    if (!f || PEM_write_X509(f.get(), cert.get()) != 1 || std::fflush(f.get()) != 0 || fsync(fileno(f.get())) != 0) {
      return make_error(ErrorCode::kIo, "cannot write " + cert_tmp);
    }
  }
  if (std::rename(key_tmp.c_str(), key_file.c_str()) != 0 || std::rename(cert_tmp.c_str(), cert_file.c_str()) != 0) {
    return make_error(ErrorCode::kIo, std::string("cannot install certificate: ") + std::strerror(errno));
  }
  return {};
}

std::string file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_ino);
}

}  // namespace mailroom::tls
