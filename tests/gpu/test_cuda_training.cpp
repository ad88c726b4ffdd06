// The CUDA side of training, checked against the CPU path on the same weights and data: the
// model's forward and loss in fp32 (TF32 off), bf16 autocast close to fp32, the fused AdamW on
// the device against the per-tensor CPU update, device-free checkpoint snapshots and the CUDA
// generator state. Label gpu; without a CUDA device main() exits 77 and ctest reports a skip.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <functional>

#include "common/config/config.h"
#include "models/losses.h"
#include "models/model_dims.h"
#include "models/transformer.h"
#include "models/weights_io.h"
#include "trainer/checkpoint/state_io.h"
#include "trainer/device.h"
#include "trainer/optim.h"

namespace clinfm {
namespace {

const torch::Device kCuda(torch::kCUDA, 0);

ModelDims small_dims() {
  ModelConfig config;
  config.preset = "tiny";
  config.n_layers = 2;
  config.d_model = 64;
  config.n_heads = 4;
  config.d_ff = 128;
  return resolve_model_dims(config, 300, 6);
}

ModelBatch random_batch(int64_t rows, int64_t cols, int64_t vocab, uint64_t seed) {
  torch::manual_seed(seed);
  ModelBatch batch;
  batch.tokens = torch::randint(2, vocab, {rows, cols}, torch::kInt64);
  batch.value_bins = torch::randint(0, 6, {rows, cols}, torch::kInt64);
  batch.ages = std::get<0>(torch::sort(torch::rand({rows, cols}) * 30000.0, 1));
  batch.targets = torch::randint(2, vocab, {rows, cols}, torch::kInt64);
  batch.target_dt = torch::rand({rows, cols}) * 2.0;
  batch.loss_mask = torch::ones({rows, cols});
  batch.loss_mask.index_put_({0, torch::indexing::Slice(cols - 5)}, 0.0);
  return batch;
}

ModelBatch to(const ModelBatch& batch, const torch::Device& device) {
  return {batch.tokens.to(device),  batch.value_bins.to(device), batch.ages.to(device),
          batch.targets.to(device), batch.target_dt.to(device),  batch.loss_mask.to(device)};
}

double mean_loss(const LossSums& sums) {
  return (sums.token_nll + sums.time_nll).item<double>() / sums.targets.item<double>();
}

// Same weights on both devices: the CUDA model is a copy of the CPU one.
struct TwoModels {
  ClinicalTransformer cpu{nullptr}, cuda{nullptr};
  TwoModels() {
    cpu = ClinicalTransformer(small_dims());
    cpu->reset_parameters(5);
    cuda = ClinicalTransformer(small_dims());
    cuda->reset_parameters(5);
    cuda->to(kCuda);
  }
};

TEST(CudaTraining, Fp32ForwardAndGradientsMatchTheCpu) {
  use_device(kCuda, /*tf32=*/false);
  TwoModels models;
  const ModelBatch batch = random_batch(4, 96, 300, 11);
  const LossSums cpu_sums = loss_sums(models.cpu->forward(batch), batch);
  const ModelBatch device_batch = to(batch, kCuda);
  const LossSums cuda_sums = loss_sums(models.cuda->forward(device_batch), device_batch);
  EXPECT_NEAR(mean_loss(cuda_sums), mean_loss(cpu_sums), 1e-4 * std::abs(mean_loss(cpu_sums)));
  (cpu_sums.token_nll + cpu_sums.time_nll).backward();
  (cuda_sums.token_nll + cuda_sums.time_nll).backward();
  const auto cpu_params = models.cpu->named_parameters();
  const auto cuda_params = models.cuda->named_parameters();
  for (const auto& item : cpu_params) {
    const torch::Tensor expected = item.value().grad();
    const torch::Tensor actual = cuda_params[item.key()].grad().cpu();
    EXPECT_TRUE(torch::allclose(actual, expected, 1e-3, 1e-5))
        << item.key() << ": max difference " << (actual - expected).abs().max().item<double>();
  }
}

TEST(CudaTraining, Bf16AutocastLossIsCloseToFp32) {
  use_device(kCuda, /*tf32=*/false);
  TwoModels models;
  const ModelBatch batch = to(random_batch(4, 96, 300, 12), kCuda);
  const double fp32 = mean_loss(loss_sums(models.cuda->forward(batch), batch));
  double bf16 = 0;
  {
    const AutocastScope autocast(true);
    const ModelOutput out = models.cuda->forward(batch);
    EXPECT_EQ(out.logits.scalar_type(), torch::kBFloat16);  // autocast is really on
    bf16 = mean_loss(loss_sums(out, batch));
  }
  EXPECT_NEAR(bf16, fp32, 0.02 * fp32);
  for (const auto& param : models.cuda->parameters()) EXPECT_EQ(param.scalar_type(), torch::kFloat32);
}

TEST(CudaTraining, FusedAdamWOnTheDeviceMatchesThePerTensorCpuUpdate) {
  use_device(kCuda, /*tf32=*/false);
  TwoModels models;
  OptimConfig config;
  config.weight_decay = 0.1;
  const auto named = [](ClinicalTransformer& model) {
    std::vector<std::pair<std::string, torch::Tensor>> params;
    for (const auto& item : model->named_parameters()) params.emplace_back(item.key(), item.value());
    return params;
  };
  AdamW cpu_adamw(named(models.cpu), config);
  AdamW cuda_adamw(named(models.cuda), config);
  ASSERT_FALSE(cpu_adamw.fused());
  ASSERT_TRUE(cuda_adamw.fused());  // kAuto on CUDA
  for (int step = 0; step < 5; ++step) {
    const ModelBatch batch = random_batch(4, 64, 300, 100 + step);
    const ModelBatch device_batch = to(batch, kCuda);
    cpu_adamw.zero_grad();
    cuda_adamw.zero_grad();
    const LossSums cpu_sums = loss_sums(models.cpu->forward(batch), batch);
    (cpu_sums.token_nll / cpu_sums.targets).backward();
    const LossSums cuda_sums = loss_sums(models.cuda->forward(device_batch), device_batch);
    (cuda_sums.token_nll / cuda_sums.targets).backward();
    cpu_adamw.step(1e-3);
    cuda_adamw.step(1e-3);
  }
  const auto cuda_params = models.cuda->named_parameters();
  for (const auto& item : models.cpu->named_parameters()) {
    const torch::Tensor actual = cuda_params[item.key()].cpu();
    EXPECT_TRUE(torch::allclose(actual, item.value(), 1e-3, 1e-5))
        << item.key() << ": max difference " << (actual - item.value()).abs().max().item<double>();
  }
}

TEST(CudaTraining, CheckpointSnapshotsAndGeneratorStatesLeaveTheDevice) {
  TwoModels models;
  int64_t checked = 0;
  std::function<void(const ModuleSnapshot&)> expect_on_host = [&](const ModuleSnapshot& snapshot) {
    for (const auto& [name, tensor] : snapshot.parameters) {
      EXPECT_TRUE(tensor.device().is_cpu()) << name;
      ++checked;
    }
    for (const auto& child : snapshot.children) expect_on_host(child.second);
  };
  expect_on_host(snapshot_module(*models.cuda));
  EXPECT_EQ(checked, int64_t(models.cuda->parameters().size()));
  torch::manual_seed(21);
  const GeneratorStates states = generator_states(kCuda);
  ASSERT_TRUE(states.cuda.defined());
  EXPECT_TRUE(states.cuda.device().is_cpu());
  const torch::Tensor expected = torch::rand({8}, kCuda).cpu();
  torch::manual_seed(22);
  EXPECT_TRUE(set_generator_states(states, kCuda));
  EXPECT_TRUE(torch::equal(torch::rand({8}, kCuda).cpu(), expected));
  GeneratorStates cpu_only = states;
  cpu_only.cuda = torch::Tensor();
  EXPECT_FALSE(set_generator_states(cpu_only, kCuda));  // the caller reseeds
}

}  // namespace
}  // namespace clinfm

int main(int argc, char** argv) {
  if (!torch::cuda::is_available()) {
    std::printf("no CUDA device visible: skipped\n");
    return 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
