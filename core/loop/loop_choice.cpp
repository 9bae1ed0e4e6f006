// choose_loop: fewest open sessions, round-robin among equals.
#include "core/loop/loop_choice.h"

namespace mailroom::core {

std::size_t choose_loop(std::span<const std::size_t> open, std::size_t& cursor) {
  const std::size_t n = open.size();
  std::size_t best = cursor % n;
  for (std::size_t step = 1; step < n; ++step) {
    const std::size_t i = (cursor + step) % n;
    if (open[i] < open[best]) best = i;
  }
  cursor = (best + 1) % n;
  return best;
}

}  // namespace mailroom::core
