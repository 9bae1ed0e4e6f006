// The PROXY protocol v1/v2 header parser (proxy_header.h).
#include "core/net/proxy_header.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <vector>

namespace mailroom::net {

namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::size_t kV2FixedPart = 16;    // signature, version/command, family, length
constexpr std::size_t kV2Inet = 12;         // two IPv4 addresses, two ports
constexpr std::size_t kV2Inet6 = 36;        // two IPv6 addresses, two ports
constexpr std::size_t kV2TlvHeader = 3;     // type, 16-bit length

ProxyParse need_more() { return {}; }
ProxyParse invalid(std::string why) {
  ProxyParse p;
  p.status = ProxyParse::Status::kInvalid;
  p.error = std::move(why);
  return p;
}
ProxyParse complete(ProxyHeader header) {
  ProxyParse p;
  p.status = ProxyParse::Status::kComplete;
  p.header = std::move(header);
  return p;
}

// `bytes` is a prefix of `what` (or `what` a prefix of `bytes`).
bool agrees(std::string_view bytes, std::string_view what) {
  const std::size_t n = std::min(bytes.size(), what.size());
  return bytes.substr(0, n) == what.substr(0, n);
}

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 40)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return text.size() > 40 ? out + "..." : out;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t sp = line.find(' ', start);
    out.push_back(line.substr(start, sp == std::string_view::npos ? std::string_view::npos : sp - start));
    if (sp == std::string_view::npos) return out;
    start = sp + 1;
  }
}

// An address of `family` in its canonical text form; empty if `text` is not one.
std::string v1_address(std::string_view text, int family) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return {};
  const std::string z(text);
  std::array<unsigned char, 16> raw{};
  if (inet_pton(family, z.c_str(), raw.data()) != 1) return {};
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (inet_ntop(family, raw.data(), buf.data(), buf.size()) == nullptr) return {};
  return buf.data();
}

// A decimal port 0-65535; -1 if `text` is not one.
int v1_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return -1;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value <= 65535 ? value : -1;
}

ProxyParse parse_v1(std::string_view bytes, std::size_t max_length) {
  const std::size_t limit = std::min(kProxyV1MaxLength, max_length);
  const std::size_t end = bytes.find_first_of("\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() >= limit) return invalid("PROXY v1 header without CRLF within " + std::to_string(limit) + " octets");
    return need_more();
  }
  if (bytes[end] == '\n') return invalid("PROXY v1 header ended by a bare LF, not CRLF");
  if (end + 2 > limit) return invalid("PROXY v1 header longer than " + std::to_string(limit) + " octets");
  if (end + 1 == bytes.size()) return need_more();  // the LF is still to come
  if (bytes[end + 1] != '\n') return invalid("PROXY v1 header with a CR not followed by LF");
  const std::string_view line = bytes.substr(kV1Prefix.size(), end - kV1Prefix.size());
  for (char c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return invalid("PROXY v1 header with a control or non-ASCII byte");
    }
  }
  ProxyHeader h;
  h.version = 1;
  h.length = end + 2;
  const auto fields = split_spaces(line);
  if (fields[0] == "UNKNOWN") {  // anything may follow; the connection's own addresses stand
    h.use_connection_address = true;
    return complete(std::move(h));
  }
  if (fields[0] != "TCP4" && fields[0] != "TCP6") {
    return invalid("PROXY v1 protocol '" + printable(fields[0]) + "' is not TCP4, TCP6 or UNKNOWN");
  }
  if (fields.size() != 5) {
    return invalid("PROXY v1 header needs 'PROXY " + std::string(fields[0]) +
                   " <source> <destination> <source port> <destination port>' separated by single spaces");
  }
  h.ipv6 = fields[0] == "TCP6";
  const int family = h.ipv6 ? AF_INET6 : AF_INET;
  h.source_ip = v1_address(fields[1], family);
  h.dest_ip = v1_address(fields[2], family);
  if (h.source_ip.empty()) return invalid("PROXY v1 source '" + printable(fields[1]) + "' is no " + std::string(h.ipv6 ? "IPv6" : "IPv4") + " address");
  if (h.dest_ip.empty()) return invalid("PROXY v1 destination '" + printable(fields[2]) + "' is no " + std::string(h.ipv6 ? "IPv6" : "IPv4") + " address");
  h.source_port = v1_port(fields[3]);
  h.dest_port = v1_port(fields[4]);
  if (h.source_port < 0) return invalid("PROXY v1 source port '" + printable(fields[3]) + "' is not 0-65535");
  if (h.dest_port < 0) return invalid("PROXY v1 destination port '" + printable(fields[4]) + "' is not 0-65535");
  return complete(std::move(h));
}

unsigned octet(std::string_view bytes, std::size_t i) { return static_cast<unsigned char>(bytes[i]); }
int port_at(std::string_view bytes, std::size_t i) { return static_cast<int>(octet(bytes, i) << 8 | octet(bytes, i + 1)); }

std::string v2_address(std::string_view bytes, std::size_t at, int family) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (inet_ntop(family, bytes.data() + at, buf.data(), buf.size()) == nullptr) return {};
  return buf.data();
}

ProxyParse parse_v2(std::string_view bytes, std::size_t max_length) {
  if (bytes.size() < kV2FixedPart) return need_more();
  const unsigned version = octet(bytes, 12) >> 4, command = octet(bytes, 12) & 0xF;
  const unsigned family = octet(bytes, 13) >> 4, transport = octet(bytes, 13) & 0xF;
  const std::size_t body = static_cast<std::size_t>(port_at(bytes, 14));
  const std::size_t total = kV2FixedPart + body;
  if (version != 2) return invalid("PROXY v2 signature with version " + std::to_string(version) + " (only 2 exists)");
  if (command > 1) return invalid("PROXY v2 command " + std::to_string(command) + " is neither LOCAL (0) nor PROXY (1)");
  if (total > max_length) {
    return invalid("PROXY v2 header of " + std::to_string(total) + " octets is over the limit of " +
                   std::to_string(max_length));
  }
  if (bytes.size() < total) return need_more();
  ProxyHeader h;
  h.version = 2;
  h.length = total;
  if (family > 3) return invalid("PROXY v2 address family " + std::to_string(family) + " is unknown");
  if (transport > 2) return invalid("PROXY v2 transport " + std::to_string(transport) + " is unknown");
  std::size_t addresses = 0;  // the octets the address block takes; TLVs follow
  if (command == 1 && (family == 1 || family == 2) && transport != 0) {
    if (transport == 2) return invalid("PROXY v2 names a datagram (UDP) client; the service is a stream (TCP)");
    h.ipv6 = family == 2;
    addresses = h.ipv6 ? kV2Inet6 : kV2Inet;
    if (body < addresses) {
      return invalid("PROXY v2 length " + std::to_string(body) + " is shorter than the " + std::to_string(addresses) +
                     " octets of its " + (h.ipv6 ? "IPv6" : "IPv4") + " addresses");
    }
    const std::size_t size = h.ipv6 ? 16 : 4;
    const int af = h.ipv6 ? AF_INET6 : AF_INET;
    h.source_ip = v2_address(bytes, kV2FixedPart, af);
    h.dest_ip = v2_address(bytes, kV2FixedPart + size, af);
    h.source_port = port_at(bytes, kV2FixedPart + 2 * size);
    h.dest_port = port_at(bytes, kV2FixedPart + 2 * size + 2);
  } else {
    // LOCAL (a health check of the balancer itself), AF_UNSPEC, AF_UNIX or an unspecified
    // transport: no client address to take; the address block is not ours to read.
    h.use_connection_address = true;
    if (command == 0 || family == 0 || family == 3) return complete(std::move(h));
    addresses = family == 2 ? kV2Inet6 : kV2Inet;
    if (body < addresses) return invalid("PROXY v2 length " + std::to_string(body) + " is shorter than its addresses");
  }
  // The TLVs (SSL details, unique ids, padding...) are skipped, but must tile the rest exactly.
  std::size_t at = kV2FixedPart + addresses;
  while (at < total) {
    if (total - at < kV2TlvHeader) return invalid("PROXY v2 TLV header cut short at octet " + std::to_string(at));
    const std::size_t len = static_cast<std::size_t>(port_at(bytes, at + 1));
    if (len > total - at - kV2TlvHeader) {
      return invalid("PROXY v2 TLV of type " + std::to_string(octet(bytes, at)) + " runs past the header's length");
    }
    at += kV2TlvHeader + len;
  }
  return complete(std::move(h));
}

}  // namespace

ProxyParse parse_proxy_header(std::string_view bytes, std::size_t max_length) {
  if (bytes.empty()) return need_more();
  if (agrees(bytes, kV2Signature)) return bytes.size() < kV2Signature.size() ? need_more() : parse_v2(bytes, max_length);
  if (agrees(bytes, kV1Prefix)) return bytes.size() < kV1Prefix.size() ? need_more() : parse_v1(bytes, max_length);
  return invalid("no PROXY header: the connection starts with '" + printable(bytes.substr(0, 16)) +
                 "', not a PROXY v1 or v2 signature");
}

}  // namespace mailroom::net
