// WriteQueue: pending output pieces with coalescing and a sent-offset into the first one.
#include "core/net/write_queue.h"

#include <utility>

namespace mailroom::core {

void WriteQueue::push(std::string data) {
  if (data.empty()) return;
  bytes_ += data.size();
  if (!pieces_.empty() && pieces_.back().size() + data.size() <= kCoalesceLimit) {
    pieces_.back().append(data);
  } else {
    pieces_.push_back(std::move(data));
  }
}

unsigned WriteQueue::gather(uv_buf_t* bufs, unsigned max) const {
  unsigned count = 0;
  for (const auto& piece : pieces_) {
    if (count == max) break;
    const std::size_t skip = count == 0 ? front_sent_ : 0;
    // libuv reads through the buffers only; uv_buf_t has no const variant.
    bufs[count++] = uv_buf_init(const_cast<char*>(piece.data()) + skip, static_cast<unsigned>(piece.size() - skip));
  }
  return count;
}

void WriteQueue::consume(std::size_t sent) {
  bytes_ -= sent;
  while (sent > 0) {
    const std::size_t left = pieces_.front().size() - front_sent_;
    if (sent < left) {
      front_sent_ += sent;
      break;
    }
    sent -= left;
    pieces_.pop_front();
    front_sent_ = 0;
  }
}

std::size_t WriteQueue::take(std::vector<std::string>& out, std::vector<uv_buf_t>& bufs, std::size_t max) {
  std::size_t moved = 0;
  out.reserve(std::min(max, pieces_.size()));  // buffers point into out's strings: no reallocation
  while (!pieces_.empty() && out.size() < max) {
    std::string& piece = out.emplace_back(std::move(pieces_.front()));
    pieces_.pop_front();
    const std::size_t skip = std::exchange(front_sent_, 0);
    bufs.push_back(uv_buf_init(piece.data() + skip, static_cast<unsigned>(piece.size() - skip)));
    moved += piece.size() - skip;
  }
  bytes_ -= moved;
  return moved;
}

void WriteQueue::clear() {
  pieces_.clear();
  bytes_ = 0;
  front_sent_ = 0;
}

}  // namespace mailroom::core
