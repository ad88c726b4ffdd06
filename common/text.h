// Small text helpers shared by the config loader and the command line.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace clinfm {

// Edit distance: insertions, deletions, substitutions and swaps of adjacent characters each cost 1.
size_t edit_distance(const std::string& a, const std::string& b);
// The candidate closest to `word` if it is close enough to be a plausible typo: at most
// max(1, len/3) edits away (so "n_layer" -> "n_layers", but "lr" never -> "seed").
std::optional<std::string> closest_match(const std::string& word, const std::vector<std::string>& candidates);
std::string join(const std::vector<std::string>& items, const std::string& separator);

}  // namespace clinfm
