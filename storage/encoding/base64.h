// Standard base64 (RFC 4648 section 4) for what the storage layer keeps as text: sealed secrets
// and imported {SSHA*}/{PLAIN-MD5} password hashes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailroom::storage {

std::string base64_encode(const unsigned char* data, size_t size);

// Strict: only the standard alphabet with padding, length a multiple of 4, not empty.
bool base64_decode(std::string_view text, std::string& out);

}  // namespace mailroom::storage
