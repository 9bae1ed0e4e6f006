// Control requests (docs/control.md): one JSON object per line in ({"command":"status"}), one per
// line out ({"ok":true, ...} or {"ok":false,"error":"...","code":"not_found"}). Parsing,
// checking and dispatching a request is pure: what the daemon does is behind ControlTarget
// (control_actions.h), so this is tested without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace mailroom::daemon {

using Json = nlohmann::ordered_json;

// One request line at most this long with its ending (the control connection's line limit).
inline constexpr std::size_t kMaxControlRequest = 4096;

// Which sessions `kill` ends: exactly one of the three is set.
struct KillTarget {
  std::optional<uint64_t> id;
  std::string address;  // a mailbox's full address
  std::string ip;
};

enum class ServiceAction { kStart, kStop, kRestart };

// A finished request: the reply's fields besides "ok", or the error.
using ControlDone = std::function<void(Result<Json>)>;

// What the daemon answers (loop thread). Synchronous answers return; service actions and reload
// call `done` once, later, on the loop.
class ControlTarget {
 public:
  virtual ~ControlTarget() = default;
  virtual Json status() = 0;
  // Every session, or those of `service` (kNotFound when it does not run).
  virtual Result<Json> sessions(const std::string& service) = 0;
  virtual Result<Json> kill(const KillTarget& target) = 0;
  virtual void service(ServiceAction action, const std::string& name, ControlDone done) = 0;
  virtual void reload(ControlDone done) = 0;
};

// Answers one request line (without its ending): `reply` gets the reply line (JSON, no ending)
// exactly once, at once or later.
void handle_control_request(std::string_view line, ControlTarget& target, std::function<void(std::string)> reply);

// {"ok":false,"error":MESSAGE,"code":NAME} with the name of error_code_name().
std::string control_error(const Error& error);
// {"ok":true, ...fields}
std::string control_ok(const Json& fields);
// The reply to a request line over kMaxControlRequest.
std::string control_request_too_long();

}  // namespace mailroom::daemon
