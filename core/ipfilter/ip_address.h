// IpAddress: one 128-bit value for both families. IPv4 is stored IPv4-mapped (::ffff:a.b.c.d)
// so that v4 and v6 rules live in one ordered space and one lookup structure. That space puts
// all of IPv4 inside every IPv6 prefix shorter than /96 (::/64 holds ::ffff:127.0.0.1), so
// whatever matches a range or a prefix also checks the family (prefix_fits_family, IpRange).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/result.h"

struct sockaddr;

namespace mailroom::ipfilter {

class IpAddress {
 public:
  static constexpr uint64_t kV4MappedHi = 0;
  static constexpr uint64_t kV4MappedLoPrefix = 0x0000ffff00000000ULL;

  constexpr IpAddress() = default;  // "::"
  static constexpr IpAddress from_halves(uint64_t hi, uint64_t lo) { return IpAddress(hi, lo); }
  static constexpr IpAddress from_v4(uint32_t host_order) {
    return IpAddress(kV4MappedHi, kV4MappedLoPrefix | host_order);
  }
  static constexpr IpAddress max() { return IpAddress(~uint64_t{0}, ~uint64_t{0}); }
  // 16 bytes in network order.
  static IpAddress from_bytes(const unsigned char* bytes16);

  // Strict dotted quad: four decimal octets 0-255, no leading zeros ("010" could mean octal).
  static std::optional<IpAddress> parse_v4(std::string_view text);
  // Any RFC 4291 text form, including "::ffff:1.2.3.4"; no zone id, no brackets.
  static std::optional<IpAddress> parse_v6(std::string_view text);
  // v4 or v6; the error says which family was expected ("'1.2.3.300' is not an IPv4 address").
  static Result<IpAddress> parse(std::string_view text);
  // AF_INET / AF_INET6 (a v4-mapped v6 peer becomes the same value as the v4 peer).
  static std::optional<IpAddress> from_sockaddr(const sockaddr* sa);

  constexpr bool is_v4() const { return hi_ == kV4MappedHi && (lo_ >> 32) == 0xffff; }
  uint32_t v4() const { return static_cast<uint32_t>(lo_); }  // meaningful when is_v4()
  uint64_t hi() const { return hi_; }
  uint64_t lo() const { return lo_; }

  // Dotted quad for IPv4, RFC 5952 text for IPv6.
  std::string str() const;

  // Keeps the first `bits` (0-128) bits of the 128-bit value and clears the rest.
  IpAddress masked(int bits) const;
  // Keeps the first `bits` bits and sets the rest: the last address of that prefix.
  IpAddress last_of_prefix(int bits) const;
  // +1 / -1 with wrap-around at the ends of the space (callers check is_max / is_zero).
  IpAddress next() const;
  IpAddress prev() const;
  bool is_max() const { return hi_ == ~uint64_t{0} && lo_ == ~uint64_t{0}; }
  bool is_zero() const { return hi_ == 0 && lo_ == 0; }

  auto operator<=>(const IpAddress&) const = default;
  bool operator==(const IpAddress&) const = default;

  struct Hash {
    std::size_t operator()(const IpAddress& a) const {
      return std::hash<uint64_t>()(a.hi_ * 0x9e3779b97f4a7c15ULL ^ a.lo_);
    }
  };

 private:
  constexpr IpAddress(uint64_t hi, uint64_t lo) : hi_(hi), lo_(lo) {}
  uint64_t hi_ = 0;
  uint64_t lo_ = 0;
};

// Prefix lengths in the 128-bit space: an IPv4 /n is a 128-bit /(96+n).
constexpr int kV4PrefixOffset = 96;

// Whether a prefix of `bits` (128-bit space) can be a network of `address`'s family. IPv4 lives
// in ::ffff:0:0/96, so an IPv4 address belongs only to prefixes of 96 bits or more (its IPv4 /0
// to /32); a shorter prefix is an IPv6 network even though its span holds all of IPv4. (Masking
// an IPv6 address never lands inside ::ffff:0:0/96, so an IPv6 address meets no IPv4 network.)
constexpr bool prefix_fits_family(const IpAddress& address, int bits) {
  return !address.is_v4() || bits >= kV4PrefixOffset;
}

}  // namespace mailroom::ipfilter
