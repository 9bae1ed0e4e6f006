// Server TLS contexts from a service's TLS settings, and the files' change stamps.
#include "core/tls/tls_context.h"

#include <openssl/err.h>
#include <sys/stat.h>

#include <optional>

#include "core/tls/certificate.h"

namespace mailroom::tls {

namespace {

// Mozilla's "intermediate" list: forward secrecy and AEAD only.
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";
// Old clients (TLS 1.0/1.1) only speak CBC-SHA1 suites, which OpenSSL 3 hides above level 0.
constexpr const char* kLegacyCiphers = "DEFAULT:@SECLEVEL=0";

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
  auto cert = load_certificate(config.cert_file);
  if (!cert) return cert.error();
  auto key = load_private_key(config.key_file);
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
  out->not_after_ = certificate_time(X509_get0_notAfter(cert->get()));
  return out;
}

std::string file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_ino);
}

}  // namespace mailroom::tls
