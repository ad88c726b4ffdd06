// Leakage: features and scores at a prediction time use only events strictly before it.
// Everything at or after the prediction time is changed (tokens, values, ages, events added
// and removed); the labeler's history, the count features and the model's embedding, rate and
// outcome probabilities must not move. The model windows are batched with a later prediction
// time of the same patient, whose window does see the changed events, as in a real run.
#include <gtest/gtest.h>

#include <random>

#include "eval/count_features.h"
#include "eval/labeler.h"
#include "eval/model_features.h"
#include "models/model_dims.h"

namespace clinfm {
namespace {

constexpr int32_t kV = 12, kVisit = 2, kDeath = 3;

PatientTimeline make_patient(uint64_t seed, double from_age, double to_age, int events) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> token(4, kV - 1);
  PatientTimeline p;
  p.key = 7;
  for (int i = 0; i < events; ++i) {
    p.tokens.push_back(i % 6 == 0 ? kVisit : token(rng));
    p.age_days.push_back(from_age + (to_age - from_age) * i / events);
    p.values.push_back(NAN);
    p.value_bins.push_back(static_cast<uint8_t>(rng() % 4));
  }
  return p;
}

TEST(Leakage, NothingAfterThePredictionTimeMovesFeaturesOrScores) {
  PatientTimeline original = make_patient(1, 0, 20000, 90);
  // The future of the prediction time at the visit at event 48 (1 minute before it).
  const double p = original.age_days[48] - 1.0 / 1440;
  PatientTimeline changed = original;
  // Keep the visit that anchors p (event 48); replace everything after it.
  changed.tokens.resize(49);
  changed.age_days.resize(49);
  changed.values.resize(49);
  changed.value_bins.resize(49);
  const PatientTimeline other_future = make_patient(99, original.age_days[48] + 1e-3, 30000, 70);
  for (size_t i = 0; i < other_future.size(); ++i) {
    changed.tokens.push_back(i == 1 ? kDeath : other_future.tokens[i]);
    changed.age_days.push_back(other_future.age_days[i]);
    changed.values.push_back(1.5f);
    changed.value_bins.push_back(3);
  }

  TaskSpec spec;
  spec.name = "death";
  spec.offset_hours = -1.0 / 60;
  spec.horizon_days = 365;
  ResolvedTask task;
  task.spec = &spec;
  task.anchor_tokens.assign(kV, 0);
  task.anchor_tokens[kVisit] = 1;
  task.label_tokens.assign(kV, 0);
  task.label_tokens[kDeath] = 1;
  task.death_tokens = task.label_tokens;
  task.max_age_days = 1e9;

  auto at_p = [&](const PatientTimeline& patient) {
    for (const LabeledTime& t : label_patient(patient, task, nullptr))
      if (std::fabs(t.prediction_age_days - p) < 1e-9) return t;
    ADD_FAILURE() << "no prediction time at " << p;
    return LabeledTime{};
  };
  const LabeledTime a = at_p(original), b = at_p(changed);
  EXPECT_EQ(a.history_events, 48);
  EXPECT_EQ(b.history_events, 48);
  EXPECT_NE(a.label, b.label) << "the change should reach the label, or the test shows nothing";

  const std::vector<HistoryRef> ra = {{&original, a.history_events, p}},
                                rb = {{&changed, b.history_events, p}};
  const std::vector<int32_t> columns = select_count_columns(ra, kV, 1);
  EXPECT_EQ(count_features(ra, columns, kV).values, count_features(rb, columns, kV).values);

  ModelConfig c;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_model = 16;
  c.d_ff = 32;
  ClinicalTransformer model(resolve_model_dims(c, kV, 5));
  model->reset_parameters(3);
  ExtractOptions options;
  options.context_events = 32;
  options.progress = false;
  const std::vector<std::vector<char>> sets = {task.label_tokens};
  // Each patient's p window batched with a later window of the same patient (longer: it sets
  // the padded length).
  const ModelFeatures fa = extract_model_features(model, {{&original, 48}, {&original, 80}}, sets, options);
  const ModelFeatures fb = extract_model_features(model, {{&changed, 48}, {&changed, 100}}, sets, options);
  ASSERT_EQ(fa.dim, 32);  // last state and window mean
  double worst = 0;
  for (int64_t j = 0; j < fa.dim; ++j)
    worst = std::max(worst, double(std::fabs(fa.embedding[size_t(j)] - fb.embedding[size_t(j)])));
  // Float reductions may differ in the last bits with the batch shape; a leak moves far more.
  EXPECT_LT(worst, 1e-5);
  EXPECT_NEAR(fa.rate[0], fb.rate[0], 1e-6 * fa.rate[0]);
  EXPECT_NEAR(fa.set_prob[0], fb.set_prob[0], 1e-6);
  // The later window does see the change: the comparison can fail.
  EXPECT_GT(std::fabs(fa.embedding[size_t(fa.dim)] - fb.embedding[size_t(fb.dim)]) +
                std::fabs(fa.rate[1] - fb.rate[1]),
            1e-4);
}

}  // namespace
}  // namespace clinfm
