// LF <-> CRLF conversion for Maildir messages.
#include "storage/maildir/wire_form.h"

#include <cstring>

namespace mailroom::storage::maildir {

std::string normalise_line_endings(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\r' && i + 1 < message.size() && message[i + 1] == '\n') continue;
    out += message[i];
  }
  return out;
}

void WireEncoder::encode(std::string_view chunk, std::string& out) {
  if (chunk.empty()) return;
  // Lines are copied with memcpy into room made up front (one resize, not three appends per
  // line: at ~70-byte lines the appends cost more than the copying).
  const char* src = chunk.data();
  const std::size_t n = chunk.size();
  const std::size_t first = out.size();
  std::size_t pos = first;
  std::size_t dots = 0;
  out.resize(pos + n + n / 16 + 16);
  std::size_t start = 0;
  bool line_start = empty_ || last_ == '\n';  // a line may have begun in the previous chunk
  while (start < n) {
    const void* hit = std::memchr(src + start, '\n', n - start);
    const std::size_t end = hit == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(hit) - src);
    const std::size_t run = end - start;
    // The byte before this LF may sit at the end of the previous chunk.
    const bool add_cr = hit != nullptr && (end > 0 ? src[end - 1] : last_) != '\r';
    const bool add_dot = dot_stuff_ && line_start && run > 0 && src[start] == '.';
    const std::size_t need = run + (hit != nullptr ? 1 : 0) + (add_cr ? 1 : 0) + (add_dot ? 1 : 0);
    // Room for the rest at its worst: ".\n" lines double (a dot and a CR for every two bytes).
    if (pos + need > out.size()) out.resize(pos + need + 2 * (n - end) + 16);
    char* dst = out.data() + pos;
    if (add_dot) *dst++ = '.';
    dots += add_dot ? 1 : 0;
    std::memcpy(dst, src + start, run);
    dst += run;
    if (add_cr) *dst++ = '\r';
    if (hit != nullptr) *dst++ = '\n';
    pos = static_cast<std::size_t>(dst - out.data());
    start = end + (hit != nullptr ? 1 : 0);
    line_start = hit != nullptr;
  }
  out.resize(pos);
  wire_size_ += pos - first - dots;
  empty_ = false;
  last_ = chunk.back();
}

void WireEncoder::count(std::string_view chunk) {
  if (chunk.empty()) return;
  wire_size_ += chunk.size();
  std::size_t start = 0;
  while (start < chunk.size()) {
    const void* hit = std::memchr(chunk.data() + start, '\n', chunk.size() - start);
    if (hit == nullptr) break;
    auto lf = static_cast<std::size_t>(static_cast<const char*>(hit) - chunk.data());
    char before = lf > 0 ? chunk[lf - 1] : last_;
    if (before != '\r') ++wire_size_;
    start = lf + 1;
  }
  empty_ = false;
  last_ = chunk.back();
}

void WireEncoder::finish(std::string& out) {
  if (!empty_ && last_ != '\n') {
    out += "\r\n";
    wire_size_ += 2;
    last_ = '\n';  // a second finish() adds nothing
  }
}

uint64_t wire_size_of(std::string_view stored) {
  WireEncoder encoder;
  encoder.count(stored);
  std::string tail;
  encoder.finish(tail);
  return encoder.wire_size();
}

}  // namespace mailroom::storage::maildir
