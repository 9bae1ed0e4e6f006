// IpAddress parsing and formatting (own IPv4 parser for strictness and clear errors,
// inet_pton/inet_ntop for IPv6).
#include "core/ipfilter/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace mailroom::ipfilter {

namespace {

uint64_t load_be64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

void store_be64(uint64_t v, unsigned char* p) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
}

// Mask with the first `bits` (0-64) bits set.
uint64_t high_bits(int bits) {
  if (bits <= 0) return 0;
  if (bits >= 64) return ~uint64_t{0};
  return ~uint64_t{0} << (64 - bits);
}

}  // namespace

IpAddress IpAddress::from_bytes(const unsigned char* bytes16) {
  return IpAddress(load_be64(bytes16), load_be64(bytes16 + 8));
}

std::optional<IpAddress> IpAddress::parse_v4(std::string_view text) {
  uint32_t value = 0;
  int octets = 0;
  std::size_t i = 0;
  while (octets < 4) {
    std::size_t start = i;
    unsigned octet = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 3) {
      octet = octet * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    std::size_t len = i - start;
    if (len == 0 || octet > 255 || (len > 1 && text[start] == '0')) return std::nullopt;
    value = (value << 8) | octet;
    ++octets;
    if (octets < 4) {
      if (i >= text.size() || text[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != text.size()) return std::nullopt;
  return from_v4(value);
}

std::optional<IpAddress> IpAddress::parse_v6(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN || text.find(':') == std::string_view::npos) {
    return std::nullopt;
  }
  in6_addr a{};
  if (inet_pton(AF_INET6, std::string(text).c_str(), &a) != 1) return std::nullopt;
  return from_bytes(a.s6_addr);
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  bool v6 = text.find(':') != std::string_view::npos;
  auto a = v6 ? parse_v6(text) : parse_v4(text);
  if (!a) {
    std::string message = "'";  // appended, not operator+: GCC 12 -O3 warns falsely (-Wrestrict)
    message.append(text).append("' is not an ").append(v6 ? "IPv6" : "IPv4").append(" address");
    return make_error(ErrorCode::kInvalidArgument, std::move(message));
  }
  return *a;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* sa) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, sa, sizeof in);
    return from_v4(ntohl(in.sin_addr.s_addr));
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, sa, sizeof in6);
    return from_bytes(in6.sin6_addr.s6_addr);
  }
  return std::nullopt;
}

std::string IpAddress::str() const {
  if (is_v4()) {
    uint32_t v = v4();
    return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." +
           std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
  }
  in6_addr a{};
  store_be64(hi_, a.s6_addr);
  store_be64(lo_, a.s6_addr + 8);
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &a, buf, sizeof buf);
  return buf;
}

IpAddress IpAddress::masked(int bits) const {
  return IpAddress(hi_ & high_bits(bits), lo_ & high_bits(bits - 64));
}

IpAddress IpAddress::last_of_prefix(int bits) const {
  return IpAddress(hi_ | ~high_bits(bits), lo_ | ~high_bits(bits - 64));
}

IpAddress IpAddress::next() const {
  uint64_t lo = lo_ + 1;
  return IpAddress(lo == 0 ? hi_ + 1 : hi_, lo);
}

IpAddress IpAddress::prev() const {
  return IpAddress(lo_ == 0 ? hi_ - 1 : hi_, lo_ - 1);
}

}  // namespace mailroom::ipfilter
