// choose_loop: which event loop serves the next session (pure; core/loop/loop_pool uses it).
#pragma once

#include <cstddef>
#include <span>

namespace mailroom::core {

// The loop with the fewest open sessions; among equals the first at or after `cursor`
// (round-robin), and `cursor` moves past the one chosen. `open` is not empty.
std::size_t choose_loop(std::span<const std::size_t> open, std::size_t& cursor);

}  // namespace mailroom::core
