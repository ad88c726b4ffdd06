#include <gtest/gtest.h>

#include "common/text.h"

namespace clinfm {
namespace {

TEST(Text, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("n_layer", "n_layers"), 1u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("modle", "model"), 1u);  // adjacent swap
  EXPECT_EQ(edit_distance("bf61", "bf16"), 1u);
  EXPECT_EQ(edit_distance("ab", "ba"), 1u);
  EXPECT_EQ(edit_distance("abc", "ca"), 3u);       // not a restricted-edit shortcut
}

TEST(Text, ClosestMatchOnlyForPlausibleTypos) {
  const std::vector<std::string> keys = {"n_layers", "n_heads", "d_model", "d_ff", "dropout"};
  EXPECT_EQ(closest_match("n_layer", keys), "n_layers");
  EXPECT_EQ(closest_match("d_modle", keys), "d_model");
  EXPECT_EQ(closest_match("learning_rate", keys), std::nullopt);
  EXPECT_EQ(closest_match("xx", keys), std::nullopt);
}

TEST(Text, Join) {
  EXPECT_EQ(join({}, ", "), "");
  EXPECT_EQ(join({"a", "b", "c"}, " < "), "a < b < c");
}

}  // namespace
}  // namespace clinfm
