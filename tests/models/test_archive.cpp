// models/archive.h: with CRC-32s it writes exactly what LibTorch's OutputArchive writes; without
// them (clinfm's checkpoints) LibTorch's InputArchive reads the same values, and the CRC fields
// are the only bytes that differ.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "models/archive.h"

namespace clinfm {
namespace {

std::string bytes_of(const std::function<void(const std::function<size_t(const void*, size_t)>&)>& save) {
  std::string bytes;
  save([&bytes](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  return bytes;
}

// The same content in both archive types: a tensor, a buffer, an int, a string, a nested archive.
template <typename A>
void fill(A& archive, const torch::Tensor& weight, const torch::Tensor& buffer) {
  archive.write("weight", weight);
  archive.write("running", buffer, /*is_buffer=*/true);
  archive.write("count", c10::IValue(int64_t(42)));
  archive.write("name", c10::IValue(std::string("clinfm")));
  A child(archive.compilation_unit());
  child.write("bias", weight.sum(0));
  archive.write("child", child);
}

TEST(Archive, WithCrcIsOutputArchiveAndWithoutReadsTheSame) {
  torch::manual_seed(5);
  const torch::Tensor weight = torch::randn({64, 33}), buffer = torch::arange(7, torch::kInt64);
  torch::serialize::OutputArchive reference;
  fill(reference, weight, buffer);
  const std::string expected = bytes_of([&](const auto& out) { reference.save_to(out); });

  Archive with_crc, without_crc;
  fill(with_crc, weight, buffer);
  fill(without_crc, weight, buffer);
  EXPECT_EQ(bytes_of([&](const auto& out) { with_crc.save_to(out, /*crc32=*/true); }), expected);
  const std::string fast = bytes_of([&](const auto& out) { without_crc.save_to(out); });
  ASSERT_EQ(fast.size(), expected.size());
  EXPECT_NE(fast, expected);  // the CRC fields (and the serialization id made from them)

  torch::serialize::InputArchive in;
  in.load_from(fast.data(), fast.size());
  torch::Tensor read_weight, read_buffer, read_bias;
  in.read("weight", read_weight);
  in.read("running", read_buffer, /*is_buffer=*/true);
  EXPECT_TRUE(torch::equal(read_weight, weight));
  EXPECT_TRUE(torch::equal(read_buffer, buffer));
  c10::IValue count, name;
  in.read("count", count);
  in.read("name", name);
  EXPECT_EQ(count.toInt(), 42);
  EXPECT_EQ(name.toStringRef(), "clinfm");
  torch::serialize::InputArchive child;
  ASSERT_TRUE(in.try_read("child", child));
  child.read("bias", read_bias);
  EXPECT_TRUE(torch::equal(read_bias, weight.sum(0)));
}

}  // namespace
}  // namespace clinfm
