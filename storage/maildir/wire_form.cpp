// LF <-> CRLF conversion for Maildir messages.
#include "storage/maildir/wire_form.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mailroom::storage::maildir {

namespace {

// Copies src[0, n) to dst up to the first LF (not copied) and returns its offset, or n if there
// is none. One pass over the bytes, 16 at a time: mail lines are ~70 bytes, and memchr() then
// memcpy() per line read every byte twice and paid two calls per line. Writes whole 16-byte
// blocks, so it may write past the LF, but never beyond dst + n.
std::size_t copy_to_lf(const char* src, std::size_t n, char* dst) {
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i lf = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), block);
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, lf)));
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(mask));
  }
#endif
  const void* hit = std::memchr(src + i, '\n', n - i);
  const std::size_t end = hit == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(hit) - src);
  std::memcpy(dst + i, src + i, end - i);
  return end;
}

}  // namespace

void LineEndingNormaliser::feed(std::string_view chunk, std::string& out) {
  if (chunk.empty()) return;
  if (pending_cr_) {
    pending_cr_ = false;
    if (chunk[0] != '\n') out += '\r';  // a lone CR is kept; before an LF it is dropped
  }
  const char* p = chunk.data();
  const std::size_t n = chunk.size();
  std::size_t i = 0;
  while (i < n) {
    const void* hit = std::memchr(p + i, '\r', n - i);
    if (hit == nullptr) {
      out.append(p + i, n - i);
      return;
    }
    const auto cr = static_cast<std::size_t>(static_cast<const char*>(hit) - p);
    out.append(p + i, cr - i);
    if (cr + 1 == n) {
      pending_cr_ = true;  // the next chunk decides
      return;
    }
    if (p[cr + 1] != '\n') out += '\r';
    i = cr + 1;
  }
}

void LineEndingNormaliser::finish(std::string& out) {
  if (pending_cr_) out += '\r';
  pending_cr_ = false;
}

std::string normalise_line_endings(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  LineEndingNormaliser normaliser;
  normaliser.feed(message, out);
  normaliser.finish(out);
  return out;
}

void WireEncoder::encode(std::string_view chunk, std::string& out) {
  if (chunk.empty()) return;
  // Lines are copied into room made up front (one resize, not three appends per line: at
  // ~70-byte lines the appends cost more than the copying).
  const char* src = chunk.data();
  const std::size_t n = chunk.size();
  const std::size_t first = out.size();
  std::size_t pos = first;
  std::size_t dots = 0;
  out.resize(pos + n + n / 16 + 16);
  std::size_t start = 0;
  bool line_start = empty_ || last_ == '\n';  // a line may have begun in the previous chunk
  while (start < n) {
    // This line takes at most a dot, the rest of the input, and a CR and LF. Short of that, make
    // room for the rest at its worst: ".\n" lines double (a dot and a CR for every two bytes).
    if (pos + (n - start) + 3 > out.size()) out.resize(pos + 2 * (n - start) + 16);
    char* dst = out.data() + pos;
    const bool add_dot = dot_stuff_ && line_start && src[start] == '.';
    if (add_dot) *dst++ = '.';
    dots += add_dot ? 1 : 0;
    const std::size_t end = start + copy_to_lf(src + start, n - start, dst);
    dst += end - start;
    const bool hit = end < n;
    // The byte before this LF may sit at the end of the previous chunk.
    if (hit && (end > 0 ? src[end - 1] : last_) != '\r') *dst++ = '\r';
    if (hit) *dst++ = '\n';
    pos = static_cast<std::size_t>(dst - out.data());
    start = end + (hit ? 1 : 0);
    line_start = hit;
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
