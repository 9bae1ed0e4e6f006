// Strict base64 (RFC 4648 section 4) for SASL exchanges: canonical padding, no whitespace, no
// stray bits; anything else is a client error rather than something to guess about.
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"

namespace mailroom::auth::sasl {

std::string base64_encode(std::string_view bytes);

// kInvalidArgument (message says what is wrong) unless `text` is canonical base64: length a
// multiple of 4, only A-Z a-z 0-9 + /, at most two '=' and only at the end, unused bits zero.
// The empty string decodes to the empty string.
Result<std::string> base64_decode(std::string_view text);

}  // namespace mailroom::auth::sasl
