// Bind specifications: which address/port pairs a service listens on.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace mailroom::net {

struct BindSpec {
  std::string address;  // numeric IPv4/IPv6, or "*" for all addresses (IPv4 and IPv6)
  int port = 0;
  bool operator==(const BindSpec&) const = default;
  bool operator<(const BindSpec& o) const {
    return address < o.address || (address == o.address && port < o.port);
  }
  std::string str() const;
};

// Parses "127.0.0.1, 127.0.0.2 1110; [::1]:1110; *" (empty = "*"). `default_port` is used where
// an entry names no port; 0 means "no default" (then any port-less entry still parses with port 0).
Result<std::vector<BindSpec>> parse_bind_list(std::string_view text, int default_port);

// Setting validator for bind lists: the parse error, or nullopt when the text is valid.
std::optional<std::string> check_bind_list(std::string_view text);

}  // namespace mailroom::net
