// UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
#pragma once

#include <cstddef>
#include <string_view>

namespace mailroom {

// Length of the valid multi-byte UTF-8 sequence at s[i] (2-4), or 0 when there is none there
// (an ASCII byte included: callers handle those first).
std::size_t utf8_sequence(std::string_view s, std::size_t i);

// The code point of the valid sequence of `n` bytes at s[i] (n from utf8_sequence()).
char32_t utf8_code_point(std::string_view s, std::size_t i, std::size_t n);

// True when every byte of `s` belongs to ASCII or a valid UTF-8 sequence.
bool is_valid_utf8(std::string_view s);

}  // namespace mailroom
