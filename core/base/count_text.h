#pragma once
// A count with the noun that agrees with it ("1 message", "2 messages"), for text people read.

#include <concepts>
#include <string>
#include <string_view>

namespace mailroom {

template <std::integral N>
std::string counted(N n, std::string_view one, std::string_view many) {
  std::string out = std::to_string(n);
  out += ' ';
  out += n == 1 ? one : many;
  return out;
}

}  // namespace mailroom
