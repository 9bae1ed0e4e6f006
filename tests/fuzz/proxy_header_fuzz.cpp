// Fuzzes the PROXY protocol header parser (core/net/proxy_header.h): byte 0 picks the limit
// (the default 1024 or the v1 bound 107), the rest is what the balancer sent.
// Invariants: a complete header is no longer than the input or the limit, has version 1 or 2,
// and either keeps the connection's address or names a source and destination with ports in
// 0-65535; every proper prefix of a complete header needs more; an error has a reason.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/net/proxy_header.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailroom::net;
  if (size < 1) return 0;
  const std::size_t limit = data[0] & 1 ? 1024 : kProxyV1MaxLength;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  const ProxyParse parsed = parse_proxy_header(text, limit);
  if (parsed.status == ProxyParse::Status::kInvalid) {
    FUZZ_CHECK_DATA(!parsed.error.empty(), text);
    return 0;
  }
  if (parsed.status == ProxyParse::Status::kNeedMore) {
    FUZZ_CHECK_DATA(text.size() < limit, text);
    return 0;
  }
  const ProxyHeader& h = parsed.header;
  FUZZ_CHECK_DATA(h.length > 0 && h.length <= text.size() && h.length <= limit, text);
  FUZZ_CHECK_DATA(h.version == 1 || h.version == 2, text);
  if (h.use_connection_address) {
    FUZZ_CHECK_DATA(h.source_ip.empty() && h.dest_ip.empty(), text);
  } else {
    FUZZ_CHECK_DATA(!h.source_ip.empty() && !h.dest_ip.empty(), text);
    FUZZ_CHECK_DATA(h.source_port >= 0 && h.source_port <= 65535 && h.dest_port >= 0 && h.dest_port <= 65535, text);
  }
  // The header ends where it says: the same bytes alone parse the same, and less needs more.
  const ProxyParse alone = parse_proxy_header(text.substr(0, h.length), limit);
  FUZZ_CHECK_DATA(alone.status == ProxyParse::Status::kComplete && alone.header.length == h.length, text);
  const ProxyParse shorter = parse_proxy_header(text.substr(0, h.length - 1), limit);
  FUZZ_CHECK_DATA(shorter.status == ProxyParse::Status::kNeedMore, text);
  return 0;
}
