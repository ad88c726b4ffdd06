// Training throughput of clinfm's model and optimizer: one process, fixed random batches (so data
// loading is not measured), forward + backward + clip + AdamW per step, timed after warm-up
// steps. Prints one line of JSON for bench/train_bench.sh (CPU) and scripts/gpu/device_check.sh.
//   train_throughput --preset tiny --batch 16 --seq 128 --steps 20 --warmup 3 --threads 2 --vocab 2000
//   train_throughput --preset base --batch 16 --seq 1024 --device cuda --precision bf16
// On CUDA: the fused AdamW, bf16 autocast when asked, and MFU against the GPU's measured matmul
// peak in that precision (trainer/metrics.h); each step ends with loss.item(), a synchronisation.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/malloc_tuning.h"
#include "models/losses.h"
#include "models/model_dims.h"
#include "models/runtime.h"
#include "models/transformer.h"
#include "trainer/device.h"
#include "trainer/metrics.h"
#include "trainer/optim.h"

int main(int argc, char** argv) {
  std::string preset = "tiny", device_name = "cpu", precision = "fp32", attention = "auto";
  int64_t batch = 16, seq = 128, steps = 20, warmup = 3, threads = 2, vocab = 2000;
  int64_t layers = 0, heads = 0, d_model = 0, d_ff = 0;  // 0: the preset's
  double dropout = 0.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--preset")
      preset = value;
    else if (flag == "--batch")
      batch = std::atoll(value);
    else if (flag == "--seq")
      seq = std::atoll(value);
    else if (flag == "--steps")
      steps = std::atoll(value);
    else if (flag == "--warmup")
      warmup = std::atoll(value);
    else if (flag == "--threads")
      threads = std::atoll(value);
    else if (flag == "--vocab")
      vocab = std::atoll(value);
    else if (flag == "--device")
      device_name = value;
    else if (flag == "--precision")
      precision = value;
    else if (flag == "--attention")  // auto | sdpa | fused | explicit: model.attention
      attention = value;
    else if (flag == "--layers")  // --layers, --heads, --d-model, --d-ff, --dropout: the model.* keys
      layers = std::atoll(value);
    else if (flag == "--heads")
      heads = std::atoll(value);
    else if (flag == "--d-model")
      d_model = std::atoll(value);
    else if (flag == "--d-ff")
      d_ff = std::atoll(value);
    else if (flag == "--dropout")
      dropout = std::atof(value);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  clinfm::tune_malloc_for_tensors();  // as `clinfm` does (common/malloc_tuning.h)
  clinfm::apply_torch_threads(static_cast<int>(threads));
  clinfm::ModelConfig mc;
  mc.preset = preset;
  mc.attention = attention;
  mc.n_layers = layers;
  mc.n_heads = heads;
  mc.d_model = d_model;
  mc.d_ff = d_ff;
  mc.dropout = dropout;
  const clinfm::ModelDims dims = clinfm::resolve_model_dims(mc, vocab, 11);
  if ((device_name != "cpu" && device_name != "cuda") || (precision != "fp32" && precision != "bf16") ||
      (precision == "bf16" && device_name == "cpu")) {
    std::fprintf(stderr, "--device cpu|cuda, --precision fp32|bf16 (bf16 on cuda only)\n");
    return 2;
  }
  if (device_name == "cuda" && !torch::cuda::is_available()) {
    std::fprintf(stderr, "--device cuda: no CUDA device is visible to this process\n");
    return 2;
  }
  const torch::Device device =
      device_name == "cuda" ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  clinfm::use_device(device, /*tf32=*/true);
  clinfm::ClinicalTransformer model(dims);
  model->reset_parameters(1);
  model->to(device);
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (const auto& p : model->named_parameters()) named.emplace_back(p.key(), p.value());
  clinfm::OptimConfig oc;
  clinfm::AdamW optimizer(named, oc);
  std::vector<torch::Tensor> params;
  for (auto& p : optimizer.params()) params.push_back(p.param);

  torch::manual_seed(0);
  clinfm::ModelBatch b;
  b.tokens = torch::randint(2, vocab, {batch, seq}, torch::kInt64);
  b.value_bins = torch::randint(0, 11, {batch, seq}, torch::kInt64);
  b.ages = std::get<0>(torch::sort(torch::rand({batch, seq}) * 30000.0, 1));
  b.targets = torch::randint(2, vocab, {batch, seq}, torch::kInt64);
  b.target_dt = torch::rand({batch, seq});
  b.loss_mask = torch::ones({batch, seq});
  for (torch::Tensor* tensor : {&b.tokens, &b.value_bins, &b.ages, &b.targets, &b.target_dt, &b.loss_mask})
    *tensor = tensor->to(device);

  double loss_value = 0, timed = 0;
  std::vector<double> step_seconds;
  for (int64_t s = 0; s < warmup + steps; ++s) {
    const auto start = std::chrono::steady_clock::now();
    optimizer.zero_grad();
    clinfm::LossSums sums;
    {
      const clinfm::AutocastScope autocast(precision == "bf16");
      sums = clinfm::loss_sums(model->forward(b), b);
    }
    const auto loss = (sums.token_nll + sums.time_nll) / sums.targets;
    loss.backward();
    clinfm::clip_grad_norm(params, 1.0);
    optimizer.step(1e-4);
    loss_value = loss.item<double>();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s >= warmup) {
      timed += elapsed;
      step_seconds.push_back(elapsed);
    }
  }
  // The median step: robust to the odd step a noisy (virtual) machine slows down.
  std::sort(step_seconds.begin(), step_seconds.end());
  const double median_step = step_seconds[step_seconds.size() / 2];
  const double tokens_per_s = double(batch * seq * steps) / timed;
  const double peak = clinfm::measure_device_matmul_flops(device, precision == "bf16");
  const double mfu = dims.training_flops_per_token(seq) * tokens_per_s / peak;
  std::printf(
      "{\"impl\": \"clinfm\", \"device\": \"%s\", \"precision\": \"%s\", \"preset\": \"%s\", \"parameters\": "
      "%lld, \"batch\": %lld, \"seq\": %lld, "
      "\"threads\": %lld, \"steps\": %lld, \"tokens_per_s\": %.1f, \"tokens_per_s_median\": %.1f, \"mfu\": "
      "%.4f, \"peak_gflops\": %.1f, "
      "\"final_loss\": %.5f}\n",
      device_name.c_str(), precision.c_str(), preset.c_str(), static_cast<long long>(dims.parameter_count()),
      static_cast<long long>(batch), static_cast<long long>(seq), static_cast<long long>(threads),
      static_cast<long long>(steps), tokens_per_s, double(batch * seq) / median_step, mfu, peak / 1e9,
      loss_value);
  return 0;
}
