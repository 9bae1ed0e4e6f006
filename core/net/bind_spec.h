// Bind specifications: which address/port pairs (or unix-domain socket path) a service listens on.
#pragma once

#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace mailroom::net {

struct BindSpec {
  std::string address;  // numeric IPv4/IPv6, "*" for all addresses (IPv4 and IPv6), or a host name
  int port = 0;
  // Set: a unix-domain stream socket at this absolute path (address and port unused).
  std::string unix_path;

  BindSpec() = default;
  BindSpec(std::string address_in, int port_in) : address(std::move(address_in)), port(port_in) {}
  static BindSpec unix_socket(std::string path) {
    BindSpec spec;
    spec.unix_path = std::move(path);
    return spec;
  }
  bool is_unix() const { return !unix_path.empty(); }
  bool operator==(const BindSpec&) const = default;
  bool operator<(const BindSpec& o) const {
    if (unix_path != o.unix_path) return unix_path < o.unix_path;
    return address < o.address || (address == o.address && port < o.port);
  }
  std::string str() const;  // "127.0.0.1:110", "[::1]:110", "*:110", "unix:/path"
  bool is_numeric() const;  // not a host name (a unix socket path is not one either)
};

// Two listeners that cannot exist at once: the same address and port, or a wildcard and any
// address on the same port (Linux refuses that with EADDRINUSE even under SO_REUSEADDR), or the
// same unix socket path. Host names are compared as written.
bool binds_collide(const BindSpec& a, const BindSpec& b);

// RFC 1123 host name syntax (letters, digits, '-', dots; at least one letter).
bool is_host_name(std::string_view text);

// Host-name entries resolved to every address they have (BLOCKING: call off the loop); numeric
// entries pass through. An unresolvable name is an error for that entry only.
struct ResolvedBinds {
  std::vector<BindSpec> binds;
  std::vector<std::pair<BindSpec, std::string>> errors;
  bool operator==(const ResolvedBinds&) const = default;
};
ResolvedBinds resolve_binds(const std::vector<BindSpec>& specs);

// Parses "127.0.0.1, 127.0.0.2 1110; [::1]:1110; *" (empty = "*"; "none" alone = no entry at
// all: no TCP listener of that kind). `default_port` is used where an entry names no port; 0
// means "no default" (then any port-less entry still parses with port 0).
Result<std::vector<BindSpec>> parse_bind_list(std::string_view text, int default_port);

// Setting validator for bind lists: the parse error, or nullopt when the text is valid.
std::optional<std::string> check_bind_list(std::string_view text);

}  // namespace mailroom::net
