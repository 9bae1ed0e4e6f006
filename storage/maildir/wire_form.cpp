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
  std::size_t start = 0;
  while (start < chunk.size()) {
    const void* hit = std::memchr(chunk.data() + start, '\n', chunk.size() - start);
    std::size_t lf = hit == nullptr ? chunk.size()
                                    : static_cast<std::size_t>(static_cast<const char*>(hit) - chunk.data());
    out.append(chunk.data() + start, lf - start);
    wire_size_ += lf - start;
    if (lf == chunk.size()) break;
    // The byte before this LF may sit at the end of the previous chunk.
    char before = lf > 0 ? chunk[lf - 1] : last_;
    if (before != '\r') {
      out += '\r';
      ++wire_size_;
    }
    out += '\n';
    ++wire_size_;
    start = lf + 1;
  }
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
