// Streaming transforms for multi-line message replies (RFC 1939 section 3): byte-stuffing of
// lines that start with '.', and the TOP cut (headers, blank line, N body lines). Both keep
// their position across chunks so a message is never held whole in memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailroom::pop3 {

// Input: the message's wire bytes (CRLF lines), fed in chunks of any size.
class DotStuffer {
 public:
  // Appends the stuffed form of `in` to `out`.
  void feed(std::string_view in, std::string& out);
  // Stuffs `chunk` where it is: a chunk with no line starting with '.' (most mail) is left
  // as it is, without a copy; otherwise it is rebuilt once.
  void stuff(std::string& chunk);
  // Appends the terminating ".\r\n" (and a CRLF first if the input did not end with one).
  void finish(std::string& out);

 private:
  bool at_line_start_ = true;
};

// Passes the header lines, the empty line that ends them, then `body_lines` body lines, and
// drops the rest. A message without an empty line is all headers.
class TopFilter {
 public:
  explicit TopFilter(uint64_t body_lines) : remaining_(body_lines) {}
  // Appends the part of `in` that belongs to the TOP reply to `out`. Returns whether more input
  // is wanted; once false, the reader can stop (later input would be dropped anyway).
  bool feed(std::string_view in, std::string& out);
  bool done() const { return done_; }

 private:
  bool in_headers_ = true;
  bool done_ = false;
  uint64_t remaining_;
  std::size_t header_line_bytes_ = 0;  // bytes of the current header line before its '\n'
  bool header_line_starts_with_cr_ = false;
};

}  // namespace mailroom::pop3
