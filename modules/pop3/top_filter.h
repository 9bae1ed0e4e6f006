// The TOP cut (RFC 1939 section 7: headers, blank line, N body lines) as a byte-level state
// machine that keeps its position across chunks, so a message is never held whole in memory.
// Byte-stuffing is done while the message is read (storage::WireMode::kDotStuffed): a stuffed
// line is never empty and is still one line, so the cut works the same on stuffed text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailroom::pop3 {

// Passes the header lines, the empty line that ends them, then `body_lines` body lines, and
// drops the rest. A message without an empty line is all headers; with `add_missing_blank_line`
// (the top_add_blank_line workaround, Dovecot's oe-ns-eoh) finish() then adds the empty line that
// Outlook Express and Netscape expect.
class TopFilter {
 public:
  explicit TopFilter(uint64_t body_lines, bool add_missing_blank_line = false)
      : remaining_(body_lines), add_blank_line_(add_missing_blank_line) {}
  // Appends the part of `in` that belongs to the TOP reply to `out`. Returns whether more input
  // is wanted; once false, the reader can stop (later input would be dropped anyway).
  bool feed(std::string_view in, std::string& out);
  bool done() const { return done_; }
  // The message ended (its text ends with a line): appends "\r\n" if it never had the empty line
  // and the workaround is on.
  void finish(std::string& out) const {
    if (add_blank_line_ && in_headers_) out += "\r\n";
  }

 private:
  bool in_headers_ = true;
  bool done_ = false;
  uint64_t remaining_;
  bool add_blank_line_ = false;
  std::size_t header_line_bytes_ = 0;  // bytes of the current header line before its '\n'
  bool header_line_starts_with_cr_ = false;
};

}  // namespace mailroom::pop3
