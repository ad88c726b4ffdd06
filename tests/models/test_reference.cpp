// Correctness reference: the LibTorch ClinicalTransformer, its losses, AdamW, the learning-rate
// schedule and gradient clipping against an independent PyTorch implementation
// (tests/models/reference_model.py), tensor by tensor, printing the worst difference of each.
// Over 400 lines: each component (embeddings, attention, losses, AdamW, schedule) is its own
// comparison against the Python reference.
//
// The test writes the tiny model's initial weights, a fixed batch and the hyperparameters to a
// temporary folder, runs the script with the project's Python (scripts/setup.sh's .venv with
// torch 2.11: the same version as the LibTorch under test; a missing interpreter or torch is a
// failure, not a skip), and reads its results back. Exchange format,
// both ways: one raw little-endian file per tensor plus tensors.json, an index
// {name: {"dtype": "float32" | "int64", "shape": [...], "file": "..."}}.
//
// Everything is fp32 on the CPU with one thread on both sides.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "models/cpu/attention.h"
#include "models/losses.h"
#include "models/model_dims.h"
#include "models/transformer.h"
#include "trainer/optim.h"

namespace clinfm {
namespace {

namespace fs = std::filesystem;
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

constexpr char kPython[] = CLINFM_PYTHON;  // the project's venv (scripts/setup.sh)
constexpr uint64_t kSeed = 1234;
constexpr int64_t kMaxSteps = 10;
constexpr double kTokenLossWeight = 1.0;
constexpr double kTimeLossWeight = 0.5;

// ---------------------------------------------------------------------------------------------
// Tolerances (fp32 throughout; float32 epsilon is 1.19e-7).
//
// An element is compared as |a - b| / max(|b|, floor) with floor = a fraction of max|b| over
// the tensor. Outputs, losses and gradients: relative error <= 1e-5 (~100 ulps). The floor is
// there because an element that is small through cancellation (a norm-weight gradient summed
// over the B*T = 33 positions, a logit near zero) carries the absolute rounding error of the
// terms that cancelled, which is of the order of epsilon times the tensor's scale, not of its
// own size. With floor = 0.5 x max|b|, elements at least half the largest are held to 1e-5
// relative and the smaller ones to 5e-6 x max|b| absolute, ~42 ulps of the largest element.
// The worst seen is 2.7e-6 x max|b| (the SwiGLU gate gradients at the trained weights, where
// they depend on the rounding of the C++ training run: 1.1e-6 at the weights an explicit-
// attention run reaches, 2.7e-6 at a fused-attention run's, and the same 2.7e-6 for both
// kernels at those weights), while a 2e-3 change in a single weight moves the logits by
// ~5e-5 x max|b| and its own gradient by ~1.5e-5 x max|b| (the negative control checks that
// both are caught).
constexpr double kRtol = 1e-5;
constexpr double kFloorFraction = 0.5;
// Parameters after the AdamW run: |a - b| <= 5e-5 x max|param| of that parameter (floor = the
// scale). AdamW divides each first moment by the square root of its second moment, so the
// rounding-level differences of the gradients are not damped but passed into every update at
// the size of lr x (relative change of m / sqrt(v)), and they compound over the steps through
// the changed weights: a per-element relative bound would measure that noise (worst seen
// ~7e-6 x scale, in the last MLP). Bounded against the parameter's scale it still catches a
// wrong update: a wrong sign, learning rate, bias correction or clipping changes updates of
// size ~lr = 1e-2 (~10% of a weight matrix's scale) by a sizeable fraction; a decay applied to
// norms and embeddings, the subtlest of them, moves them by sum(lr) x wd ~ 6e-3 relative, 100x
// the bound (checked by a negative control).
constexpr double kParamRtol = 5e-5;
constexpr double kParamFloorFraction = 1.0;

OptimConfig reference_optim() {
  OptimConfig o;
  o.lr = 1e-2;
  o.min_lr = 1e-3;
  o.weight_decay = 0.1;
  o.beta1 = 0.9;
  o.beta2 = 0.95;
  o.eps = 1e-8;
  o.warmup_steps = 3;
  o.grad_clip = 1.4;  // between the gradient norms of the run: some steps are clipped, some not
  o.decay_embeddings_and_norms = false;
  return o;
}

ModelDims reference_dims() {
  ModelDims d;
  d.preset = "tiny";
  d.vocab_size = 37;
  d.value_bins = 5;
  d.n_layers = 2;
  d.n_heads = 4;
  d.d_model = 32;
  d.d_ff = 64;
  d.dropout = 0.0;
  // The kernel `model.attention=auto` picks (LibTorch's scaled_dot_product_attention);
  // tests/models/test_cpu_attention.cpp holds the other kernels to it.
  d.attention = "sdpa";
  return d;
}

// B = 3, T = 11. Row 1 ends in a padded tail (token 0, loss mask 0); a few kept positions have
// dt = 0 (events at the same time) to exercise the one-hour clamp of the time loss.
ModelBatch reference_batch(int64_t V, int64_t value_bins) {
  const int64_t B = 3, T = 11;
  auto gen = at::detail::createCPUGenerator(99);
  ModelBatch b;
  b.tokens = torch::randint(2, V, {B, T}, gen, torch::kInt64);
  b.value_bins = torch::randint(0, value_bins, {B, T}, gen, torch::kInt64);
  b.ages = std::get<0>(torch::sort(20000.0 + torch::rand({B, T}, gen) * 10000.0, 1));
  b.targets = torch::randint(2, V, {B, T}, gen, torch::kInt64);
  b.target_dt = torch::rand({B, T}, gen) * 3.0;
  b.loss_mask = torch::ones({B, T});
  b.target_dt.index_put_({0, 2}, 0.0);
  b.target_dt.index_put_({2, 5}, 0.0);
  b.target_dt.index_put_({2, 6}, 1e-6f);  // below the clamp, not zero
  using torch::indexing::Slice;
  const auto tail = Slice(7);
  b.tokens.index_put_({1, tail}, 0);
  b.value_bins.index_put_({1, tail}, 0);
  b.ages.index_put_({1, tail}, b.ages.index({1, 6}).item<float>());
  b.targets.index_put_({1, Slice(6)}, 0);  // the last real event has no next event
  b.target_dt.index_put_({1, Slice(6)}, 0.0);
  b.loss_mask.index_put_({1, Slice(6)}, 0.0);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Exchange format
// ---------------------------------------------------------------------------------------------
bool little_endian() {
  const uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

void write_tensors(const fs::path& dir, const NamedTensors& tensors) {
  fs::create_directories(dir);
  nlohmann::json index = nlohmann::json::object();
  int i = 0;
  for (const auto& [name, tensor] : tensors) {
    const auto t = tensor.detach().cpu().contiguous();
    std::string dtype;
    if (t.scalar_type() == torch::kFloat32)
      dtype = "float32";
    else if (t.scalar_type() == torch::kInt64)
      dtype = "int64";
    else
      throw std::runtime_error(name + ": unsupported dtype");
    char file[32];
    std::snprintf(file, sizeof(file), "%04d.bin", i++);
    std::ofstream out(dir / file, std::ios::binary);
    out.write(static_cast<const char*>(t.data_ptr()), std::streamsize(t.numel() * t.element_size()));
    if (!out) throw std::runtime_error("cannot write " + (dir / file).string());
    index[name] = {{"dtype", dtype}, {"shape", t.sizes().vec()}, {"file", file}};
  }
  std::ofstream(dir / "tensors.json") << index.dump(1);
}

std::map<std::string, torch::Tensor> read_tensors(const fs::path& dir) {
  std::ifstream in(dir / "tensors.json");
  if (!in) throw std::runtime_error("no tensors.json in " + dir.string());
  const auto index = nlohmann::json::parse(in);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [name, entry] : index.items()) {
    const std::string dtype = entry.at("dtype");
    const auto type = dtype == "float32" ? torch::kFloat32 : dtype == "int64" ? torch::kInt64 : torch::kByte;
    if (type == torch::kByte) throw std::runtime_error(name + ": unsupported dtype " + dtype);
    const auto t = torch::empty(entry.at("shape").get<std::vector<int64_t>>(), type);
    const auto path = dir / entry.at("file").get<std::string>();
    const auto bytes = std::uintmax_t(t.numel() * t.element_size());
    if (fs::file_size(path) != bytes) throw std::runtime_error(name + ": wrong file size " + path.string());
    std::ifstream f(path, std::ios::binary);
    f.read(static_cast<char*>(t.data_ptr()), std::streamsize(bytes));
    tensors[name] = t;
  }
  return tensors;
}

// Runs a shell command; returns its exit status and appends its stdout+stderr to `output`.
int run_command(const std::string& command, std::string& output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------
struct Diff {
  double max_abs = 0, max_rel = 0, scale = 0;
  bool ok = true;
  std::string message;
};

Diff compare(const std::string& name, const torch::Tensor& actual, const torch::Tensor& expected,
             double rtol = kRtol, double floor_fraction = kFloorFraction) {
  Diff d;
  if (!expected.defined() || !actual.defined() || actual.sizes() != expected.sizes()) {
    d.ok = false;
    d.message = name + ": missing or shape mismatch";
    std::printf("  %-34s %s\n", name.c_str(), d.message.c_str());
    return d;
  }
  const auto a = actual.detach().to(torch::kFloat64), b = expected.detach().to(torch::kFloat64);
  d.scale = b.abs().max().item<double>();
  const double floor = std::max(floor_fraction * d.scale, 1e-30);
  const auto diff = (a - b).abs();
  d.max_abs = diff.max().item<double>();
  d.max_rel = (diff / b.abs().clamp_min(floor)).max().item<double>();
  const bool finite = torch::isfinite(a).all().item<bool>() && torch::isfinite(b).all().item<bool>();
  d.ok = finite && d.max_rel <= rtol;
  std::ostringstream m;
  m << name << ": max|diff| " << d.max_abs << ", max rel " << d.max_rel << " (tolerance " << rtol
    << ", floor " << floor << ")" << (finite ? "" : ", NOT FINITE");
  d.message = m.str();
  std::printf("  %-34s max|diff| %9.3e  max rel %9.3e  (max|ref| %9.3e)%s\n", name.c_str(), d.max_abs,
              d.max_rel, d.scale, d.ok ? "" : "  <-- FAIL");
  return d;
}

// ---------------------------------------------------------------------------------------------
// The C++ side and the reference run, computed once per process.
// ---------------------------------------------------------------------------------------------
// One forward pass, the losses and one backward pass of the total loss.
struct Pass {
  ModelOutput out;
  LossSums sums;
  torch::Tensor loss;
  NamedTensors grads;
};

struct TrainRun {
  std::vector<double> loss, grad_norm, lr;
  NamedTensors final_params;
};

struct Shared {
  std::string error;  // non-empty: the reference could not be produced
  std::string python_output;
  ModelDims dims;
  OptimConfig optim;
  ModelBatch batch;
  NamedTensors initial;  // parameters after reset_parameters(kSeed)
  torch::Tensor age_frequencies;
  Pass initial_pass;  // from the initial weights
  TrainRun train;     // kMaxSteps AdamW updates from the initial weights
  Pass trained_pass;  // from the weights after the C++ run (non-zero time head)
  std::map<std::string, torch::Tensor> ref;
};

ClinicalTransformer model_from(const ModelDims& dims, const NamedTensors& params) {
  ClinicalTransformer model(dims);
  torch::NoGradGuard no_grad;
  auto named = model->named_parameters();
  for (const auto& [name, value] : params) named[name].copy_(value);
  model->train();  // dropout is 0: train and eval agree
  return model;
}

// The training loss of a step, composed as Trainer::train_step does.
torch::Tensor total_loss(const LossSums& s) {
  return (kTokenLossWeight * s.token_nll + kTimeLossWeight * s.time_nll) / s.targets.item<double>();
}

Pass forward_backward(const ModelDims& dims, const NamedTensors& params, const ModelBatch& batch) {
  auto model = model_from(dims, params);
  Pass p;
  p.out = model->forward(batch);
  p.sums = loss_sums(p.out, batch);
  p.loss = total_loss(p.sums);
  p.loss.backward();
  for (const auto& item : model->named_parameters())
    p.grads.emplace_back(item.key(), item.value().grad().clone());
  return p;
}

// Steps as Trainer::train_step: zero_grad, forward, loss, backward, clip, learning rate, update.
TrainRun train(const ModelDims& dims, const NamedTensors& params, const OptimConfig& optim,
               const ModelBatch& batch) {
  auto model = model_from(dims, params);
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (const auto& item : model->named_parameters()) named.emplace_back(item.key(), item.value());
  AdamW optimizer(named, optim);
  std::vector<torch::Tensor> trainable;
  for (auto& p : optimizer.params()) trainable.push_back(p.param);
  TrainRun r;
  for (int64_t step = 0; step < kMaxSteps; ++step) {
    optimizer.zero_grad();
    const auto loss = total_loss(loss_sums(model->forward(batch), batch));
    loss.backward();
    r.loss.push_back(loss.item<double>());
    r.grad_norm.push_back(clip_grad_norm(trainable, optim.grad_clip));
    r.lr.push_back(learning_rate(step, optim, kMaxSteps));
    optimizer.step(r.lr.back());
  }
  for (const auto& item : model->named_parameters())
    r.final_params.emplace_back(item.key(), item.value().detach().clone());
  return r;
}

NamedTensors prefixed(const std::string& prefix, const NamedTensors& tensors) {
  NamedTensors out;
  for (const auto& [name, value] : tensors) out.emplace_back(prefix + name, value);
  return out;
}

void compute(Shared& s) {
  if (!little_endian()) throw std::runtime_error("the exchange format assumes a little-endian host");
  s.dims = reference_dims();
  s.optim = reference_optim();
  {
    ClinicalTransformer model(s.dims);
    model->reset_parameters(kSeed);
    for (const auto& item : model->named_parameters())
      s.initial.emplace_back(item.key(), item.value().detach().clone());
    s.age_frequencies = model->age_frequencies.clone();
  }
  s.batch = reference_batch(s.dims.vocab_size, s.dims.value_bins);
  s.initial_pass = forward_backward(s.dims, s.initial, s.batch);
  s.train = train(s.dims, s.initial, s.optim, s.batch);
  s.trained_pass = forward_backward(s.dims, s.train.final_params, s.batch);

  // The reference.
  if (!fs::exists(kPython))
    throw std::runtime_error(std::string(kPython) +
                             " not found: the reference test needs the project's Python with torch and "
                             "numpy (run scripts/setup.sh)");
  std::string probe;
  if (run_command(std::string(kPython) + " -c 'import torch, numpy'", probe) != 0)
    throw std::runtime_error(std::string(kPython) +
                             " cannot import torch and numpy (run scripts/setup.sh):\n" +
                             probe);
  const fs::path dir = fs::temp_directory_path() / ("clinfm_reference_" + std::to_string(getpid()));
  fs::remove_all(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  NamedTensors inputs = prefixed("initial.", s.initial);
  for (const auto& t : prefixed("trained.", s.train.final_params)) inputs.push_back(t);
  inputs.emplace_back("batch.tokens", s.batch.tokens);
  inputs.emplace_back("batch.value_bins", s.batch.value_bins);
  inputs.emplace_back("batch.ages", s.batch.ages);
  inputs.emplace_back("batch.targets", s.batch.targets);
  inputs.emplace_back("batch.target_dt", s.batch.target_dt);
  inputs.emplace_back("batch.loss_mask", s.batch.loss_mask);
  write_tensors(dir / "in", inputs);
  const nlohmann::json config = {{"dims",
                                  {{"vocab_size", s.dims.vocab_size},
                                   {"value_bins", s.dims.value_bins},
                                   {"n_layers", s.dims.n_layers},
                                   {"n_heads", s.dims.n_heads},
                                   {"d_model", s.dims.d_model},
                                   {"d_ff", s.dims.d_ff}}},
                                 {"optim",
                                  {{"lr", s.optim.lr},
                                   {"min_lr", s.optim.min_lr},
                                   {"weight_decay", s.optim.weight_decay},
                                   {"beta1", s.optim.beta1},
                                   {"beta2", s.optim.beta2},
                                   {"eps", s.optim.eps},
                                   {"warmup_steps", s.optim.warmup_steps},
                                   {"grad_clip", s.optim.grad_clip}}},
                                 {"max_steps", kMaxSteps},
                                 {"token_loss_weight", kTokenLossWeight},
                                 {"time_loss_weight", kTimeLossWeight}};
  std::ofstream(dir / "in" / "config.json") << config.dump(1);
  const fs::path script = fs::path(CLINFM_SOURCE_DIR) / "tests" / "models" / "reference_model.py";
  const int rc = run_command(
      std::string(kPython) + " " + quoted(script) + " " + quoted(dir / "in") + " " + quoted(dir / "out"),
      s.python_output);
  if (rc != 0)
    throw std::runtime_error("reference_model.py failed (exit " + std::to_string(rc) + "):\n" +
                             s.python_output);
  s.ref = read_tensors(dir / "out");
}

const Shared& shared() {
  static Shared* s = [] {
    auto* s = new Shared;
    const int threads = torch::get_num_threads();
    torch::set_num_threads(1);
    try {
      compute(*s);
    } catch (const std::exception& e) {
      s->error = e.what();
    }
    torch::set_num_threads(threads);
    return s;
  }();
  return *s;
}

torch::Tensor ref(const Shared& s, const std::string& name) {
  const auto it = s.ref.find(name);
  return it == s.ref.end() ? torch::Tensor() : it->second;
}

torch::Tensor find(const NamedTensors& tensors, const std::string& name) {
  for (const auto& [n, value] : tensors)
    if (n == name) return value;
  throw std::runtime_error("no tensor " + name);
}

torch::Tensor as_tensor(const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); }

// Compares a pass against the reference's tensors named prefix + name; returns the failures.
int compare_outputs(const Shared& s, const std::string& prefix, const Pass& p) {
  int failures = 0;
  const auto check = [&](const std::string& name, const torch::Tensor& actual, double rtol = kRtol) {
    const Diff d = compare(prefix + name, actual, ref(s, prefix + name), rtol);
    EXPECT_TRUE(d.ok) << d.message;
    failures += !d.ok;
  };
  check("logits", p.out.logits);
  check("log_rate", p.out.log_rate);
  check("token_nll_sum", p.sums.token_nll);
  check("time_nll_sum", p.sums.time_nll);
  check("targets", p.sums.targets, 0.0);
  check("loss", p.loss);  // 1.0 x token + 0.5 x time, per target
  return failures;
}

void compare_gradients(const Shared& s, const std::string& prefix, const Pass& p) {
  size_t in_reference = 0;
  for (const auto& [name, value] : s.ref) in_reference += name.rfind(prefix + "grad.", 0) == 0;
  EXPECT_EQ(in_reference, s.initial.size()) << prefix << ": every parameter has a reference gradient";
  ASSERT_EQ(p.grads.size(), s.initial.size());
  for (const auto& [name, grad] : p.grads) {
    EXPECT_GT(grad.abs().max().item<double>(), 0) << name << " has no gradient";
    const Diff d = compare(prefix + "grad." + name, grad, ref(s, prefix + "grad." + name));
    EXPECT_TRUE(d.ok) << d.message;
  }
}

TEST(ReferenceModel, ForwardAndLossesMatch) {
  const Shared& s = shared();
  ASSERT_TRUE(s.error.empty()) << s.error;
  // The batch exercises the clamp of the time loss: kept positions with dt below one hour.
  const auto clamped = (s.batch.target_dt < kMinWaitingYears).to(torch::kFloat32) * s.batch.loss_mask;
  EXPECT_GE(clamped.sum().item<double>(), 3);
  EXPECT_TRUE(compare("age_frequencies", s.age_frequencies, ref(s, "age_frequencies")).ok);
  std::printf(" initial weights (time head zero: log_rate is 0 on both sides):\n");
  compare_outputs(s, "", s.initial_pass);
  std::printf(" weights after the C++ training run:\n");
  // The trained time head makes the log-rate comparison meaningful.
  EXPECT_GT(s.trained_pass.out.log_rate.abs().max().item<double>(), 1e-2);
  compare_outputs(s, "trained.", s.trained_pass);
}

TEST(ReferenceModel, EveryGradientMatches) {
  const Shared& s = shared();
  ASSERT_TRUE(s.error.empty()) << s.error;
  std::printf(" initial weights:\n");
  compare_gradients(s, "", s.initial_pass);
  std::printf(" weights after the C++ training run:\n");
  compare_gradients(s, "trained.", s.trained_pass);
}

TEST(ReferenceModel, AdamWTrainingMatches) {
  const Shared& s = shared();
  ASSERT_TRUE(s.error.empty()) << s.error;
  const TrainRun& r = s.train;
  // The reference writes float32: the learning rate is compared at float32 precision.
  EXPECT_TRUE(compare("train.lr", as_tensor(r.lr), ref(s, "train.lr"), 1e-6).ok);
  EXPECT_TRUE(compare("train.grad_norm", as_tensor(r.grad_norm), ref(s, "train.grad_norm")).ok);
  EXPECT_TRUE(compare("train.loss", as_tensor(r.loss), ref(s, "train.loss")).ok);
  int64_t clipped = 0;
  std::printf("  step  loss        grad norm (clip %.2f)  lr\n", s.optim.grad_clip);
  for (int64_t i = 0; i < kMaxSteps; ++i) {
    const bool clip = r.grad_norm[i] > s.optim.grad_clip;
    clipped += clip;
    std::printf("  %4lld  %.8f  %.6f %-10s  %.6f\n", static_cast<long long>(i), r.loss[i], r.grad_norm[i],
                clip ? "(clipped)" : "", r.lr[i]);
  }
  // Both branches of clipping are exercised.
  EXPECT_GT(clipped, 0) << "gradient clipping never triggered";
  EXPECT_LT(clipped, kMaxSteps) << "gradient clipping triggered at every step";
  EXPECT_LT(r.loss.back(), r.loss.front() - 0.5) << "the run should train";
  for (const auto& [name, value] : r.final_params) {
    const Diff d = compare("final." + name, value, ref(s, "final." + name), kParamRtol, kParamFloorFraction);
    EXPECT_TRUE(d.ok) << d.message;
  }
}

// The comparisons must fail for a model that differs by 2e-3 in a single weight (std 0.02 or
// 0.01), so that the tests above cannot pass vacuously.
TEST(ReferenceModel, NegativeControlCatchesAPerturbedWeight) {
  const Shared& s = shared();
  ASSERT_TRUE(s.error.empty()) << s.error;
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  for (const std::string name : {"blocks.1.mlp.down.weight", "age_proj.weight"}) {
    NamedTensors params;
    for (const auto& [n, value] : s.initial) params.emplace_back(n, n == name ? value.clone() : value);
    find(params, name).index({3, 5}).add_(2e-3);
    const Pass p = forward_backward(s.dims, params, s.batch);
    std::printf("  %s[3, 5] + 2e-3 (must FAIL):\n", name.c_str());
    EXPECT_FALSE(compare("  logits", p.out.logits, ref(s, "logits")).ok) << name;
    EXPECT_FALSE(compare("  grad." + name, find(p.grads, name), ref(s, "grad." + name)).ok) << name;
  }
  // The unperturbed copy passes: the failures above come from the perturbation.
  const Pass p = forward_backward(s.dims, s.initial, s.batch);
  EXPECT_TRUE(compare("unperturbed copy: logits", p.out.logits, ref(s, "logits")).ok);
  torch::set_num_threads(threads);
}

// And the final-parameter bound must catch the subtlest optimizer mistake: weight decay applied
// to norms and embeddings as well.
TEST(ReferenceModel, NegativeControlCatchesAWrongWeightDecay) {
  const Shared& s = shared();
  ASSERT_TRUE(s.error.empty()) << s.error;
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  OptimConfig wrong = s.optim;
  wrong.decay_embeddings_and_norms = true;
  const TrainRun r = train(s.dims, s.initial, wrong, s.batch);
  std::printf("  decay on norms and embeddings too (must FAIL):\n");
  for (const std::string name : {"token_embedding.weight", "final_norm.weight"}) {
    const Diff d = compare("  final." + name, find(r.final_params, name), ref(s, "final." + name), kParamRtol,
                           kParamFloorFraction);
    EXPECT_FALSE(d.ok) << name;
  }
  torch::set_num_threads(threads);
}

}  // namespace
}  // namespace clinfm
