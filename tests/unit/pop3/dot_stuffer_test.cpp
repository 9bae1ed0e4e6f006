// Tests for dot-stuffing and the TOP cut, including every chunk split position.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "modules/pop3/dot_stuffer.h"

using mailroom::pop3::DotStuffer;
using mailroom::pop3::TopFilter;

namespace {

std::string stuff_whole(const std::string& in) {
  DotStuffer s;
  std::string out;
  s.feed(in, out);
  s.finish(out);
  return out;
}

// Feeds `in` split at `cut` (two chunks), and also byte by byte.
std::string stuff_split(const std::string& in, std::size_t cut) {
  DotStuffer s;
  std::string out;
  s.feed(std::string_view(in).substr(0, cut), out);
  s.feed(std::string_view(in).substr(cut), out);
  s.finish(out);
  return out;
}

std::string stuff_bytewise(const std::string& in) {
  DotStuffer s;
  std::string out;
  for (char c : in) s.feed(std::string_view(&c, 1), out);
  s.finish(out);
  return out;
}

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

// The in-place form, split at `cut`.
std::string stuff_in_place_split(const std::string& in, std::size_t cut) {
  DotStuffer s;
  std::string a = in.substr(0, cut);
  std::string b = in.substr(cut);
  s.stuff(a);
  s.stuff(b);
  std::string out = a + b;
  s.finish(out);
  return out;
}

}  // namespace

TEST_CASE("lines starting with a dot get one more dot") {
  CHECK(stuff_whole("hello\r\n.\r\n..\r\n.x\r\nx.\r\n") ==
        "hello\r\n..\r\n...\r\n..x\r\nx.\r\n.\r\n");
  CHECK(stuff_whole(".first\r\n") == "..first\r\n.\r\n");
}

TEST_CASE("empty input gives just the terminator") { CHECK(stuff_whole("") == ".\r\n"); }

TEST_CASE("a missing final CRLF is supplied before the terminator") {
  CHECK(stuff_whole("abc") == "abc\r\n.\r\n");
}

TEST_CASE("splitting the input at every byte gives the same stuffed output") {
  const std::string msg =
      "From: a@b\r\nSubject: .dots\r\n\r\n.\r\n..\r\nbody . line\r\n.leading\r\n\r\n.\r\nend\r\n";
  const std::string expected = stuff_whole(msg);
  CHECK(expected ==
        "From: a@b\r\nSubject: .dots\r\n\r\n..\r\n...\r\nbody . line\r\n..leading\r\n\r\n..\r\nend\r\n.\r\n");
  for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
    CAPTURE(cut);
    CHECK(stuff_split(msg, cut) == expected);
  }
  CHECK(stuff_bytewise(msg) == expected);
}

TEST_CASE("a leading dot at a chunk boundary is stuffed") {
  DotStuffer s;
  std::string out;
  s.feed("abc\r\n", out);
  s.feed(".def\r\n", out);
  s.feed("x", out);
  s.feed(".y\r\n", out);  // mid-line dot after a chunk boundary: not stuffed
  s.finish(out);
  CHECK(out == "abc\r\n..def\r\nx.y\r\n.\r\n");
}

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

TEST_CASE("TOP output fed into the dot-stuffer stuffs body lines") {
  TopFilter f(1);
  DotStuffer s;
  std::string cut, out;
  f.feed("Subject: x\r\n\r\n.hidden\r\n.not sent\r\n", cut);
  s.feed(cut, out);
  s.finish(out);
  CHECK(out == "Subject: x\r\n\r\n..hidden\r\n.\r\n");
}

TEST_CASE("stuffing in place matches feed at every split, and leaves dot-free text uncopied") {
  const std::string msg =
      "From: a@b\r\nSubject: .dots\r\n\r\n.\r\n..\r\nbody . line\r\n.leading\r\n\r\n.\r\nend\r\n";
  const std::string expected = stuff_whole(msg);
  for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
    CAPTURE(cut);
    CHECK(stuff_in_place_split(msg, cut) == expected);
  }
  const std::string plain = "no dots\r\nat line starts. here\r\nx.\r\n";
  for (std::size_t cut = 0; cut <= plain.size(); ++cut) {
    CAPTURE(cut);
    CHECK(stuff_in_place_split(plain, cut) == stuff_whole(plain));
  }
  DotStuffer s;
  std::string chunk = plain;
  const char* before = chunk.data();
  s.stuff(chunk);
  CHECK(chunk == plain);
  CHECK(chunk.data() == before);  // no dot at a line start: the buffer was not replaced
  std::string next = ".after a boundary\r\n";
  s.stuff(next);
  CHECK(next == "..after a boundary\r\n");
  std::string mid = "x";
  s.stuff(mid);
  std::string cont = ".y\r\n";  // the line began in the previous chunk: no stuffing
  s.stuff(cont);
  CHECK(cont == ".y\r\n");
}
