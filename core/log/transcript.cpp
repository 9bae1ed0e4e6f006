// Transcript events and the redaction helper.
#include "core/log/transcript.h"

#include "core/log/logger.h"

namespace mailroom::log {

namespace {
bool is_blank(char c) { return c == ' ' || c == '\t'; }
std::size_t skip_blanks(std::string_view line, std::size_t pos) {
  while (pos < line.size() && is_blank(line[pos])) ++pos;
  return pos;
}
std::size_t skip_word(std::string_view line, std::size_t pos) {
  while (pos < line.size() && !is_blank(line[pos])) ++pos;
  return pos;
}
}  // namespace

std::string_view first_word(std::string_view line) {
  const std::size_t start = skip_blanks(line, 0);
  return line.substr(start, skip_word(line, start) - start);
}

std::string redact_after(std::string_view line, std::size_t keep_words) {
  if (keep_words == 0) return std::string(kRedacted);
  std::size_t pos = 0;
  for (std::size_t word = 0; word < keep_words; ++word) pos = skip_word(line, skip_blanks(line, pos));
  const std::size_t rest = skip_blanks(line, pos);
  if (rest == line.size()) return std::string(line.substr(0, pos));
  std::string out(line.substr(0, pos));
  out += ' ';
  out += kRedacted;
  return out;
}

void Transcript::line(std::string_view dir, std::string_view text) const {
  info("transcript", {{"service", service_}, {"sid", sid_}, {"dir", std::string(dir)}, {"line", std::string(text)}});
}

void Transcript::client_line(std::string_view loggable) const { line("in", loggable); }

void Transcript::server_text(std::string_view text) const {
  while (!text.empty()) {
    const std::size_t lf = text.find('\n');
    std::string_view one = text.substr(0, lf);
    text.remove_prefix(lf == std::string_view::npos ? text.size() : lf + 1);
    if (!one.empty() && one.back() == '\r') one.remove_suffix(1);
    line("out", one);
  }
}

void Transcript::data(bool from_client, uint64_t octets) const {
  line(from_client ? "in" : "out", "[" + std::to_string(octets) + " octets]");
}

}  // namespace mailroom::log
