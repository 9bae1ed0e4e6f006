// TlsStream: OpenSSL over memory BIOs.
#include "core/tls/tls_stream.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace mailroom::tls {

TlsStream::TlsStream(std::shared_ptr<const TlsContext> context) : context_(std::move(context)) {
  ssl_.reset(SSL_new(context_->raw()));
  attach_bios();
  SSL_set_accept_state(ssl_.get());
}

TlsStream::TlsStream(std::shared_ptr<const TlsClientContext> context, const std::string& host)
    : client_context_(std::move(context)) {
  ssl_.reset(SSL_new(client_context_->raw()));
  attach_bios();
  SSL_set_connect_state(ssl_.get());
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_.get());
  // An IP address is checked against the IP SANs; a name is SNI and the host name check.
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
    ERR_clear_error();
    SSL_set_tlsext_host_name(ssl_.get(), host.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl_.get(), host.c_str());
  }
}

void TlsStream::attach_bios() {
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  // An empty read BIO must say "retry", not EOF.
  BIO_set_mem_eof_return(rbio_, -1);
  SSL_set_bio(ssl_.get(), rbio_, wbio_);
}

std::string TlsStream::version() const { return handshake_done_ ? SSL_get_version(ssl_.get()) : ""; }

std::string TlsStream::cipher_name() const {
  return handshake_done_ ? SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_.get())) : "";
}

void TlsStream::drain_output(std::string& cipher) {
  char* data = nullptr;
  long n = BIO_get_mem_data(wbio_, &data);
  if (n > 0) {
    cipher.append(data, static_cast<std::size_t>(n));
    (void)BIO_reset(wbio_);
  }
}

Status TlsStream::feed(std::string_view data, std::string& plain, std::string& cipher) {
  ERR_clear_error();
  if (!data.empty() && BIO_write(rbio_, data.data(), static_cast<int>(data.size())) <= 0) {
    return make_error(ErrorCode::kInternal, "BIO_write failed");
  }
  if (!handshake_done_) {
    int rc = SSL_do_handshake(ssl_.get());
    if (rc == 1) {
      handshake_done_ = true;
    } else {
      int err = SSL_get_error(ssl_.get(), rc);
      drain_output(cipher);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return {};
      std::string why = drain_errors();
      const long verify = SSL_get_verify_result(ssl_.get());
      if (client_context_ && verify != X509_V_OK) {
        why = std::string("certificate verification: ") + X509_verify_cert_error_string(verify) +
              (why.empty() ? "" : " (" + why + ")");
      }
      return make_error(ErrorCode::kInvalidArgument, "TLS handshake failed: " + (why.empty() ? "peer closed" : why));
    }
    if (auto s = flush_pending(cipher); !s) return s;
  }
  char buf[16384];
  for (;;) {
    int n = SSL_read(ssl_.get(), buf, sizeof buf);
    if (n > 0) {
      plain.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_.get(), n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
    if (err == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      break;
    }
    drain_output(cipher);
    std::string why = drain_errors();
    return make_error(ErrorCode::kInvalidArgument, "TLS read failed: " + (why.empty() ? "connection reset" : why));
  }
  drain_output(cipher);
  return {};
}

Status TlsStream::flush_pending(std::string& cipher) {
  if (pending_plain_.empty()) return {};
  std::string data = std::move(pending_plain_);
  pending_plain_.clear();
  return write(data, cipher);
}

Status TlsStream::write(std::string_view plain, std::string& cipher) {
  if (!handshake_done_) {
    pending_plain_.append(plain);
    return {};
  }
  ERR_clear_error();
  while (!plain.empty()) {
    // Memory BIOs grow as needed, so a write never blocks; big chunks make fewer records.
    int n = SSL_write(ssl_.get(), plain.data(), static_cast<int>(std::min<std::size_t>(plain.size(), 1 << 20)));
    if (n <= 0) {
      drain_output(cipher);
      return make_error(ErrorCode::kInternal, "TLS write failed: " + drain_errors());
    }
    plain.remove_prefix(static_cast<std::size_t>(n));
  }
  drain_output(cipher);
  return {};
}

void TlsStream::close_notify(std::string& cipher) {
  if (!handshake_done_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_.get());  // sends our close_notify; we do not wait for the peer's
  ERR_clear_error();
  drain_output(cipher);
}

}  // namespace mailroom::tls
