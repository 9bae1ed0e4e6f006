// Parser for bind lists ("127.0.0.1 1110, [::1]:1110; *").
#include "core/net/bind_spec.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <charconv>
#include <memory>

namespace mailroom::net {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "none": the list names no address at all (the word is never taken as a host name).
bool is_none(std::string_view s) {
  constexpr std::string_view kNone = "none";
  if (s.size() != kNone.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((s[i] | 0x20) != kNone[i]) return false;
  }
  return true;
}

// inet_pton reads a C string: a NUL inside `s` would end the address early and pass its tail.
bool is_ipv4(std::string_view s) {
  in_addr a{};
  return s.find('\0') == std::string_view::npos && inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}

bool is_ipv6(std::string_view s) {
  in6_addr a{};
  return s.find('\0') == std::string_view::npos && inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

Result<int> parse_port(std::string_view s, std::string_view entry) {
  int port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || port < 1 || port > 65535) {
    return make_error(ErrorCode::kInvalidArgument,
                      "bad port '" + std::string(s) + "' in bind '" + std::string(entry) +
                          "' (expected 1-65535)");
  }
  return port;
}

Result<BindSpec> parse_entry(std::string_view entry, int default_port) {
  BindSpec spec;
  std::string_view addr = entry;
  std::string_view port_text;
  bool port_expected = false;  // a ':' announced a port
  if (!entry.empty() && entry.front() == '[') {  // [v6]:port or [v6] port or [v6]
    auto close = entry.find(']');
    if (close == std::string_view::npos) {
      return make_error(ErrorCode::kInvalidArgument, "missing ']' in bind '" + std::string(entry) + "'");
    }
    addr = entry.substr(1, close - 1);
    std::string_view rest = entry.substr(close + 1);
    if (!rest.empty() && rest.front() == ':') {
      rest.remove_prefix(1);
      port_expected = true;
    }
    port_text = trim(rest);
    if (!is_ipv6(addr)) {
      return make_error(ErrorCode::kInvalidArgument, "'" + std::string(addr) + "' is not an IPv6 address");
    }
  } else {
    auto space = entry.find_first_of(" \t");
    if (space != std::string_view::npos) {
      addr = entry.substr(0, space);
      port_text = trim(entry.substr(space));
    } else if (entry.find(':') != std::string_view::npos && !is_ipv6(entry)) {
      auto colon = entry.rfind(':');  // a.b.c.d:port or *:port
      addr = entry.substr(0, colon);
      port_text = entry.substr(colon + 1);
      port_expected = true;
    }
    if (is_none(addr)) {  // never a host name
      return make_error(ErrorCode::kInvalidArgument,
                        "'none' (no listener) must stand alone in a bind list, without addresses or a port");
    }
    if (addr != "*" && !is_ipv4(addr) && !is_ipv6(addr) && !is_host_name(addr)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "'" + std::string(addr) + "' is not an IP address, a host name or '*'");
    }
  }
  spec.address = std::string(addr);
  if (spec.address.find(':') != std::string::npos) {  // one spelling per IPv6 address
    in6_addr a{};
    char buf[INET6_ADDRSTRLEN];
    inet_pton(AF_INET6, spec.address.c_str(), &a);
    spec.address = inet_ntop(AF_INET6, &a, buf, sizeof buf);
  }
  if (port_expected && port_text.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "missing port after ':' in bind '" + std::string(entry) + "'");
  }
  if (!port_text.empty()) {
    auto port = parse_port(port_text, entry);
    if (!port) return port.error();
    spec.port = *port;
  } else {
    spec.port = default_port;
  }
  return spec;
}

}  // namespace

bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  bool any_alpha = false;
  std::size_t label = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool ok = alpha || (c >= '0' && c <= '9') || (c == '-' && label > 0);
    if (!ok || ++label > 63) return false;
    any_alpha = any_alpha || alpha;
  }
  // All digits and dots would be a malformed IPv4 address, not a name.
  return label > 0 && s.back() != '-' && any_alpha;
}

bool binds_collide(const BindSpec& a, const BindSpec& b) {
  if (a.is_unix() || b.is_unix()) return a.unix_path == b.unix_path;
  return a.port == b.port && (a.address == "*" || b.address == "*" || a.address == b.address);
}

bool BindSpec::is_numeric() const { return is_unix() || address == "*" || is_ipv4(address) || is_ipv6(address); }

ResolvedBinds resolve_binds(const std::vector<BindSpec>& specs) {
  ResolvedBinds out;
  auto add = [&out](BindSpec spec) {
    for (const auto& s : out.binds) {
      if (s == spec) return;
    }
    out.binds.push_back(std::move(spec));
  };
  for (const auto& spec : specs) {
    if (spec.is_numeric()) {
      add(spec);
      continue;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(spec.address.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
      out.errors.emplace_back(spec, "cannot resolve host name '" + spec.address + "': " + gai_strerror(rc));
      continue;
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      char buf[INET6_ADDRSTRLEN] = {};
      const void* where = ai->ai_family == AF_INET
                              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
                              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
      if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || !inet_ntop(ai->ai_family, where, buf, sizeof buf)) {
        continue;
      }
      add(BindSpec{buf, spec.port});
    }
  }
  return out;
}

std::string BindSpec::str() const {
  if (is_unix()) return "unix:" + unix_path;
  if (address.find(':') != std::string::npos) return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

Result<std::vector<BindSpec>> parse_bind_list(std::string_view text, int default_port) {
  std::vector<BindSpec> out;
  text = trim(text);
  if (text.empty()) text = "*";
  if (is_none(text)) return out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto sep = text.find_first_of(",;", start);
    std::string_view entry = trim(text.substr(start, sep == std::string_view::npos ? text.npos : sep - start));
    if (entry.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "empty entry in bind list '" + std::string(text) + "'");
    }
    auto spec = parse_entry(entry, default_port);
    if (!spec) return spec.error();
    bool dup = false;
    for (const auto& s : out) dup = dup || s == *spec;
    if (!dup) out.push_back(std::move(spec).value());
    if (sep == std::string_view::npos) break;
    start = sep + 1;
  }
  return out;
}

std::optional<std::string> check_bind_list(std::string_view text) {
  auto parsed = parse_bind_list(text, 1);
  if (!parsed) return parsed.error().message;
  return std::nullopt;
}

}  // namespace mailroom::net
