// Fuzzes the strict SASL base64 codec (auth/sasl/base64.h) both ways.
// Invariants: text that decodes is canonical, so encoding what it decoded to gives the text
// back; encoding any bytes gives text of the canonical length that decodes to those bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/sasl/base64.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mailroom::auth::sasl::base64_decode;
  using mailroom::auth::sasl::base64_encode;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto decoded = base64_decode(input);
  if (decoded) {
    FUZZ_CHECK_DATA(input.size() % 4 == 0 && decoded->size() <= input.size() / 4 * 3, input);
    FUZZ_CHECK_DATA(base64_encode(*decoded) == input, input);
  } else {
    FUZZ_CHECK_DATA(!decoded.error().message.empty(), input);
  }

  const std::string encoded = base64_encode(input);
  FUZZ_CHECK_DATA(encoded.size() == (input.size() + 2) / 3 * 4, input);
  auto back = base64_decode(encoded);
  FUZZ_CHECK_DATA(back.ok() && *back == input, encoded);
  return 0;
}
