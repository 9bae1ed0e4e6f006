// WriteQueue: a connection's output not yet handed to the kernel or to libuv, as a list of
// pieces. Small pieces are joined into the last one (a copy of a few bytes beats one iovec and
// one list node per reply); a partly sent piece is not shifted down (a 512 KiB RETR chunk would
// be copied again): an offset marks where its rest begins. No sockets: Connection sends.
#pragma once

#include <uv.h>

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

namespace mailroom::core {

class WriteQueue {
 public:
  // Pieces up to this size are joined into the previous one.
  static constexpr std::size_t kCoalesceLimit = 16 * 1024;

  void push(std::string data);
  bool empty() const { return pieces_.empty(); }
  std::size_t bytes() const { return bytes_; }  // unsent bytes

  // Points up to `max` buffers at the first unsent bytes, in order; returns how many.
  unsigned gather(uv_buf_t* bufs, unsigned max) const;
  // `sent` bytes from the front were written: drops them.
  void consume(std::size_t sent);

  // Moves up to `max` pieces into `out` for a write that owns its buffers, with buffers over their
  // unsent bytes in `bufs`; returns the bytes they cover.
  std::size_t take(std::vector<std::string>& out, std::vector<uv_buf_t>& bufs, std::size_t max);
  void clear();

 private:
  std::deque<std::string> pieces_;
  std::size_t bytes_ = 0;       // unsent bytes of pieces_ (front_sent_ excluded)
  std::size_t front_sent_ = 0;  // leading bytes of pieces_.front() already sent
};

}  // namespace mailroom::core
