// Stored form (LF line ends) <-> wire form (CRLF, final CRLF guaranteed), computed in chunks
// so a large message never has to sit in memory whole.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailroom::storage::maildir {

// What deliver() stores: every CRLF becomes LF; a CR not followed by LF is kept.
std::string normalise_line_endings(std::string_view message);

// normalise_line_endings() in chunks, with the same result however the text is split: a CR
// that ends a chunk is held back until the next one shows whether an LF follows it (SMTP DATA
// arrives in arbitrary pieces, so a CRLF is often split).
class LineEndingNormaliser {
 public:
  // Appends the stored form of the next chunk to `out`.
  void feed(std::string_view chunk, std::string& out);
  // Appends a held-back CR (it ended the text); call once, after the last chunk.
  void finish(std::string& out);

 private:
  bool pending_cr_ = false;
};

// Stored bytes -> wire bytes. An LF becomes CRLF unless a CR already precedes it (a file written
// by another tool may hold CRLF); a non-empty text not ending in LF gets a final CRLF.
//
// With dot_stuff, a line that starts with '.' gets one more (the byte-stuffing of POP3 and SMTP
// multi-line data, RFC 1939 section 3 / RFC 5321 section 4.5.2), in the same pass: the encoder
// stops at every line end anyway, so stuffing costs one compare per line instead of a second
// scan of the text. The terminating ".CRLF" is the protocol's to add.
class WireEncoder {
 public:
  explicit WireEncoder(bool dot_stuff = false) : dot_stuff_(dot_stuff) {}
  // Appends the wire form of the next chunk to `out`.
  void encode(std::string_view chunk, std::string& out);
  // Adds only the size `encode` would produce.
  void count(std::string_view chunk);
  // Appends the closing CRLF if one is needed; call once, after the last chunk.
  void finish(std::string& out);
  // Wire bytes produced (or counted) so far, including finish(), not counting stuffed dots: the
  // message's size as LIST reports it.
  uint64_t wire_size() const { return wire_size_; }

 private:
  bool dot_stuff_;
  uint64_t wire_size_ = 0;
  bool empty_ = true;
  char last_ = '\0';
};

// Wire size of a complete stored text.
uint64_t wire_size_of(std::string_view stored);

}  // namespace mailroom::storage::maildir
