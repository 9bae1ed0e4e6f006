// HeaderScanner: reads a message's header section line by line as it streams in (lines without
// their ending), keeps the bodies of the address fields a submission needs (From, To, Cc, Bcc),
// and says which lines to leave out of the stored message: every Bcc and Resent-Bcc field with
// its continuation lines. Pure; bounded: at most `max_kept` octets of field bodies are kept.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailroom::delivery {

class HeaderScanner {
 public:
  struct Field {
    std::string name;  // lower case: "from", "to", "cc", "bcc"
    std::string body;  // folded as received (CRLF before each continuation line)
  };

  explicit HeaderScanner(std::size_t max_kept) : max_kept_(max_kept) {}

  // One line. Returns whether it belongs in the stored message. The header section ends at the
  // first empty line, or at a line that is neither a field nor a continuation (kept: it is body).
  bool feed(std::string_view line);

  bool in_header() const { return in_header_; }
  // More field octets arrived than `max_kept`: the fields are incomplete and must not be used.
  bool overflow() const { return overflow_; }
  const std::vector<Field>& fields() const { return fields_; }

 private:
  void append(std::string_view text);

  std::size_t max_kept_;
  std::size_t kept_ = 0;
  bool in_header_ = true;
  bool overflow_ = false;
  bool any_field_ = false;  // a field started (a continuation line has something to continue)
  bool collect_ = false;    // the current field's body is kept (From, To, Cc, Bcc)
  bool strip_ = false;      // the current field is left out of the message (Bcc, Resent-Bcc)
  std::vector<Field> fields_;
};

}  // namespace mailroom::delivery
