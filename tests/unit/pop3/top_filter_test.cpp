// Tests for the TOP cut, including every chunk split position.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "modules/pop3/top_filter.h"

using mailroom::pop3::TopFilter;

namespace {

std::string top_whole(const std::string& in, uint64_t n, bool* more = nullptr) {
  TopFilter f(n);
  std::string out;
  const bool wants = f.feed(in, out);
  if (more) *more = wants;
  return out;
}

std::string top_split(const std::string& in, uint64_t n, std::size_t cut) {
  TopFilter f(n);
  std::string out;
  if (f.feed(std::string_view(in).substr(0, cut), out)) f.feed(std::string_view(in).substr(cut), out);
  return out;
}

}  // namespace

TEST_CASE("TOP with 0 lines passes headers and the blank line only") {
  const std::string msg = "A: 1\r\nB: 2\r\n\r\nbody1\r\nbody2\r\n";
  bool more = true;
  CHECK(top_whole(msg, 0, &more) == "A: 1\r\nB: 2\r\n\r\n");
  CHECK_FALSE(more);
}

TEST_CASE("TOP with 2 lines passes two body lines") {
  const std::string msg = "A: 1\r\n\r\nbody1\r\n\r\nbody3\r\nbody4\r\n";
  bool more = true;
  CHECK(top_whole(msg, 2, &more) == "A: 1\r\n\r\nbody1\r\n\r\n");
  CHECK_FALSE(more);
  for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
    CAPTURE(cut);
    CHECK(top_split(msg, 2, cut) == "A: 1\r\n\r\nbody1\r\n\r\n");
    CHECK(top_split(msg, 0, cut) == "A: 1\r\n\r\n");
  }
}

TEST_CASE("TOP asking for more lines than the body has passes the whole message and wants more") {
  const std::string msg = "A: 1\r\n\r\nbody1\r\n";
  bool more = false;
  CHECK(top_whole(msg, 5, &more) == msg);
  CHECK(more);
}

TEST_CASE("a message without a blank line is all headers") {
  const std::string msg = "A: 1\r\nB: 2\r\nC: 3\r\n";
  bool more = false;
  CHECK(top_whole(msg, 0, &more) == msg);
  CHECK(more);  // the end of input, not the filter, ends it
  for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
    CAPTURE(cut);
    CHECK(top_split(msg, 0, cut) == msg);
  }
}

TEST_CASE("a message starting with the blank line has empty headers") {
  CHECK(top_whole("\r\nline1\r\nline2\r\n", 1) == "\r\nline1\r\n");
  CHECK(top_whole("\r\nline1\r\n", 0) == "\r\n");
}

TEST_CASE("a header line holding only a CR-like prefix is not taken for the blank line") {
  // "\rX\r\n" is a (weird) header line, not the separator.
  CHECK(top_whole("\rX\r\n\r\nbody\r\nmore\r\n", 1) == "\rX\r\n\r\nbody\r\n");
}

TEST_CASE("TOP over dot-stuffed text keeps the stuffed lines and counts them as one line each") {
  // What the reader hands over in WireMode::kDotStuffed: "..hidden" is the body line ".hidden".
  TopFilter f(2);
  std::string out;
  f.feed("Subject: x\r\n..\r\n\r\n..hidden\r\n...\r\n..not sent\r\n", out);
  CHECK(out == "Subject: x\r\n..\r\n\r\n..hidden\r\n...\r\n");
}
