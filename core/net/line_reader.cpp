// LineReader: line framing for command lines and dot-terminated bodies (see line_reader.h).
#include "core/net/line_reader.h"

#include <algorithm>
#include <cstring>

namespace mailroom::core {

namespace {
constexpr std::size_t kTerminatorSize = 3;  // ".\r\n"

LineReader::Event event_of(LineReader::Kind kind, std::string_view text = {}, LineEnding ending = LineEnding::kCrlf) {
  LineReader::Event e;
  e.kind = kind;
  e.text = text;
  e.ending = ending;
  return e;
}
}  // namespace

const char* line_ending_name(LineEnding ending) {
  switch (ending) {
    case LineEnding::kCrlf: return "CRLF";
    case LineEnding::kLf: return "LF";
    case LineEnding::kCr: return "CR";
  }
  return "CRLF";
}

void LineReader::begin_body(BodyMode mode) {
  in_body_ = true;
  body_ = mode;
  summary_ = {};
  discarding_ = false;
  at_line_start_after_crlf_ = true;  // the command line that started the body ended the line
}

void LineReader::clear() {
  buf_.clear();
  pos_ = 0;
  discarding_ = false;
  in_body_ = false;
}

void LineReader::compact() {
  if (pos_ >= buf_.size()) {
    buf_.clear();
    pos_ = 0;
    if (buf_.capacity() > 4096) buf_.shrink_to_fit();
  } else if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

LineReader::Found LineReader::find_line(bool strict, bool& wait) const {
  wait = false;
  const char* begin = buf_.data() + pos_;
  const std::size_t avail = buf_.size() - pos_;
  auto ended = [](std::size_t len, LineEnding kind) {
    return Found{len, kind == LineEnding::kCrlf ? std::size_t{2} : std::size_t{1}, kind};
  };
  const auto* lf = static_cast<const char*>(std::memchr(begin, '\n', avail));
  const std::size_t to_lf = lf ? static_cast<std::size_t>(lf - begin) : avail;
  if (!strict) {
    if (lf == nullptr) return {};
    if (to_lf > 0 && begin[to_lf - 1] == '\r') return ended(to_lf - 1, LineEnding::kCrlf);
    return ended(to_lf, LineEnding::kLf);
  }
  // Strict: the first CR or LF ends the line; a CR needs the next byte to say which it is.
  if (const auto* cr = static_cast<const char*>(std::memchr(begin, '\r', to_lf))) {
    const auto len = static_cast<std::size_t>(cr - begin);
    if (len + 1 == avail) {
      wait = true;
      return Found{len, 0, LineEnding::kCrlf};
    }
    return ended(len, cr[1] == '\n' ? LineEnding::kCrlf : LineEnding::kCr);
  }
  if (lf == nullptr) return {};
  return ended(to_lf, LineEnding::kLf);
}

bool LineReader::partial_line() const {
  // Message data is not a command line: its pace is the idle timeout's (SMTP's data_timeout).
  if (in_body_) return false;
  if (discarding_) return true;
  if (pos_ >= buf_.size()) return false;
  bool wait = false;
  Found f = find_line(in_body_ || mode_.framing == LineFraming::kStrict, wait);
  return f.ending == 0;
}

LineReader::Event LineReader::next() { return in_body_ ? next_body() : next_command(); }

LineReader::Event LineReader::next_command() {
  const bool strict = mode_.framing == LineFraming::kStrict;
  while (pos_ < buf_.size()) {
    bool wait = false;
    Found f = find_line(strict, wait);
    if (f.ending == 0) {  // no complete line yet
      if (discarding_) {
        pos_ += f.len;  // keep a trailing CR (strict): it may start the CRLF that ends the line
        if (!wait) pos_ = buf_.size();
        return {};
      }
      if (buf_.size() - pos_ >= mode_.max_line) {  // no line end within the limit: drop it
        pos_ = wait ? pos_ + f.len : buf_.size();
        discarding_ = true;
        return event_of(Kind::kTooLong);
      }
      return {};
    }
    const char* begin = buf_.data() + pos_;
    pos_ += f.len + f.ending;
    if (discarding_) {
      discarding_ = false;
      continue;
    }
    if (f.len + f.ending > mode_.max_line) return event_of(Kind::kTooLong);
    return event_of(Kind::kLine, std::string_view(begin, f.len), f.kind);
  }
  return {};
}

LineReader::Event LineReader::next_body() {
  while (pos_ < buf_.size()) {
    bool wait = false;
    Found f = find_line(true, wait);
    if (f.ending == 0) {
      const std::size_t take = wait ? f.len : buf_.size() - pos_;
      if (discarding_) {
        pos_ += take;
        summary_.octets += take;
        return {};
      }
      // An over-long line: drop it, count it. Never before 3 octets, whatever max_line says: a
      // partial ".\r" may still be the terminator.
      if (buf_.size() - pos_ >= std::max(body_.max_line, kTerminatorSize)) {
        pos_ += take;
        summary_.octets += take;
        ++summary_.long_lines;
        discarding_ = true;
      }
      return {};
    }
    const char* begin = buf_.data() + pos_;
    pos_ += f.len + f.ending;
    const bool after_crlf = at_line_start_after_crlf_;
    at_line_start_after_crlf_ = f.kind == LineEnding::kCrlf;
    if (discarding_) {  // the end of an over-long line (its first part was counted)
      discarding_ = false;
      summary_.octets += f.len + f.ending;
      if (f.kind != LineEnding::kCrlf) ++summary_.bare_endings;
      continue;
    }
    if (f.len == 1 && begin[0] == '.' && f.kind == LineEnding::kCrlf && after_crlf) {
      in_body_ = false;
      // Over-long lines count octets without passing the cap check below: one may be the last.
      if (body_.max_size != 0 && summary_.octets > body_.max_size) summary_.over_size = true;
      Event e = event_of(Kind::kBodyEnd);
      e.summary = summary_;
      return e;
    }
    summary_.octets += f.len + f.ending;
    if (f.kind != LineEnding::kCrlf) ++summary_.bare_endings;
    if (f.len + f.ending > body_.max_line) {
      ++summary_.long_lines;
      continue;
    }
    if (body_.max_size != 0 && summary_.octets > body_.max_size) summary_.over_size = true;
    if (summary_.over_size) continue;
    std::string_view text(begin, f.len);
    if (text.size() > 1 && text.front() == '.') text.remove_prefix(1);  // RFC 5321 4.5.2
    return event_of(Kind::kBodyLine, text, f.kind);
  }
  return {};
}

}  // namespace mailroom::core
