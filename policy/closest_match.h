// "Did you mean": the candidate closest to a misspelt name, for error
// messages (config keys and choices, reward names and parameters).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ponder {

// The candidate closest to `name` by edit distance (insertions, deletions,
// substitutions and swaps of neighbours), or "" when none is close enough to
// be a plausible typo.
std::string closest_match(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace ponder
