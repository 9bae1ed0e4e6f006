// Declarations of the core's per-service network settings.
#include "core/config/network_settings.h"

#include "core/net/bind_spec.h"

namespace mailroom::config {

std::vector<SettingSpec> network_setting_specs(int64_t default_port) {
  std::vector<SettingSpec> specs;
  specs.push_back(int_setting("port", default_port, 1, 65535,
                              "TCP port the service listens on (for binds that name no port of their own)."));
  specs.push_back(string_setting(
      "binds", "*", 4096,
      "Addresses to listen on, separated by ',' or ';': '*' (all IPv4 and IPv6 addresses), an IPv4 "
      "or IPv6 address, each optionally followed by a space and a port ('127.0.0.1 1110', "
      "'[::1]:1110'). Entries without a port use 'port'.",
      net::check_bind_list));
  specs.push_back(int_setting("idle_timeout", 600, 1, 86400,
                              "Seconds a connection may stay silent before it is closed (RFC 1939 asks for "
                              "at least 600)."));
  specs.push_back(int_setting("max_command_length", 512, 64, 65536,
                              "Longest accepted command line in bytes, CRLF included; a longer line is "
                              "answered with an error and discarded."));
  specs.push_back(int_setting("max_connections", 200, 1, 1000000,
                              "Concurrent connections the service accepts; over it a client gets a "
                              "temporary-failure reply and is closed."));
  specs.push_back(int_setting("output_buffer_size", 262144, 4096, 67108864,
                              "Bytes of queued output per connection above which the server stops producing "
                              "more (back-pressure) until the client reads."));
  return specs;
}

}  // namespace mailroom::config
