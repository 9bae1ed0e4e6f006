// SmarthostConnection: one blocking TCP connection from the relay's thread to the smarthost,
// plaintext or (after start_tls()) TLS through a client TlsStream. Every wait is a poll() bounded
// by the timeout given at connect, in short slices that also watch the relay's stop flag, so a
// daemon shutdown never waits on a slow smarthost for longer than a slice.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/tls/tls_client_context.h"
#include "core/tls/tls_stream.h"
#include "storage/maildir/unique_fd.h"

namespace mailroom::relay {

class SmarthostConnection {
 public:
  // Resolves `host` (BLOCKING DNS: the relay's thread only) and connects to the first address
  // that answers within `timeout` each.
  static Result<std::unique_ptr<SmarthostConnection>> open(const std::string& host, int port,
                                                           std::chrono::milliseconds timeout,
                                                           const std::atomic<bool>& stop);

  SmarthostConnection(storage::UniqueFd fd, std::chrono::milliseconds timeout, const std::atomic<bool>& stop)
      : fd_(std::move(fd)), timeout_(timeout), stop_(stop) {}

  // The TLS handshake with `host` as the certificate's expected name (or IP address).
  Status start_tls(std::shared_ptr<const tls::TlsClientContext> context, const std::string& host);
  // Waits for data (plaintext, decrypted after start_tls()); kTemporary on timeout, a closed
  // connection or a TLS error.
  Result<std::string> read();
  // Sends all of `data` (encrypted after start_tls()).
  Status write(std::string_view data);
  // A TLS close_notify (best effort), then the socket closes on destruction.
  void close();

  std::string tls_version() const { return tls_ ? tls_->version() : ""; }

 private:
  // Waits until the socket is readable (or writable); kTemporary on timeout or stop.
  Status wait(short events);
  Status send_raw(std::string_view data);
  Result<std::string> recv_raw();

  storage::UniqueFd fd_;
  std::chrono::milliseconds timeout_;
  const std::atomic<bool>& stop_;
  std::unique_ptr<tls::TlsStream> tls_;
};

}  // namespace mailroom::relay
