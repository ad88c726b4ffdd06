// What a frozen model says at a prediction time: its embedding (final-norm hidden state of the
// last event before the prediction time, and the mean of those states over the window) for probes, and its
// next-event heads (the total event rate and next-token probabilities) for zero-shot risks. The model reads
// only the last `context_events` events strictly before the prediction time, so nothing after it can reach a
// score (tests/eval/test_leakage.cpp changes the future and checks).
// One process; the caller may split requests over ranks. No labels, no metrics here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/shard.h"
#include "models/transformer.h"

namespace clinfm {

struct WindowRequest {
  const PatientTimeline* patient = nullptr;
  int64_t history_events = 0;  // events strictly before the prediction time (> 0)
};

struct ModelFeatures {
  int64_t rows = 0, dim = 0, sets = 0;
  std::vector<float> embedding;  // [rows, dim = 2C]: last history event's hidden state, then the window mean
  std::vector<double> rate;      // [rows] exp(log_rate): events per year after the last event
  std::vector<double> set_prob;  // [rows, sets] next-event probability of each token set
};

struct ExtractOptions {
  int64_t context_events = 256;
  int64_t batch_tokens = 8192;  // rows x padded length per forward
  bool progress = true;
};

// A batch for inference from host arrays [rows, seq_len] (copied; targets and loss mask zero).
ModelBatch inference_batch(const std::vector<int64_t>& tokens, const std::vector<int64_t>& value_bins,
                           const std::vector<float>& ages, int64_t rows, int64_t seq_len);

// `token_sets`: [S] flags over the vocabulary (outcome or end-of-stay tokens of the tasks).
ModelFeatures extract_model_features(ClinicalTransformer& model, const std::vector<WindowRequest>& requests,
                                     const std::vector<std::vector<char>>& token_sets,
                                     const ExtractOptions& options);

}  // namespace clinfm
