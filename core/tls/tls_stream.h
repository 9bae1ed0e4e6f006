// TlsStream: one TLS connection over two memory BIOs, the server side (a service's Connection) or
// the client side (the relay to the smarthost). The Connection feeds it
// ciphertext from the socket and sends the ciphertext it produces; no socket is touched here.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/tls/openssl_ptr.h"
#include "core/tls/tls_client_context.h"
#include "core/tls/tls_context.h"

namespace mailroom::tls {

class TlsStream {
 public:
  explicit TlsStream(std::shared_ptr<const TlsContext> context);
  // The client side, talking to `host` (a name: sent as SNI and checked against the certificate's
  // names; an IP address: checked against its IP SANs). The handshake starts at the first feed()
  // (feed("") produces the ClientHello).
  TlsStream(std::shared_ptr<const TlsClientContext> context, const std::string& host);

  // Takes ciphertext from the peer; appends any plaintext it yields to `plain` and any
  // ciphertext to send (handshake replies, alerts, queued writes) to `cipher`. An error means
  // the connection must be closed (after sending `cipher`, which may hold an alert).
  Status feed(std::string_view data, std::string& plain, std::string& cipher);
  // Encrypts `plain` (queued until the handshake completes) and appends ciphertext to `cipher`.
  Status write(std::string_view plain, std::string& cipher);

  // Appends a close_notify alert to `cipher` (after the handshake; a no-op before).
  void close_notify(std::string& cipher);

  bool handshake_done() const { return handshake_done_; }
  bool peer_closed() const { return peer_closed_; }
  std::string version() const;
  std::string cipher_name() const;

 private:
  Status flush_pending(std::string& cipher);
  void drain_output(std::string& cipher);

  void attach_bios();

  std::shared_ptr<const TlsContext> context_;  // keeps the SSL_CTX of this session alive
  std::shared_ptr<const TlsClientContext> client_context_;  // the same, client side
  SslPtr ssl_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  BIO* wbio_ = nullptr;  // owned by ssl_
  std::string pending_plain_;  // written before the handshake finished
  bool handshake_done_ = false;
  bool peer_closed_ = false;
};

}  // namespace mailroom::tls
