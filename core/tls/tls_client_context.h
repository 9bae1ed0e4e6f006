// TlsClientContext: an immutable client SSL_CTX for connections this process makes (the relay to
// the smarthost): TLS >= 1.2, the peer's certificate verified by default against the system
// store or a given CA file. The host name / IP check and SNI are per connection: TlsStream's
// client constructor sets them. Building reads files: do it off any event loop thread.
#pragma once

#include <memory>
#include <string>

#include "core/base/result.h"
#include "core/tls/openssl_ptr.h"

namespace mailroom::tls {

struct TlsClientConfig {
  bool verify = true;   // false: any certificate is accepted (the connection is still encrypted)
  std::string ca_file;  // PEM certificates to trust; empty = the system store
  bool operator==(const TlsClientConfig&) const = default;
};

class TlsClientContext {
 public:
  static Result<std::shared_ptr<TlsClientContext>> create(const TlsClientConfig& config);
  SSL_CTX* raw() const { return ctx_.get(); }
  const TlsClientConfig& config() const { return config_; }

 private:
  struct Token {};

 public:
  explicit TlsClientContext(Token) {}

 private:
  SslCtxPtr ctx_;
  TlsClientConfig config_;
};

}  // namespace mailroom::tls
