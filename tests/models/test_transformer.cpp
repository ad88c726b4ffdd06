// The transformer's contract: shapes, causality, the losses against a hand computation,
// deterministic initialisation, save/load round trip, parameter counts of the presets.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "common/config/config.h"
#include "common/error.h"
#include "common/fs.h"
#include "models/cpu/attention.h"
#include "models/losses.h"
#include "models/model_dims.h"
#include "models/transformer.h"
#include "models/weights_io.h"

namespace clinfm {
namespace {

ModelDims tiny_dims(int64_t vocab = 50) {
  ModelConfig c;
  c.preset = "tiny";
  c.n_layers = 2;
  c.d_model = 32;
  c.n_heads = 4;
  c.d_ff = 64;
  return resolve_model_dims(c, vocab, 6);
}

ModelBatch random_batch(int64_t B, int64_t T, int64_t V, uint64_t seed) {
  torch::manual_seed(seed);
  ModelBatch b;
  b.tokens = torch::randint(2, V, {B, T}, torch::kInt64);
  b.value_bins = torch::randint(0, 6, {B, T}, torch::kInt64);
  b.ages = std::get<0>(torch::sort(torch::rand({B, T}) * 30000.0, 1));
  b.targets = torch::randint(2, V, {B, T}, torch::kInt64);
  b.target_dt = torch::rand({B, T}) * 2.0;
  b.loss_mask = torch::ones({B, T});
  b.loss_mask.index_put_({0, torch::indexing::Slice(T - 3)}, 0.0);  // padded tail
  return b;
}

TEST(Transformer, ShapesAndParameterCount) {
  const ModelDims d = tiny_dims();
  ClinicalTransformer model(d);
  const auto out = model->forward(random_batch(3, 7, d.vocab_size, 1));
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{3, 7, d.vocab_size}));
  EXPECT_EQ(out.log_rate.sizes(), (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(out.hidden.sizes(), (std::vector<int64_t>{3, 7, 32}));
  int64_t counted = 0;
  for (const auto& p : model->parameters()) counted += p.numel();
  EXPECT_EQ(counted, d.parameter_count());
}

TEST(Transformer, PresetSizes) {
  // With a 4,000-token vocabulary and 11 value bins the presets land near their names.
  const struct {
    const char* name;
    double low, high;  // millions
  } expected[] = {{"tiny", 0.8, 1.6}, {"small", 22, 30}, {"base", 110, 135}, {"large", 300, 360}};
  for (const auto& e : expected) {
    ModelConfig c;
    c.preset = e.name;
    const double m = double(resolve_model_dims(c, 4000, 11).parameter_count()) / 1e6;
    EXPECT_GT(m, e.low) << e.name;
    EXPECT_LT(m, e.high) << e.name;
  }
  ModelConfig bad;
  bad.d_model = 100;
  bad.n_heads = 3;
  EXPECT_THROW(resolve_model_dims(bad, 4000, 11), InputError);
  EXPECT_EQ(resolve_model_dims(ModelConfig{}, 4000, 11).attention, "auto");  // decided per call
}

TEST(Transformer, IsCausal) {
  const ModelDims d = tiny_dims();
  ClinicalTransformer model(d);
  model->eval();
  torch::NoGradGuard no_grad;
  ModelBatch a = random_batch(2, 9, d.vocab_size, 2);
  ModelBatch b = a;
  b.tokens = a.tokens.clone();
  b.ages = a.ages.clone();
  b.tokens.index_put_({torch::indexing::Slice(), torch::indexing::Slice(5)}, 3);  // change the future
  b.ages.index_put_({torch::indexing::Slice(), torch::indexing::Slice(5)}, 99999.0);
  const auto la = model->forward(a).logits, lb = model->forward(b).logits;
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::allclose(la.index({Slice(), Slice(0, 5)}), lb.index({Slice(), Slice(0, 5)})));
  EXPECT_FALSE(torch::allclose(la.index({Slice(), Slice(5)}), lb.index({Slice(), Slice(5)})));
}

TEST(Transformer, LossesMatchHandComputation) {
  const ModelDims d = tiny_dims();
  ClinicalTransformer model(d);
  model->reset_parameters(7);
  // Non-zero time head so that the time loss depends on the hidden state.
  torch::NoGradGuard no_grad;
  model->time_head->weight.normal_(0, 0.1);
  const ModelBatch b = random_batch(2, 5, d.vocab_size, 3);
  const auto out = model->forward(b);
  const LossSums s = loss_sums(out, b);
  double token = 0, time = 0, n = 0;
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t t = 0; t < 5; ++t) {
      if (b.loss_mask[i][t].item<float>() == 0) continue;
      const auto logits = out.logits[i][t].to(torch::kFloat64);
      token += (torch::logsumexp(logits, 0) - logits[b.targets[i][t].item<int64_t>()]).item<double>();
      const double r = out.log_rate[i][t].item<double>();
      const double dt = std::max(double(b.target_dt[i][t].item<float>()), kMinWaitingYears);
      time += std::exp(r) * dt - r;
      n += 1;
    }
  }
  EXPECT_NEAR(s.token_nll.item<double>(), token, 1e-4 * token);
  EXPECT_NEAR(s.time_nll.item<double>(), time, 1e-4 * std::abs(time) + 1e-5);
  EXPECT_EQ(s.targets.item<double>(), n);
}

TEST(Transformer, InitialisationIsSeeded) {
  const ModelDims d = tiny_dims();
  ClinicalTransformer a(d), b(d), c(d);
  a->reset_parameters(11);
  b->reset_parameters(11);
  c->reset_parameters(12);
  const auto pa = a->named_parameters(), pb = b->named_parameters(), pc = c->named_parameters();
  bool any_differs = false;
  for (const auto& item : pa) {
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
    any_differs |= !torch::equal(item.value(), pc[item.key()]);
  }
  EXPECT_TRUE(any_differs);
  EXPECT_TRUE(torch::all(a->named_parameters()["blocks.0.attn_norm.weight"] == 1).item<bool>());
  EXPECT_NEAR(a->named_parameters()["token_embedding.weight"].std().item<double>(), 0.02, 0.003);
}

TEST(Transformer, SaveAndLoadRebuildsTheSameModel) {
  const ModelDims d = tiny_dims();
  ClinicalTransformer model(d);
  model->reset_parameters(5);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("clinfm-weights-" + std::to_string(::getpid()) + ".pt"))
          .string();
  save_model(model, path);
  ClinicalTransformer loaded = load_model(path);
  EXPECT_EQ(loaded->dims.describe(), d.describe());
  const ModelBatch b = random_batch(2, 6, d.vocab_size, 9);
  model->eval();
  loaded->eval();
  EXPECT_TRUE(torch::equal(model->forward(b).logits, loaded->forward(b).logits));
  // A truncated file is a clear error.
  {
    std::string bytes = read_file(path);
    write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
  }
  try {
    load_model(path);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not a readable clinfm weights file"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove(path);
}

TEST(Transformer, SdpaMatchesExplicitAttention) {
  ModelDims d = tiny_dims();
  d.attention = "explicit";
  ClinicalTransformer a(d);
  d.attention = "sdpa";
  ClinicalTransformer b(d);
  a->reset_parameters(3);
  b->reset_parameters(3);
  const ModelBatch batch = random_batch(2, 16, d.vocab_size, 4);
  EXPECT_TRUE(torch::allclose(a->forward(batch).logits, b->forward(batch).logits, 1e-5, 1e-5));
}

}  // namespace
}  // namespace clinfm
