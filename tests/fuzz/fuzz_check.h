// Invariant checks for the libFuzzer targets: a broken invariant prints what and where, then
// aborts, so libFuzzer keeps the input as a crash like any sanitizer report.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace mailroom::fuzz {

[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line, std::string_view data) {
  std::fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
  if (!data.empty()) {
    std::fprintf(stderr, "  with: \"");
    for (unsigned char c : data.substr(0, 600)) {
      if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
        std::fputc(c, stderr);
      } else {
        std::fprintf(stderr, "\\x%02x", c);
      }
    }
    std::fprintf(stderr, "\"%s\n", data.size() > 600 ? "..." : "");
  }
  std::abort();
}

// MAILROOM_FUZZ_TRACE=1 in the environment: the session targets print what they exchange (to
// see what a reproducer or a seed does: build-fuzz/tests/fuzz/fuzz_NAME FILE).
inline void trace(const char* direction, std::string_view text) {
  static const bool on = std::getenv("MAILROOM_FUZZ_TRACE") != nullptr;
  if (!on) return;
  std::fprintf(stderr, "%s ", direction);
  for (unsigned char c : text.substr(0, 300)) {
    if (c >= 0x20 && c < 0x7f) {
      std::fputc(c, stderr);
    } else {
      std::fprintf(stderr, "\\x%02x", c);
    }
  }
  std::fprintf(stderr, "%s\n", text.size() > 300 ? "..." : "");
}

// No byte below 0x20 and no DEL: what may go into a reply, a log line or a header.
inline bool no_control_bytes(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Every line of `reply` ends in CRLF, holds no other CR or LF, and is at most `max_line`
// octets with its CRLF (0: no limit). An empty reply passes.
inline bool wire_lines_ok(std::string_view reply, std::size_t max_line) {
  while (!reply.empty()) {
    const std::size_t lf = reply.find('\n');
    if (lf == std::string_view::npos || lf == 0 || reply[lf - 1] != '\r') return false;
    const std::string_view line = reply.substr(0, lf - 1);
    if (line.find('\r') != std::string_view::npos) return false;
    if (max_line != 0 && lf + 1 > max_line) return false;
    reply.remove_prefix(lf + 1);
  }
  return true;
}

}  // namespace mailroom::fuzz

#define FUZZ_CHECK(cond) \
  ((cond) ? (void)0 : ::mailroom::fuzz::invariant_failed(#cond, __FILE__, __LINE__, {}))
#define FUZZ_CHECK_DATA(cond, data) \
  ((cond) ? (void)0 : ::mailroom::fuzz::invariant_failed(#cond, __FILE__, __LINE__, (data)))
