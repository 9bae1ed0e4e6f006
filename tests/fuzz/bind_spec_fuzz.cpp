// Fuzzes the bind-list parser (core/net/bind_spec.h): byte 0 picks the default port (none or
// 110), the rest is the setting's text.
// Invariants: the setting validator agrees with the parser; accepted entries have a port in
// 1-65535 (or the absent default, 0), no duplicates, an address that is "*", a numeric address
// in one spelling, or a host name, and no control byte; written back with str() the list parses
// to the same entries.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/net/bind_spec.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailroom::net;
  if (size < 1) return 0;
  const int default_port = data[0] & 1 ? 110 : 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  auto parsed = parse_bind_list(text, default_port);
  auto with_port = parse_bind_list(text, 1);
  FUZZ_CHECK_DATA(check_bind_list(text).has_value() == !with_port.ok(), text);
  FUZZ_CHECK_DATA(parsed.ok() == with_port.ok(), text);
  if (!parsed) return 0;

  std::string again;
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    const BindSpec& spec = (*parsed)[i];
    FUZZ_CHECK_DATA(!spec.is_unix(), text);
    FUZZ_CHECK_DATA(spec.port == default_port || (spec.port >= 1 && spec.port <= 65535), text);
    FUZZ_CHECK_DATA(spec.address == "*" || spec.is_numeric() || is_host_name(spec.address), text);
    for (unsigned char c : spec.address) FUZZ_CHECK_DATA(c > 0x20 && c < 0x7f, text);
    for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK_DATA(!((*parsed)[j] == spec), text);
    if (!again.empty()) again += ", ";
    again += spec.str();
  }
  if (parsed->empty() || default_port == 0) return 0;  // "none", or port 0 has no text form
  auto reparsed = parse_bind_list(again, 0);
  FUZZ_CHECK_DATA(reparsed.ok() && *reparsed == *parsed, again);
  return 0;
}
