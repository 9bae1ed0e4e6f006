// WriteQueue without sockets: coalescing of small pieces, partial sends that leave an offset into
// the first piece, and take() whose buffers must still point at the right bytes after the pieces
// moved (a short first piece lives inside its std::string: moving it moves its bytes).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/net/write_queue.h"

namespace core = mailroom::core;

namespace {
std::string joined(const uv_buf_t* bufs, unsigned count) {
  std::string out;
  for (unsigned i = 0; i < count; ++i) out.append(bufs[i].base, bufs[i].len);
  return out;
}
}  // namespace

TEST_CASE("small pieces are joined, large ones stay apart; gather sees them in order") {
  core::WriteQueue q;
  q.push("+OK\r\n");
  q.push("a\r\n");
  q.push(std::string(core::WriteQueue::kCoalesceLimit, 'x'));
  q.push("tail\r\n");
  CHECK(q.bytes() == 8 + core::WriteQueue::kCoalesceLimit + 6);
  uv_buf_t bufs[8];
  unsigned n = q.gather(bufs, 8);
  CHECK(n == 3);  // the large piece is over the limit with anything joined to it
  CHECK(joined(bufs, n) == "+OK\r\na\r\n" + std::string(core::WriteQueue::kCoalesceLimit, 'x') + "tail\r\n");
}

TEST_CASE("a partial send leaves an offset; consume across pieces") {
  core::WriteQueue q;
  q.push(std::string(20000, 'a'));
  q.push(std::string(20000, 'b'));
  q.consume(19990);
  uv_buf_t bufs[4];
  unsigned n = q.gather(bufs, 4);
  REQUIRE(n == 2);
  CHECK(bufs[0].len == 10);
  CHECK(q.bytes() == 20010);
  q.consume(15);
  n = q.gather(bufs, 4);
  CHECK(n == 1);
  CHECK(joined(bufs, n) == std::string(19995, 'b'));
  q.consume(19995);
  CHECK(q.empty());
  CHECK(q.bytes() == 0);
}

TEST_CASE("take() hands over pieces whose buffers point at their own bytes, short ones included") {
  core::WriteQueue q;
  q.push("+OK\r\n");                         // short: its bytes live inside the string
  q.push(std::string(20000, 'm'));           // over the coalesce limit together: a new piece
  q.push(std::string(20000, 'n'));
  q.push(std::string(20000, 'o'));
  q.consume(2);                              // "K\r\n" of the first piece is left
  std::vector<std::string> pieces;
  std::vector<uv_buf_t> bufs;
  std::size_t moved = q.take(pieces, bufs, 64);
  CHECK(moved == 3 + 60000);
  CHECK(q.empty());
  CHECK(joined(bufs.data(), static_cast<unsigned>(bufs.size())) ==
        "K\r\n" + std::string(20000, 'm') + std::string(20000, 'n') + std::string(20000, 'o'));
}
