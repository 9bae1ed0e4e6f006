// Transcript: the `transcript` events of one session with debug_transcript on (service, sid,
// dir=in|out, line). Client lines arrive already redacted by the protocol
// (ProtocolSession::loggable_line); message data is summarised as "[N octets]", never logged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailroom::log {

inline constexpr std::string_view kRedacted = "<redacted>";

// `line` with its first `keep_words` words (separated by spaces or tabs) kept and the rest, if
// any, replaced by "<redacted>"; with keep_words 0 always "<redacted>".
// ("PASS secret", 1) -> "PASS <redacted>", ("AUTH PLAIN AGFAAGI=", 2) -> "AUTH PLAIN <redacted>".
std::string redact_after(std::string_view line, std::size_t keep_words);
// The line's first word (leading spaces and tabs skipped; ends at a space, a tab or the end).
std::string_view first_word(std::string_view line);

class Transcript {
 public:
  Transcript(std::string service, uint64_t sid) : service_(std::move(service)), sid_(std::to_string(sid)) {}

  // A client line, in the form the protocol allows to be shown.
  void client_line(std::string_view loggable) const;
  // Server output: one event per line (CRLF or LF ends a line; an unended tail is a line too).
  void server_text(std::string_view text) const;
  // Message data in either direction: one "[N octets]" event.
  void data(bool from_client, uint64_t octets) const;

 private:
  void line(std::string_view dir, std::string_view text) const;
  std::string service_;
  std::string sid_;
};

}  // namespace mailroom::log
