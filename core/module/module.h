// The Module interface: a protocol module creates a session per connection; the core owns
// every socket and hands a session its Connection.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/config/setting_spec.h"
#include "core/log/transcript.h"
#include "core/net/line_reader.h"
#include "core/tls/tls_context.h"

namespace mailroom::core {

class Connection;

// The deadlines a connection enforces (ConnectionLimits): silence (idle_timeout), one command
// line taking too long to arrive (command_timeout), no login yet (login_timeout), no TLS
// handshake yet (handshake_timeout).
enum class Timeout { kIdle, kCommand, kLogin, kHandshake };
const char* timeout_name(Timeout which);

// What a session says about itself (mailctl sessions): the mailbox once logged in (a full
// address, empty before), and its protocol state in the protocol's own words (POP3
// "AUTHORIZATION", "TRANSACTION"; SMTP "greeting", "mail", "data").
struct SessionInfo {
  std::string mailbox;
  std::string state;
};

// What the core tells a protocol session about its connection's life.
class ProtocolSession {
 public:
  virtual ~ProtocolSession() = default;
  virtual SessionInfo describe() const { return {}; }
  virtual void on_open() = 0;
  // One command line without its line ending, and which ending it had (with lenient framing
  // only CRLF or LF); only called while input is not paused.
  virtual void on_line(std::string_view line, LineEnding ending) = 0;
  // The form of a command line a transcript may show (debug_transcript), asked just before
  // on_line() gets it: the protocol replaces secrets (passwords, every line of a SASL exchange)
  // with "<redacted>". The default shows only the line's first word.
  virtual std::string loggable_line(std::string_view line) const { return log::redact_after(line, 1); }
  // A command line longer than the line limit arrived; it has been discarded.
  virtual void on_line_too_long() = 0;
  // Body mode (Connection::begin_body): one line of data, un-stuffed, without its ending; then
  // the end of the body with what was counted and dropped. Only called while input is not paused.
  virtual void on_body_line(std::string_view line, LineEnding ending) {
    (void)line;
    (void)ending;
  }
  virtual void on_body_end(const BodySummary& summary) { (void)summary; }
  // The write queue fell below the low-water mark after being above the high-water mark.
  virtual void on_drain() {}
  // A deadline passed (see Timeout): return a last line to send (may be empty), then the core
  // closes. For kHandshake the line is not sent (nothing can be said before TLS is up).
  virtual std::string on_timeout(Timeout which) {
    (void)which;
    return {};
  }
  // The connection is going away (peer closed, error, shutdown); no more writes are possible.
  virtual void on_close() {}
};

// What a protocol session asks of its service's network policy: anti-hammering and auto-deny.
// Implemented by core::Service; valid for as long as the session's Connection lives.
struct LoginFailure {
  std::chrono::milliseconds delay{0};  // hold the failure reply this long (growing per failure)
  bool blocked = false;                // the client is blocked (by this failure or before): reply, then close
};

// One password check admitted by ClientPolicy::admit_login(). While it exists it holds one of
// the address's check slots; destroying it lets the next waiting login of that address run.
// Its results count even when the client has gone meanwhile (a failure is a guess all the same).
class LoginCheck {
 public:
  virtual ~LoginCheck() = default;
  virtual LoginFailure failed() = 0;
  // false: the address was blocked while the check ran; the login must be refused.
  virtual bool succeeded() = 0;
};
using LoginCheckStart = std::function<void(std::shared_ptr<LoginCheck>)>;

class ClientPolicy {
 public:
  virtual ~ClientPolicy() = default;
  // The client's address is blocked right now (refuse any login attempt without checking it).
  virtual bool login_blocked(const Connection& connection) = 0;
  // Admits a password check (argon2id and the like cost CPU): `start` runs on the loop, at once
  // or when the address has a free slot (login_checks_per_ip, and never more checks in flight
  // than failures left before a block), with the check, or with null if the address is blocked
  // by then (refuse without checking). Never called if the connection closes while it waits.
  virtual void admit_login(Connection& connection, LoginCheckStart start) = 0;
  // A failed login that needed no admitted check (a mechanism refused the proof on the loop).
  // Failures while the address is already blocked are counted but do not restart the block.
  virtual LoginFailure login_failed(const Connection& connection) = 0;
  // A successful login without an admitted check; false: the address is blocked, refuse it.
  virtual bool login_succeeded(const Connection& connection) = 0;
  // A command line over max_command_length arrived. true: the client was put on the temporary
  // deny list (auto_deny); send a last line and close.
  virtual bool command_too_long(const Connection& connection) = 0;
};

struct ModuleReplies;  // module_descriptor.h

struct ServiceContext {
  std::string service_name;
  std::shared_ptr<const config::ServiceSettings> settings;
  // The service's current TLS context (null when no usable certificate): offered for the
  // in-protocol upgrade.
  std::shared_ptr<const tls::TlsContext> tls;
  ClientPolicy* policy = nullptr;  // never null for sessions created by a Service
  // The module's fixed replies (its descriptor's): for on_timeout() and an auto-deny close.
  const ModuleReplies* replies = nullptr;  // never null for sessions created by a Service
};

// One instance of a protocol module (made by its descriptor's factory, see
// module_descriptor.h): creates the session of each accepted connection.
class Module {
 public:
  virtual ~Module() = default;
  virtual std::unique_ptr<ProtocolSession> create_session(Connection& connection,
                                                          const ServiceContext& context) = 0;
};

}  // namespace mailroom::core
