// The TOP line cut, as a byte-level state machine that survives chunk splits.
#include "modules/pop3/top_filter.h"

namespace mailroom::pop3 {

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
