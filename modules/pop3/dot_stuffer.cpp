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

namespace {

// Offset of the first '.' that follows a '\n' in [data, data + size), or npos. Blocks of 32
// bytes are tested with plain loops the compiler turns into vector compares: most mail has no
// such line, and one memchr() per 70-byte line cost more than the stuffing itself.
std::size_t find_dot_after_lf(const char* data, std::size_t size) {
  constexpr std::size_t kBlock = 32;
  std::size_t i = 0;
  for (; i + kBlock + 1 <= size; i += kBlock) {
    unsigned hits = 0;
    for (std::size_t j = 0; j < kBlock; ++j) {
      hits |= static_cast<unsigned>(data[i + j] == '\n') & static_cast<unsigned>(data[i + j + 1] == '.');
    }
    if (hits != 0) break;
  }
  for (; i + 1 < size; ++i) {
    if (data[i] == '\n' && data[i + 1] == '.') return i + 1;
  }
  return std::string::npos;
}

}  // namespace

void DotStuffer::stuff(std::string& chunk) {
  if (chunk.empty()) return;
  // The first line start holding a '.'.
  const std::size_t first_dot =
      at_line_start_ && chunk[0] == '.' ? 0 : find_dot_after_lf(chunk.data(), chunk.size());
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
