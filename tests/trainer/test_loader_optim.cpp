// The global sample order, rank slices, windows and padding of the loader; the learning-rate
// schedule, clipping and weight-decay groups of the optimizer.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

#include "../data/prep_fixture.h"
#include "common/error.h"
#include "data/loader.h"
#include "data/prep.h"
#include "data/sampler.h"
#include "data/vocab.h"
#include "trainer/comm/communicator.h"
#include "trainer/optim.h"
#include "trainer/replicated_adamw.h"
#include "trainer/zero1.h"

namespace clinfm {
namespace {
using testing::TempDir;
using testing::write_text;

TEST(Sampler, OrderDependsOnlyOnSeedEpochAndIndex) {
  const std::vector<int64_t> lengths = {5, 1, 300, 40, 2, 77, 1000};
  GlobalSampler a(lengths, 7, 64), b(lengths, 7, 64), c(lengths, 8, 64);
  EXPECT_EQ(a.patients_per_epoch(), 6);  // the 1-event patient has no target
  std::vector<int64_t> epoch0;
  for (int64_t g = 0; g < 6; ++g) epoch0.push_back(a.sample(g).patient);
  EXPECT_EQ(std::set<int64_t>(epoch0.begin(), epoch0.end()), (std::set<int64_t>{0, 2, 3, 4, 5, 6}));
  // Random access in any order gives the same samples (b jumps between epochs).
  for (int64_t g : {17, 3, 40, 0, 5, 18}) {
    const auto x = a.sample(g), y = b.sample(g);
    EXPECT_EQ(x.patient, y.patient);
    EXPECT_EQ(x.start, y.start);
    EXPECT_EQ(x.count, y.count);
  }
  bool differs = false;
  for (int64_t g = 0; g < 12; ++g)
    differs |= a.sample(g).patient != c.sample(g).patient || a.sample(g).start != c.sample(g).start;
  EXPECT_TRUE(differs);
  for (int64_t g = 0; g < 60; ++g) {
    const auto w = a.sample(g);
    EXPECT_LE(w.count, 65);
    EXPECT_LE(w.start + w.count, lengths[size_t(w.patient)]);
    if (lengths[size_t(w.patient)] <= 65) {
      EXPECT_EQ(w.count, lengths[size_t(w.patient)]);
    }
  }
  EXPECT_THROW(GlobalSampler({1, 1}, 0, 8), InputError);
}

TEST(Batch, TargetsAreTheNextEventAndPaddingIsMasked) {
  PatientTimeline p;
  p.tokens = {5, 6, 7, 8};
  p.age_days = {0, 365.25, 365.25, 730.5};
  p.values = {NAN, 1, NAN, 2};
  p.value_bins = {0, 3, 0, 4};
  const HostBatch b = make_batch({p}, 6, {7});
  EXPECT_EQ(b.tokens, (std::vector<int64_t>{5, 6, 7, 0, 0, 0}));
  EXPECT_EQ(b.targets, (std::vector<int64_t>{6, 7, 8, 0, 0, 0}));
  EXPECT_EQ(b.value_bins, (std::vector<int64_t>{0, 3, 0, 0, 0, 0}));
  EXPECT_FLOAT_EQ(b.target_dt[0], 1.0f);
  EXPECT_FLOAT_EQ(b.target_dt[1], 0.0f);
  EXPECT_EQ(b.loss_mask, (std::vector<float>{1, 0, 1, 0, 0, 0}));  // target 7 is ignored
  EXPECT_EQ(b.targets_kept, 2);
  EXPECT_EQ(b.positions_used, 3);
  const HostBatch cut = make_batch({p}, 2, {});
  EXPECT_EQ(cut.tokens, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(cut.targets, (std::vector<int64_t>{6, 7}));
}

std::string cohort_meds(int patients) {
  std::string csv = "subject_id,time,code,numeric_value,text_value\n";
  for (int i = 0; i < patients; ++i) {
    csv += fmt::format("P{},1950-01-01,MEDS_BIRTH,,\n", i);
    for (int e = 0; e < 3 + i % 40; ++e)
      csv += fmt::format("P{},{}-01-01,CODE//{},{},\n", i, 1960 + e, e % 7, e);
  }
  return csv;
}

TEST(Loader, RankSlicesPartitionTheGlobalBatchAndPrefetchChangesNothing) {
  TempDir dir;
  write_text(dir / "events.csv", cohort_meds(50));
  PrepOptions o = testing::meds_prep(dir / "events.csv", dir / "ds", dir / "salt");
  run_prep(o);
  const Dataset dataset(dir / "ds");
  LoaderOptions lo;
  lo.seq_len = 16;
  lo.micro_batch = 2;
  lo.global_batch = 8;
  lo.seed = 3;
  lo.prefetch_batches = 0;
  BatchLoader one(dataset, lo);
  lo.prefetch_batches = 12;  // 3 steps of 4 micro-batches
  BatchLoader prefetched(dataset, lo);
  lo.prefetch_batches = 0;
  lo.micro_batch = 1;
  lo.world_size = 2;
  lo.rank = 0;
  BatchLoader rank0(dataset, lo);
  lo.rank = 1;
  BatchLoader rank1(dataset, lo);
  EXPECT_EQ(one.accumulation_steps(), 4);
  EXPECT_EQ(rank0.accumulation_steps(), 4);
  for (int step = 0; step < 5; ++step) {
    const auto a = one.next_step(), p = prefetched.next_step(), r0 = rank0.next_step(),
               r1 = rank1.next_step();
    std::vector<int64_t> whole, split;
    for (const auto& b : a) whole.insert(whole.end(), b.tokens.begin(), b.tokens.end());
    std::vector<int64_t> pre;
    for (const auto& b : p) pre.insert(pre.end(), b.tokens.begin(), b.tokens.end());
    for (const auto& b : r0) split.insert(split.end(), b.tokens.begin(), b.tokens.end());
    for (const auto& b : r1) split.insert(split.end(), b.tokens.begin(), b.tokens.end());
    EXPECT_EQ(whole, pre) << "step " << step;
    EXPECT_EQ(whole, split) << "step " << step;  // rank 0 then rank 1 = the global batch in order
  }
  lo.global_batch = 6;
  lo.micro_batch = 4;
  EXPECT_THROW(BatchLoader(dataset, lo), InputError);
  lo.split = "nonexistent";
  lo.global_batch = 8;
  lo.micro_batch = 2;
  EXPECT_THROW(BatchLoader(dataset, lo), InputError);
}

TEST(Optim, ScheduleWarmupThenCosine) {
  OptimConfig c;
  c.lr = 1.0;
  c.min_lr = 0.1;
  c.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learning_rate(0, c, 104), 0.25);
  EXPECT_DOUBLE_EQ(learning_rate(3, c, 104), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(4, c, 104), 1.0);
  EXPECT_NEAR(learning_rate(54, c, 104), 0.55, 1e-12);  // half-way: (lr + min_lr) / 2
  EXPECT_NEAR(learning_rate(104, c, 104), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate(500, c, 104), 0.1, 1e-12);
}

TEST(Optim, ClipAndDecayGroups) {
  auto w = torch::ones({2, 2}, torch::requires_grad());
  auto b = torch::ones({2}, torch::requires_grad());
  (w.sum() * 3 + b.sum() * 4).backward();  // grads 3 (x4) and 4 (x2): norm sqrt(36+32)
  const double norm = clip_grad_norm({w, b}, 1.0);
  EXPECT_NEAR(norm, std::sqrt(68.0), 1e-6);
  EXPECT_NEAR(torch::cat({w.grad().flatten(), b.grad().flatten()}).norm().item<double>(), 1.0, 1e-5);
  OptimConfig c;
  EXPECT_TRUE(applies_weight_decay("blocks.0.attn.qkv.weight", w, c));
  EXPECT_FALSE(applies_weight_decay("blocks.0.attn_norm.weight", b, c));
  EXPECT_FALSE(applies_weight_decay("time_head.bias", b, c));
  EXPECT_FALSE(applies_weight_decay("token_embedding.weight", w, c));
  c.decay_embeddings_and_norms = true;
  EXPECT_TRUE(applies_weight_decay("token_embedding.weight", w, c));
}

// The fused kernel (the CUDA default) against the per-tensor path that the reference test
// pins to torch.optim.AdamW: run here on the CPU, where ATen also implements it. Both weight-
// decay groups, a parameter without a gradient, and enough steps for bias correction to matter.
TEST(Optim, FusedAdamWMatchesThePerTensorPath) {
  torch::manual_seed(3);
  const std::vector<std::pair<std::string, torch::Tensor>> init = {
      {"blocks.0.mlp.fc.weight", torch::randn({8, 5})},
      {"blocks.0.attn_norm.weight", torch::randn({5})},
      {"token_embedding.weight", torch::randn({7, 5})},
      {"frozen_head.weight", torch::randn({3, 5})}};  // gets no gradient
  OptimConfig config;
  config.weight_decay = 0.1;
  config.eps = 1e-8;
  auto copy = [&] {
    std::vector<std::pair<std::string, torch::Tensor>> params;
    for (const auto& [name, value] : init) params.emplace_back(name, value.clone().set_requires_grad(true));
    return params;
  };
  auto per_tensor_params = copy(), fused_params = copy();
  AdamW per_tensor(per_tensor_params, config, AdamWKernel::kPerTensor);
  AdamW fused(fused_params, config, AdamWKernel::kFused);
  EXPECT_FALSE(per_tensor.fused());
  EXPECT_TRUE(fused.fused());
  EXPECT_FALSE(AdamW(copy(), config).fused());  // kAuto on the CPU: the exact path
  for (int step = 0; step < 6; ++step) {
    const torch::Tensor seed_grads = torch::randn({3});
    for (auto* params : {&per_tensor_params, &fused_params}) {
      torch::Tensor loss = torch::zeros({});
      for (size_t index = 0; index < 3; ++index)
        loss = loss + ((*params)[index].second * (*params)[index].second).sum() * seed_grads[int64_t(index)];
      for (auto& [name, param] : *params) param.mutable_grad() = torch::Tensor();
      loss.backward();
    }
    per_tensor.step(1e-2);
    fused.step(1e-2);
  }
  for (size_t index = 0; index < init.size(); ++index) {
    const auto& [name, expected] = per_tensor_params[index];
    const torch::Tensor& actual = fused_params[index].second;
    EXPECT_TRUE(torch::allclose(actual, expected, /*rtol=*/1e-5, /*atol=*/1e-6))
        << name << ": max difference " << (actual - expected).abs().max().item<double>();
    EXPECT_TRUE(
        torch::allclose(fused.params()[index].exp_avg_sq, per_tensor.params()[index].exp_avg_sq, 1e-5, 1e-9))
        << name;
  }
  EXPECT_TRUE(torch::equal(fused_params[3].second, init[3].second));  // no gradient: untouched
  EXPECT_FALSE(torch::equal(fused_params[0].second, init[0].second));
  EXPECT_EQ(fused.steps(), 6);
}

// Parameters of both weight-decay groups, one without a gradient, for the tests below.
NamedParameters optimizer_test_parameters() {
  torch::manual_seed(11);
  return {{"blocks.0.mlp.fc.weight", torch::randn({8, 5}).set_requires_grad(true)},
          {"blocks.0.attn_norm.weight", torch::randn({5}).set_requires_grad(true)},
          {"token_embedding.weight", torch::randn({7, 5}).set_requires_grad(true)},
          {"blocks.0.mlp.proj.weight", torch::randn({5, 8}).set_requires_grad(true)},
          {"time_head.bias", torch::randn({3}).set_requires_grad(true)}};  // no decay; no gradient below
}

NamedParameters clone_parameters(const NamedParameters& params) {
  NamedParameters out;
  for (const auto& [name, value] : params)
    out.emplace_back(name, value.detach().clone().set_requires_grad(true));
  return out;
}

// Gradients of a fixed quadratic loss (step-dependent), none for the last parameter; `scale`
// multiplies them (NaN: a bad step).
void set_gradients(NamedParameters& params, int step, double scale = 1.0) {
  for (size_t index = 0; index + 1 < params.size(); ++index) {
    torch::Tensor& param = params[index].second;
    param.mutable_grad() = (param.detach() * (0.3 + 0.1 * double(step + int(index))) + 0.05) * scale;
  }
  params.back().second.mutable_grad() = torch::Tensor();
}

torch::Tensor flag(bool value) { return torch::full({}, value, torch::kBool); }

// A skipped update (decided by a flag on the device) changes nothing: parameters, moments and
// the update count, for both kernels; the next update is the first one.
TEST(Optim, SkippedUpdateChangesNothingInEitherKernel) {
  OptimConfig config;
  config.weight_decay = 0.1;
  for (const AdamWKernel kernel : {AdamWKernel::kPerTensor, AdamWKernel::kFused}) {
    NamedParameters skipped = optimizer_test_parameters(), fresh = clone_parameters(skipped);
    const NamedParameters initial = clone_parameters(skipped);
    AdamW adamw(skipped, config, kernel), reference(fresh, config, kernel);
    set_gradients(skipped, 0);
    adamw.step(1e-2, flag(false));
    EXPECT_EQ(adamw.steps(), 0);
    for (size_t index = 0; index < skipped.size(); ++index) {
      EXPECT_TRUE(torch::equal(skipped[index].second, initial[index].second)) << skipped[index].first;
      EXPECT_EQ(adamw.params()[index].exp_avg.abs().sum().item<double>(), 0.0);
    }
    set_gradients(skipped, 1);
    set_gradients(fresh, 1);
    adamw.step(1e-2, flag(true));
    reference.step(1e-2);
    EXPECT_EQ(adamw.steps(), 1);
    for (size_t index = 0; index < skipped.size(); ++index)
      EXPECT_TRUE(torch::equal(skipped[index].second, fresh[index].second)) << skipped[index].first;
  }
}

// The device-side clipping returns the norm the host version returns and scales the same way:
// bitwise, both when clipping and when within max_norm (a factor of exactly 1).
TEST(Optim, ClipOnDeviceIsTheHostArithmetic) {
  for (const double max_norm : {0.5, 1e6}) {
    NamedParameters a = optimizer_test_parameters(), b = clone_parameters(a);
    set_gradients(a, 2);
    set_gradients(b, 2);
    std::vector<torch::Tensor> pa, pb;
    for (auto& [name, value] : a) pa.push_back(value);
    for (auto& [name, value] : b) pb.push_back(value);
    const std::vector<torch::Tensor> before = {pa[0].grad().clone()};
    const double host = clip_grad_norm(pa, max_norm);
    const torch::Tensor device = clip_grad_norm_on_device(pb, max_norm);
    EXPECT_EQ(device.scalar_type(), torch::kFloat64);
    EXPECT_EQ(device.item<double>(), host);
    for (size_t index = 0; index + 1 < pa.size(); ++index)
      EXPECT_TRUE(torch::equal(pa[index].grad(), pb[index].grad()));
    EXPECT_EQ(torch::equal(pa[0].grad(), before[0]), max_norm > host) << "max_norm " << max_norm;
  }
}

// ZeRO-1's fused path (the CUDA default: ATen's kernel over views of the shard, one list per
// decay group, the skip decided on the device) against its per-element path (AdamW's
// arithmetic), in a world of one where the shard is the whole vector; and the optimizer
// interface's skips: a NaN gradient and a loss reported not finite.
TEST(Optim, ZeroOneFusedMatchesPerElementAndSkipsOnTheDevice) {
  OptimConfig config;
  config.weight_decay = 0.1;
  auto comm = make_local_communicator();
  NamedParameters per_element_params = optimizer_test_parameters(),
                  fused_params = clone_parameters(per_element_params);
  const NamedParameters initial = clone_parameters(per_element_params);
  Zero1AdamW per_element(per_element_params, config, *comm, AdamWKernel::kPerTensor);
  Zero1AdamW fused(fused_params, config, *comm, AdamWKernel::kFused);
  EXPECT_FALSE(per_element.fused());
  EXPECT_TRUE(fused.fused());
  for (int step = 0; step < 7; ++step) {
    const bool nan_gradient = step == 2, loss_not_finite = step == 4;
    for (auto* params : {&per_element_params, &fused_params})
      set_gradients(*params, step, nan_gradient ? std::numeric_limits<double>::quiet_NaN() : 1.0);
    const torch::Tensor a = per_element.step(1e-2, 1.0, flag(!loss_not_finite));
    const torch::Tensor b = fused.step(1e-2, 1.0, flag(!loss_not_finite));
    EXPECT_EQ(std::isfinite(a.item<double>()), !nan_gradient && !loss_not_finite) << "step " << step;
    EXPECT_EQ(std::isfinite(b.item<double>()), !nan_gradient && !loss_not_finite) << "step " << step;
    if (!nan_gradient && !loss_not_finite) {
      EXPECT_NEAR(a.item<double>(), b.item<double>(), 1e-12 * a.item<double>());
    }
  }
  EXPECT_EQ(per_element.updates(), 5);
  EXPECT_EQ(fused.updates(), 5);
  for (size_t index = 0; index < initial.size(); ++index) {
    const torch::Tensor& expected = per_element_params[index].second;
    const torch::Tensor& actual = fused_params[index].second;
    EXPECT_TRUE(torch::allclose(actual, expected, 1e-5, 1e-6))
        << per_element_params[index].first << ": max difference "
        << (actual - expected).abs().max().item<double>();
  }
  EXPECT_TRUE(torch::allclose(fused.exp_avg_sq(), per_element.exp_avg_sq(), 1e-5, 1e-9));
  EXPECT_TRUE(
      torch::equal(fused_params[4].second,
                   initial[4].second));  // zero gradient (ZeRO-1 fills a missing one), no decay: untouched
  EXPECT_FALSE(torch::equal(fused_params[0].second, initial[0].second));
  // The update count survives a state round trip on the device counter.
  Zero1AdamW restored(clone_parameters(initial), config, *comm, AdamWKernel::kFused);
  restored.load_state(fused.state(SnapshotMode::kCopy));
  EXPECT_EQ(restored.updates(), 5);
}

// The replicated optimizer reports NaN for a step whose loss was not finite and leaves the
// parameters as they were.
TEST(Optim, ReplicatedStepSkipsWhenTheLossIsNotFinite) {
  Config config;
  auto comm = make_local_communicator();
  NamedParameters params = optimizer_test_parameters();
  const NamedParameters initial = clone_parameters(params);
  ReplicatedAdamW optimizer(params, config, *comm);
  set_gradients(params, 0);
  const torch::Tensor norm = optimizer.step(1e-2, 1.0, flag(false));
  EXPECT_TRUE(std::isnan(norm.item<double>()));
  EXPECT_EQ(optimizer.updates(), 0);
  for (size_t index = 0; index < params.size(); ++index)
    EXPECT_TRUE(torch::equal(params[index].second, initial[index].second));
  set_gradients(params, 1);
  EXPECT_GT(optimizer.step(1e-2, 1.0, flag(true)).item<double>(), 0.0);
  EXPECT_EQ(optimizer.updates(), 1);
  EXPECT_FALSE(torch::equal(params[0].second, initial[0].second));
}

// The moments live in two flat buffers (optim.h): the state a checkpoint writes is the same
// with or without a copy, a shared state is the live buffer and a copied one is not, and a
// non-contiguous parameter falls back to a moment of its own.
TEST(Optim, StateIsTheFlatMomentsSharedOrCopied) {
  Config config;
  auto comm = make_local_communicator();
  NamedParameters params = optimizer_test_parameters();
  ReplicatedAdamW optimizer(params, config, *comm);
  for (int step = 0; step < 3; ++step) {
    set_gradients(params, step);
    optimizer.step(1e-2, 1.0, flag(true));
  }
  const OptimizerRange shared = optimizer.state(SnapshotMode::kShare);
  const OptimizerRange copied = optimizer.state(SnapshotMode::kCopy);
  EXPECT_TRUE(torch::equal(shared.exp_avg, copied.exp_avg));
  EXPECT_TRUE(torch::equal(shared.exp_avg_sq, copied.exp_avg_sq));
  EXPECT_NE(shared.exp_avg.data_ptr(), copied.exp_avg.data_ptr());
  set_gradients(params, 3);
  optimizer.step(1e-2, 1.0, flag(true));  // the shared state is the live one: it moved
  EXPECT_FALSE(torch::equal(shared.exp_avg, copied.exp_avg));
  EXPECT_TRUE(torch::equal(shared.exp_avg, optimizer.state(SnapshotMode::kCopy).exp_avg));
  // The flat vector is the per-parameter moments concatenated in optimizer order.
  EXPECT_EQ(shared.exp_avg.numel(), 8 * 5 + 5 + 7 * 5 + 5 * 8 + 3);
  EXPECT_GT(shared.exp_avg.abs().sum().item<double>(), 0.0);
  NamedParameters again = optimizer_test_parameters();
  AdamW adamw(again, config.optim);
  for (int step = 0; step < 3; ++step) {
    set_gradients(again, step);
    adamw.step(1e-2);
  }
  std::vector<torch::Tensor> pieces;
  for (const auto& entry : adamw.params()) pieces.push_back(entry.exp_avg.reshape({-1}));
  EXPECT_TRUE(torch::equal(torch::cat(pieces), adamw.flat_exp_avg()));
  EXPECT_EQ(adamw.params()[1].exp_avg.data_ptr<float>(), adamw.flat_exp_avg().data_ptr<float>() + 8 * 5);
  // A transposed (non-contiguous) parameter: no flat buffers, moments of their own.
  NamedParameters odd = {{"w", torch::randn({4, 3}).t().set_requires_grad(true)},
                         {"b", torch::randn({3}).set_requires_grad(true)}};
  AdamW fallback(odd, config.optim);
  EXPECT_FALSE(fallback.flat_exp_avg().defined());
  EXPECT_EQ(fallback.params()[0].exp_avg.strides(), odd[0].second.strides());
}

}  // namespace
}  // namespace clinfm
