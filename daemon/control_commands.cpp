// Control requests: parse, check, dispatch to the ControlTarget, format the reply.
#include "daemon/control_commands.h"

#include <array>
#include <memory>
#include <utility>

namespace mailroom::daemon {

namespace {

Error invalid(std::string message) { return make_error(ErrorCode::kInvalidArgument, std::move(message)); }

// The request's keys besides "command" must be among `allowed`.
Status only_keys(const Json& request, const std::string& command, std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : request.items()) {
    if (key == "command") continue;
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) return invalid("command '" + command + "' takes no key '" + key + "'");
  }
  return {};
}

Result<std::string> string_key(const Json& request, const char* key, bool required) {
  auto it = request.find(key);
  if (it == request.end() || it->is_null()) {
    if (required) return invalid(std::string("missing key '") + key + "'");
    return std::string();
  }
  if (!it->is_string()) return invalid(std::string("key '") + key + "' must be a string");
  std::string value = it->get<std::string>();
  if (required && value.empty()) return invalid(std::string("key '") + key + "' is empty");
  return value;
}

Result<KillTarget> kill_target(const Json& request) {
  KillTarget target;
  int given = 0;
  if (auto it = request.find("id"); it != request.end() && !it->is_null()) {
    if (!it->is_number_unsigned()) return invalid("key 'id' must be a session id (a positive number)");
    target.id = it->get<uint64_t>();
    ++given;
  }
  auto address = string_key(request, "address", false);
  if (!address) return address.error();
  auto ip = string_key(request, "ip", false);
  if (!ip) return ip.error();
  target.address = *address;
  target.ip = *ip;
  given += !target.address.empty();
  given += !target.ip.empty();
  if (given != 1) return invalid("kill needs exactly one of 'id', 'address' or 'ip'");
  return target;
}

constexpr std::array<std::pair<const char*, ServiceAction>, 3> kServiceCommands{{
    {"service-start", ServiceAction::kStart},
    {"service-stop", ServiceAction::kStop},
    {"service-restart", ServiceAction::kRestart},
}};

}  // namespace

std::string control_error(const Error& error) {
  Json out = {{"ok", false}, {"error", error.message}, {"code", error_code_name(error.code)}};
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string control_ok(const Json& fields) {
  Json out = {{"ok", true}};
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) out[key] = value;
  }
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string control_request_too_long() {
  return control_error(invalid("request longer than " + std::to_string(kMaxControlRequest) + " bytes"));
}

void handle_control_request(std::string_view line, ControlTarget& target, std::function<void(std::string)> reply) {
  if (line.size() >= kMaxControlRequest) {
    reply(control_request_too_long());
    return;
  }
  ControlDone answer = [reply = std::move(reply)](Result<Json> result) {
    reply(result ? control_ok(*result) : control_error(result.error()));
  };
  Json request = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded() || !request.is_object()) {
    answer(invalid("not a JSON object: send one object per line, e.g. {\"command\":\"status\"}"));
    return;
  }
  auto command = string_key(request, "command", true);
  if (!command) {
    answer(command.error());
    return;
  }
  const std::string& name = *command;
  if (name == "status" || name == "reload") {
    if (Status s = only_keys(request, name, {}); !s) {
      answer(s.error());
    } else if (name == "status") {
      answer(target.status());
    } else {
      target.reload(std::move(answer));
    }
    return;
  }
  if (name == "sessions") {
    auto service = string_key(request, "service", false);
    Status keys = only_keys(request, name, {"service"});
    answer(!keys ? Result<Json>(keys.error()) : !service ? Result<Json>(service.error()) : target.sessions(*service));
    return;
  }
  if (name == "kill") {
    Status keys = only_keys(request, name, {"id", "address", "ip"});
    if (!keys) {
      answer(keys.error());
      return;
    }
    auto which = kill_target(request);
    answer(which ? target.kill(*which) : Result<Json>(which.error()));
    return;
  }
  for (const auto& [command_name, action] : kServiceCommands) {
    if (name != command_name) continue;
    Status keys = only_keys(request, name, {"service"});
    auto service = string_key(request, "service", true);
    if (!keys || !service) {
      answer(!keys ? keys.error() : service.error());
      return;
    }
    target.service(action, *service, std::move(answer));
    return;
  }
  answer(make_error(ErrorCode::kNotFound, "unknown command '" + name +
                                              "' (status, sessions, kill, service-start, service-stop, "
                                              "service-restart, reload)"));
}

}  // namespace mailroom::daemon
