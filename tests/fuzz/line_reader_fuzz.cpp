// Fuzzes the core line reader (core/net/line_reader.h): four bytes pick the framing, the command
// line limit, the body's line limit and size cap, and the chunk size the rest arrives in (so a
// CRLF or a terminator is split across reads). A command line "DATA" starts body mode, as an
// SMTP session would. Every ending is reachable: CRLF, bare LF, bare CR, NUL (data), over-long
// lines in both modes, dot-stuffing and the terminator.
// Invariants: each event's text is the tail of the bytes consumed for it (a line and its ending,
// a body line with at most one stuffed dot removed), within its limit and free of line endings;
// a body ends exactly at a ".\r\n" that follows a CRLF (or starts the body), and its summary
// counts the octets between, honouring the size cap; after the end the reader is back in
// command mode.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/net/line_reader.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using mailroom::core::BodyMode;
using mailroom::core::LineEnding;
using mailroom::core::LineFraming;
using mailroom::core::LineMode;
using mailroom::core::LineReader;

std::string_view ending_bytes(LineEnding e) {
  switch (e) {
    case LineEnding::kCrlf: return "\r\n";
    case LineEnding::kLf: return "\n";
    case LineEnding::kCr: return "\r";
  }
  return "";
}

bool is_data_command(std::string_view line) {
  if (line.size() != 4) return false;
  std::string upper(line);
  for (char& c : upper) c = static_cast<char>(c & ~0x20);
  return upper == "DATA";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const bool strict = data[0] & 1;
  const LineMode line_mode{static_cast<std::size_t>(1 + (data[0] >> 1) * 4), strict ? LineFraming::kStrict : LineFraming::kLenient};
  const BodyMode body_mode{data[1] == 0 ? std::size_t{1000} : data[1], uint64_t{data[2]} * 8};
  const std::size_t chunk = data[3] % 16 == 0 ? size : data[3] % 16;
  const std::string_view input(reinterpret_cast<const char*>(data) + 4, size - 4);

  LineReader reader;
  reader.set_mode(line_mode);
  std::size_t appended = 0;
  std::size_t consumed = 0;    // input octets the reader has taken so far
  std::size_t body_start = 0;  // where the body in progress began
  while (appended < input.size()) {
    const std::size_t n = std::min(chunk, input.size() - appended);
    reader.append(input.substr(appended, n));
    appended += n;
    for (;;) {
      const LineReader::Event event = reader.next();
      const std::size_t now = appended - reader.buffered();
      FUZZ_CHECK(now >= consumed);
      const std::string_view taken = input.substr(consumed, now - consumed);
      consumed = now;
      if (event.kind == LineReader::Kind::kNone) break;
      switch (event.kind) {
        case LineReader::Kind::kLine: {
          FUZZ_CHECK(!reader.in_body());
          const std::string_view ending = ending_bytes(event.ending);
          FUZZ_CHECK_DATA(event.text.size() + ending.size() <= line_mode.max_line, taken);
          FUZZ_CHECK_DATA(taken.ends_with(std::string(event.text) + std::string(ending)), taken);
          FUZZ_CHECK_DATA(event.text.find('\n') == std::string_view::npos, taken);
          if (strict) {
            FUZZ_CHECK_DATA(event.text.find('\r') == std::string_view::npos, taken);
          } else {
            FUZZ_CHECK_DATA(event.ending != LineEnding::kCr, taken);
            if (event.ending == LineEnding::kLf) FUZZ_CHECK_DATA(!event.text.ends_with('\r'), taken);
          }
          if (is_data_command(event.text)) {
            reader.begin_body(body_mode);
            body_start = consumed;
          }
          break;
        }
        case LineReader::Kind::kTooLong:
          FUZZ_CHECK(!reader.in_body());
          break;
        case LineReader::Kind::kBodyLine: {
          FUZZ_CHECK(reader.in_body());
          const std::string_view ending = ending_bytes(event.ending);
          FUZZ_CHECK_DATA(taken.ends_with(ending), taken);
          // `taken` may start with skipped lines (over-long, over the cap): the reported one is
          // its tail, the text with at most one stuffed dot before it, at the start of a line.
          const std::string_view line = taken.substr(0, taken.size() - ending.size());
          FUZZ_CHECK_DATA(line.ends_with(event.text), taken);
          const std::size_t at = line.size() - event.text.size();
          auto line_start = [&](std::size_t i) { return i == 0 || line[i - 1] == '\r' || line[i - 1] == '\n'; };
          const bool unstuffed = !line_start(at);
          if (unstuffed) FUZZ_CHECK_DATA(!event.text.empty() && line[at - 1] == '.' && line_start(at - 1), taken);
          const std::string_view orig = line.substr(unstuffed ? at - 1 : at);
          // The reported line is its wire form (minus a stuffed dot) and ends where it began.
          FUZZ_CHECK_DATA(orig.size() + ending.size() <= body_mode.max_line, taken);
          FUZZ_CHECK_DATA(event.text.find_first_of("\r\n") == std::string_view::npos, taken);
          break;
        }
        case LineReader::Kind::kBodyEnd: {
          FUZZ_CHECK(!reader.in_body());
          const std::string_view body = input.substr(body_start, consumed - body_start);
          FUZZ_CHECK_DATA(body.ends_with(".\r\n"), body);
          const uint64_t octets = body.size() - 3;
          FUZZ_CHECK_DATA(octets == 0 || body.substr(0, octets).ends_with("\r\n"), body);
          FUZZ_CHECK_DATA(event.summary.octets == octets, body);
          // No earlier terminator: the body holds no CRLF "." CRLF (nor starts with ".\r\n").
          FUZZ_CHECK_DATA(!body.substr(0, octets).starts_with(".\r\n"), body);
          FUZZ_CHECK_DATA(body.substr(0, body.size() - 1).find("\r\n.\r\n") == std::string_view::npos ||
                              body.substr(0, body.size() - 1).find("\r\n.\r\n") + 2 == octets,
                          body);
          if (body_mode.max_size != 0) FUZZ_CHECK_DATA(event.summary.over_size == (octets > body_mode.max_size), body);
          break;
        }
        case LineReader::Kind::kNone: break;
      }
    }
    reader.compact();
  }
  return 0;
}
