// LineReader: frames a connection's input into lines, protocol-neutral and pure (bytes in,
// events out; no sockets). Two modes, set by the session as its state changes:
//
// - Command lines (LineMode): each line up to max_line octets including its ending. Lenient
//   framing: LF ends a line and a CR before it is dropped; a lone CR is data. Strict
//   framing (SMTP, LMTP): CRLF, a bare LF and a bare CR each end a line, and the ending is
//   reported, so the protocol can refuse or normalise bare ones. A line over the limit is
//   reported once (kTooLong: auto-deny material) and discarded up to its end.
// - Body (BodyMode), for dot-terminated data (SMTP DATA, XTND XMIT): strict framing always;
//   only a "." line ended by CRLF that follows a CRLF (or starts the body) ends it, so
//   <LF>.<LF>, <CR>.<CR> and mixed forms are data (SMTP smuggling). Lines come un-stuffed
//   (RFC 5321 4.5.2). A body line over its own max_line, or any data once max_size octets have
//   arrived, is discarded and counted, never reported as too long (no auto-deny for message
//   data); the body still runs to its terminator, then kBodyEnd says what happened and the
//   reader returns to command lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailroom::core {

enum class LineEnding { kCrlf, kLf, kCr };
const char* line_ending_name(LineEnding ending);

enum class LineFraming { kLenient, kStrict };

struct LineMode {
  std::size_t max_line = 512;  // octets including the line ending
  LineFraming framing = LineFraming::kLenient;
};

struct BodyMode {
  std::size_t max_line = 1000;  // octets including CRLF (RFC 5321 4.5.3.1.6: at least 1000)
  uint64_t max_size = 0;        // body octets (wire form, terminator excluded); 0 = no cap
};

// What a finished body was like.
struct BodySummary {
  uint64_t octets = 0;        // wire octets of the body, terminator excluded
  bool over_size = false;     // max_size was passed: the rest was discarded unreported
  uint64_t long_lines = 0;    // lines over BodyMode::max_line, discarded
  uint64_t bare_endings = 0;  // lines ended by a bare LF or bare CR (reported with the line)
};

class LineReader {
 public:
  enum class Kind {
    kNone,      // nothing complete buffered: feed more bytes
    kLine,      // a command line (text, ending)
    kTooLong,   // a command line over max_line was dropped
    kBodyLine,  // a line of body data (text un-stuffed, ending)
    kBodyEnd,   // the body's terminator arrived (summary); back in command-line mode
  };
  struct Event {
    Kind kind = Kind::kNone;
    std::string_view text;  // valid until the next call of any non-const member
    LineEnding ending = LineEnding::kCrlf;
    BodySummary summary;
  };

  void set_mode(LineMode mode) { mode_ = mode; }
  const LineMode& mode() const { return mode_; }
  // Starts body mode at the next unread byte (the command that asked for it has been taken).
  void begin_body(BodyMode mode);
  bool in_body() const { return in_body_; }

  void append(std::string_view bytes) { buf_.append(bytes); }
  // Takes the next event from buffered input. Consumed bytes are freed by compact().
  Event next();
  // Drops delivered bytes (call after a batch of next()); frees a large idle buffer.
  void compact();
  // Forgets every buffered byte and any line being discarded (STARTTLS: nothing sent in
  // plaintext survives). The mode stays; a body in progress is abandoned.
  void clear();

  bool has_unread() const { return pos_ < buf_.size(); }
  // A command line has begun but not ended (the command deadline runs while this is so); never
  // in body mode.
  bool partial_line() const;
  std::size_t buffered() const { return buf_.size() - pos_; }

 private:
  struct Found {
    std::size_t len = 0;     // line length without its ending
    std::size_t ending = 0;  // octets of the ending (0: none found yet)
    LineEnding kind = LineEnding::kCrlf;
  };
  // Finds the end of the line starting at pos_. wait: a CR is the last buffered byte (strict).
  Found find_line(bool strict, bool& wait) const;
  Event next_command();
  Event next_body();

  std::string buf_;
  std::size_t pos_ = 0;
  LineMode mode_;
  bool discarding_ = false;  // inside an over-long line: drop up to its end

  bool in_body_ = false;
  BodyMode body_;
  BodySummary summary_;
  bool at_line_start_after_crlf_ = true;  // the previous body line ended with CRLF (or none yet)
};

}  // namespace mailroom::core
