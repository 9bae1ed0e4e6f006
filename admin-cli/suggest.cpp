// The nearest known name to a mistyped one (suggest.h).
#include "admin-cli/suggest.h"

#include <algorithm>

namespace mailroom::cli {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows of the (a.size()+1) x (b.size()+1) table: the swap looks two rows back.
  std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> nearest_name(std::string_view typed, const std::vector<std::string>& candidates) {
  if (typed.empty() || typed.size() > kMaxSuggestLength) return std::nullopt;
  if (std::find(candidates.begin(), candidates.end(), typed) != candidates.end()) return std::nullopt;
  const std::size_t allowed = typed.size() <= 4 ? 1 : typed.size() <= 8 ? 2 : 3;
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const auto& candidate : candidates) {
    if (candidate.size() > kMaxSuggestLength) continue;
    const std::size_t d = edit_distance(typed, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  if (best) return best;
  std::optional<std::string> prefixed;
  for (const auto& candidate : candidates) {
    if (candidate.size() > typed.size() && candidate.compare(0, typed.size(), typed) == 0) {
      if (prefixed) return std::nullopt;  // "s" starts several names: no guess
      prefixed = candidate;
    }
  }
  return prefixed;
}

}  // namespace mailroom::cli
