// Dot-stuffing and the TOP line cut, as byte-level state machines that survive chunk splits.
#include "modules/pop3/dot_stuffer.h"

#include <cstring>

namespace mailroom::pop3 {

void DotStuffer::feed(std::string_view in, std::string& out) {
  out.reserve(out.size() + in.size() + 8);
  std::size_t pos = 0;
  while (pos < in.size()) {
    if (at_line_start_ && in[pos] == '.') out += '.';
    // Copy up to and including the next LF in one go; the next byte starts a new line.
    const std::size_t lf = in.find('\n', pos);
    const std::size_t end = (lf == std::string_view::npos) ? in.size() : lf + 1;
    out.append(in.data() + pos, end - pos);
    at_line_start_ = (lf != std::string_view::npos);
    pos = end;
  }
}

void DotStuffer::stuff(std::string& chunk) {
  if (chunk.empty()) return;
  std::size_t first_dot = std::string::npos;  // the first line start holding a '.'
  if (at_line_start_ && chunk[0] == '.') {
    first_dot = 0;
  } else {
    const char* data = chunk.data();
    const std::size_t size = chunk.size();
    std::size_t pos = 0;
    while (pos < size) {
      const void* hit = std::memchr(data + pos, '\n', size - pos);
      if (hit == nullptr) break;
      const auto lf = static_cast<std::size_t>(static_cast<const char*>(hit) - data);
      if (lf + 1 < size && data[lf + 1] == '.') {
        first_dot = lf + 1;
        break;
      }
      pos = lf + 1;
    }
  }
  if (first_dot == std::string::npos) {
    at_line_start_ = chunk.back() == '\n';
    return;
  }
  std::string out;
  out.reserve(chunk.size() + chunk.size() / 64 + 8);
  out.append(chunk, 0, first_dot);
  at_line_start_ = true;
  feed(std::string_view(chunk).substr(first_dot), out);
  chunk.swap(out);
}

void DotStuffer::finish(std::string& out) {
  // The reader guarantees a final CRLF; without one the terminator would join the last line.
  if (!at_line_start_) out += "\r\n";
  out += ".\r\n";
  at_line_start_ = true;
}

bool TopFilter::feed(std::string_view in, std::string& out) {
  std::size_t pos = 0;
  while (pos < in.size() && !done_) {
    if (in_headers_) {
      const std::size_t lf = in.find('\n', pos);
      if (lf == std::string_view::npos) {
        // Partial header line: remember enough to recognise "\r\n" when its LF arrives.
        if (header_line_bytes_ == 0) header_line_starts_with_cr_ = (in[pos] == '\r');
        header_line_bytes_ += in.size() - pos;
        out.append(in.data() + pos, in.size() - pos);
        return true;
      }
      if (header_line_bytes_ == 0 && lf > pos) header_line_starts_with_cr_ = (in[pos] == '\r');
      header_line_bytes_ += lf - pos;
      const bool empty_line =
          header_line_bytes_ == 0 || (header_line_bytes_ == 1 && header_line_starts_with_cr_);
      out.append(in.data() + pos, lf + 1 - pos);
      pos = lf + 1;
      header_line_bytes_ = 0;
      header_line_starts_with_cr_ = false;
      if (empty_line) {
        in_headers_ = false;
        if (remaining_ == 0) done_ = true;
      }
    } else {
      const std::size_t lf = in.find('\n', pos);
      if (lf == std::string_view::npos) {
        out.append(in.data() + pos, in.size() - pos);
        return true;
      }
      out.append(in.data() + pos, lf + 1 - pos);
      pos = lf + 1;
      if (--remaining_ == 0) done_ = true;
    }
  }
  return !done_;
}

}  // namespace mailroom::pop3
