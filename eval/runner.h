// `clinfm eval` as a library call: suite + weights + data set (+ optional synth truth) ->
// SuiteResult. Order of work: everything that can be wrong with the input (suite, codes,
// weights, truth files) is checked before any patient is read or any model runs. Then:
// label every split, extract model features at the unique prediction-time windows, fit probe
// and baseline on train (l2 picked on tuning), score held_out, bootstrap, subgroups.
// Which weights file a checkpoint or run folder means is decided before this, by the rule
// that `clinfm export` shares (trainer/checkpoint/weights_path.h, called by app/cmd_eval.cpp).
// One process; no MPI here (app/cmd_eval.cpp says why).
#pragma once

#include <string>

#include "common/config/config.h"
#include "eval/results.h"

namespace clinfm {

struct EvalRequest {
  std::string suite;
  std::string weights;  // a weights file, already resolved and verified (see above)
  std::string dataset;
  std::string truth;     // optional synth truth file
  std::string cohort;    // its MEDS cohort (birth times); default: beside the truth file
  std::string salt;      // the prep salt (needed with --truth)
  std::string canaries;  // the data set's canary file: canary exposure in the privacy audit
  EvalConfig config;
  int threads = 0;
  bool progress = true;
};

SuiteResult run_evaluation(const EvalRequest& request);

}  // namespace clinfm
