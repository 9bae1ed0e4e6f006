// Settings every network service has, handled by the core (listeners, connections, limits).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/setting_spec.h"
#include "core/ipfilter/access_policy.h"
#include "core/ipfilter/hammer_guard.h"

namespace mailroom::config {

// port, binds, alt_port, unix_socket, limits, timeouts, the IP policy and anti-hammering settings. The
// module's own defaults are applied by core::compose_settings_catalog().
std::vector<SettingSpec> network_setting_specs(int64_t default_port);

// The settings one node of a cluster may set for itself, over the cluster's stored value
// (`mailctl service set --local`): where it listens (port, alt_port, binds, and tls_port,
// tls_binds of tls_settings.h). Every other setting is the cluster's.
const std::vector<std::string>& node_local_setting_keys();

// What the core reads of a service's settings, typed: the network settings above plus the
// implicit TLS listener (implicit_tls, tls_port, tls_binds of tls_settings.h). Built once per
// apply, read field by field.
struct NetworkSettings {
  // Listeners
  int port = 0;
  std::string binds;
  int alt_port = 0;  // 0 = none
  std::string unix_socket;  // as configured (relative to the data dir); empty = none
  unsigned unix_socket_mode = 0660;  // permission bits of the socket file
  bool implicit_tls = false;
  int tls_port = 0;
  std::string tls_binds;
  // Connections
  std::chrono::seconds idle_timeout{0};
  std::chrono::seconds command_timeout{0};
  std::chrono::seconds login_timeout{0};  // 0 = no limit
  std::chrono::seconds handshake_timeout{0};
  std::size_t max_command_length = 0;
  std::size_t output_buffer_size = 0;
  std::size_t max_connections = 0;
  std::size_t max_connections_per_ip = 0;  // 0 = no limit
  int login_checks = 1;  // password checks of the whole service at once
  int login_checks_per_ip = 1;
  // Network policy
  ipfilter::AccessMode access_mode = ipfilter::AccessMode::kDeny;
  ipfilter::HammerSettings hammer;
  bool auto_deny = false;
  std::optional<std::chrono::seconds> auto_deny_duration;  // nullopt: until lifted or restart
  // PROXY protocol (docs/proxy-protocol.md)
  bool proxy_protocol = false;
  std::string proxy_trusted;  // address rules (ipfilter::parse_address_rules); empty = nobody
  std::chrono::seconds proxy_timeout{10};
  std::size_t proxy_max_header = 1024;
};

// The permission bits of `unix_socket_mode`: three or four octal digits ("0660", "660"), at
// most 0777 (no set-id or sticky bits); nullopt for anything else.
std::optional<unsigned> parse_socket_mode(std::string_view text);

// Reads the typed value from settings built from a catalog that has the network and TLS
// settings (every module's catalog does). An unreadable access_mode (only a hand-edited
// database) means the default, deny.
NetworkSettings network_settings_from(const ServiceSettings& settings);

}  // namespace mailroom::config
