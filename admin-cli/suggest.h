// "Did you mean ...?": the known name nearest to a mistyped one (a command, an option, a help
// topic). Pure; tests/unit/cli/suggest_test.cpp.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailroom::cli {

// Longest name compared; a longer one is nobody's typo and gets no suggestion (bounds the work).
inline constexpr std::size_t kMaxSuggestLength = 64;

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring characters each cost 1 ("lst" -> "list" 1, "lsit" -> "list" 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `typed` when it is near enough to be what was meant: at most 1 edit
// for up to 4 characters, 2 up to 8, 3 beyond; else a candidate that `typed` is the start of
// ("post" -> "postoffice"), when only one is. Ties go to the earlier candidate. Case matters
// (commands and options are lower case). nullopt when nothing is close, `typed` is empty or
// one of the candidates, or longer than kMaxSuggestLength.
std::optional<std::string> nearest_name(std::string_view typed, const std::vector<std::string>& candidates);

}  // namespace mailroom::cli
