// The Module interface: a protocol (pop3, smtp) registers a factory for sessions; the core owns
// every socket and hands a session its Connection.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/config/setting_spec.h"
#include "core/tls/tls_context.h"

namespace mailroom::core {

class Connection;

// What the core tells a protocol session about its connection's life.
class ProtocolSession {
 public:
  virtual ~ProtocolSession() = default;
  virtual void on_open() = 0;
  // One line without its line ending; only called while input is not paused.
  virtual void on_line(std::string_view line) = 0;
  // A line longer than max_command_length arrived; it has been discarded.
  virtual void on_line_too_long() = 0;
  // The write queue fell below the low-water mark after being above the high-water mark.
  virtual void on_drain() {}
  // The idle timer expired: return a last line to send (may be empty), then the core closes.
  virtual std::string on_idle_timeout() { return {}; }
  // The connection is going away (peer closed, error, shutdown); no more writes are possible.
  virtual void on_close() {}
};

struct ServiceContext {
  std::string service_name;
  std::shared_ptr<const config::ServiceSettings> settings;
  // The service's current TLS context (null when no usable certificate): offered for STLS.
  std::shared_ptr<const tls::TlsContext> tls;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual std::string_view name() const = 0;
  virtual const config::SettingsCatalog& settings_catalog() const = 0;
  virtual std::unique_ptr<ProtocolSession> create_session(Connection& connection,
                                                          const ServiceContext& context) = 0;
  // Sent (then closed) to a client over the service's connection limit.
  virtual std::string busy_reply() const = 0;
};

}  // namespace mailroom::core
