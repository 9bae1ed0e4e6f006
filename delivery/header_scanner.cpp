// HeaderScanner: field name recognition, continuation lines, the Bcc strip, the kept-bytes cap.
#include "delivery/header_scanner.h"

#include <cctype>

namespace mailroom::delivery {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The field name of `line` ("" when it is not a field: RFC 5322 ftext is printable ASCII but ':').
std::string_view field_name(std::string_view line) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return {};
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);  // obs: "To :"
  if (name.empty()) return {};
  for (char c : name) {
    if (c <= ' ' || c >= 0x7f) return {};
  }
  return name;
}

}  // namespace

void HeaderScanner::append(std::string_view text) {
  if (overflow_) return;
  if (kept_ + text.size() > max_kept_) {
    overflow_ = true;
    return;
  }
  kept_ += text.size();
  fields_.back().body.append(text);
}

bool HeaderScanner::feed(std::string_view line) {
  if (!in_header_) return true;
  if (line.empty()) {
    in_header_ = false;
    return true;
  }
  if (line.front() == ' ' || line.front() == '\t') {  // a continuation of the field before
    if (!any_field_) {  // nothing to continue: not a header section after all
      in_header_ = false;
      return true;
    }
    if (collect_) {
      append("\r\n");
      append(line);
    }
    return !strip_;
  }
  const std::string_view name = field_name(line);
  if (name.empty()) {  // no field: the body starts here (no blank line before it)
    in_header_ = false;
    return true;
  }
  any_field_ = true;
  const std::string key = lower(name);
  strip_ = key == "bcc" || key == "resent-bcc";
  collect_ = key == "from" || key == "to" || key == "cc" || key == "bcc";
  if (collect_) {
    fields_.push_back(Field{key, {}});
    append(line.substr(line.find(':') + 1));
  }
  return !strip_;
}

}  // namespace mailroom::delivery
