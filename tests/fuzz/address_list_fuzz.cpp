// Fuzzes the RFC 5322 address-list parser and the header scanner (delivery/address_list.h,
// delivery/header_scanner.h): the input is one field body, then (split at LF) header lines.
// Invariants: an error has a message; every addr-spec found has a non-empty local part and domain
// and, written back alone, parses to itself; the list written back (", "-joined) parses to the
// same list; the scanner never keeps more than its cap, and never passes a Bcc field line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/address_list.h"
#include "delivery/header_scanner.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailroom::delivery;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto parsed = parse_address_list(text);
  if (!parsed) {
    FUZZ_CHECK_DATA(!parsed.error().message.empty(), text);
  } else {
    std::string joined;
    for (const auto& spec : *parsed) {
      FUZZ_CHECK_DATA(!spec.local.empty() && !spec.domain.empty(), text);
      auto again = parse_address_list(spec.str());
      FUZZ_CHECK_DATA(again.ok() && again->size() == 1 && (*again)[0].str() == spec.str(), text);
      if (!joined.empty()) joined += ", ";
      joined += spec.str();
    }
    auto list = parse_address_list(joined);
    FUZZ_CHECK_DATA(list.ok() && list->size() == parsed->size(), text);
  }

  constexpr std::size_t kCap = 256;
  HeaderScanner scanner(kCap);
  std::size_t kept = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    const bool header = scanner.in_header();
    const bool keep = scanner.feed(line);
    if (header && line.size() >= 4 && (line.substr(0, 4) == "Bcc:" || line.substr(0, 4) == "bcc:")) {
      FUZZ_CHECK_DATA(!keep, text);
    }
    start = end + 1;
  }
  for (const auto& field : scanner.fields()) kept += field.body.size();
  FUZZ_CHECK_DATA(kept <= kCap, text);
  return 0;
}
