// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) a load balancer
// sends before the client's first byte, naming the client's real address. Pure: bytes in, a
// verdict out; the connection side is core/net/connection (read_proxy_header) and the policy
// side core/module/service_proxy.cpp.
//   v1: "PROXY TCP4|TCP6|UNKNOWN <src> <dst> <sport> <dport>\r\n", at most 107 octets.
//   v2: the 12-octet signature, version/command, family/transport, a 16-bit length, the
//       addresses, then TLVs (skipped).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailroom::net {

// The longest header the v2 length field allows (16 + 65535); a service's proxy_max_header is
// at most this.
inline constexpr std::size_t kProxyHeaderAbsoluteMax = 16 + 65535;
// The longest v1 header, CRLF included (the spec's bound).
inline constexpr std::size_t kProxyV1MaxLength = 107;

struct ProxyHeader {
  int version = 0;  // 1 or 2
  // The balancer names no client (v1 UNKNOWN, v2 LOCAL such as a health check, v2 AF_UNSPEC,
  // AF_UNIX or an unspecified transport): the connection's own addresses stand.
  bool use_connection_address = false;
  bool ipv6 = false;
  std::string source_ip, dest_ip;  // text form ("192.0.2.7", "2001:db8::1"); empty without addresses
  int source_port = 0, dest_port = 0;
  std::size_t length = 0;  // octets of the header, TLVs included; the client's data follows
};

struct ProxyParse {
  enum class Status { kNeedMore, kInvalid, kComplete };
  Status status = Status::kNeedMore;
  std::string error;   // kInvalid: what was wrong, for the log
  ProxyHeader header;  // kComplete
};

// Reads a header from the start of `bytes` (everything received so far). kNeedMore while
// `bytes` is a proper prefix of a header that fits `max_length`; kInvalid as soon as it cannot
// become one (no PROXY signature, a malformed or unsupported field, longer than max_length).
ProxyParse parse_proxy_header(std::string_view bytes, std::size_t max_length);

}  // namespace mailroom::net
