// Client TLS contexts: protocol floor, trust store, verification mode.
#include "core/tls/tls_client_context.h"

#include <openssl/err.h>

namespace mailroom::tls {

Result<std::shared_ptr<TlsClientContext>> TlsClientContext::create(const TlsClientConfig& config) {
  ERR_clear_error();
  auto out = std::make_shared<TlsClientContext>(Token{});
  out->config_ = config;
  out->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  if (!out->ctx_) return make_error(ErrorCode::kInternal, "SSL_CTX_new: " + drain_errors());
  SSL_CTX* ctx = out->ctx_.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, 0);
  if (!config.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
      return make_error(ErrorCode::kInvalidArgument,
                        "cannot load the CA file " + config.ca_file + ": " + drain_errors());
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return make_error(ErrorCode::kInternal, "cannot load the system certificate store: " + drain_errors());
  }
  SSL_CTX_set_verify(ctx, config.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return out;
}

}  // namespace mailroom::tls
