// TlsContext: an immutable server SSL_CTX built from a service's TLS settings (certificate, key,
// protocol floor, ciphers). Building reads files: do it off the loop thread. The files themselves
// (loading, checks, generation) are core/tls/certificate.h's. Sessions hold a
// shared_ptr, so a reload never disturbs a session already running on the old context.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/tls/openssl_ptr.h"

namespace mailroom::tls {

struct TlsConfig {
  std::string cert_file;     // PEM: the certificate, optionally followed by its chain
  std::string key_file;      // PEM private key (unencrypted)
  std::string min_version;   // "1.0", "1.1", "1.2", "1.3" or "legacy" (= 1.0, old ciphers allowed)
  std::string ciphers;       // TLS <= 1.2 cipher list; empty = safe default
  std::string ciphersuites;  // TLS 1.3 suites; empty = OpenSSL default
  bool operator==(const TlsConfig&) const = default;
};

// Checks a tls_min_version value; the error explains why SSLv2/SSLv3 are refused.
std::optional<std::string> check_min_version(std::string_view value);

class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> create(const TlsConfig& config);
  SSL_CTX* raw() const { return ctx_.get(); }
  const TlsConfig& config() const { return config_; }
  // "CN=mail.example.test, expires 2036-11-20" for logs and status.
  const std::string& summary() const { return summary_; }
  // The certificate's notAfter, unix seconds (for the expiry warning).
  int64_t not_after() const { return not_after_; }

 private:
  struct Token {};

 public:
  explicit TlsContext(Token) {}

 private:
  SslCtxPtr ctx_;
  TlsConfig config_;
  std::string summary_;
  int64_t not_after_ = 0;
};

// A stable fingerprint of the files' identity (mtime, size, inode): changes when they are replaced.
std::string file_stamp(const std::string& path);

}  // namespace mailroom::tls
