// ASCII helpers for protocol text (header names, domains, keywords): no locale involved.
#pragma once

#include <algorithm>
#include <cctype>
#include <string_view>

namespace mailroom {

// `a` and `b` are equal when ASCII letters are compared without case.
inline bool ascii_iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace mailroom
