// The model side of the privacy audit (eval/privacy.h): per-patient losses of a sample of train
// (members) and held_out (non-members) patients, and the losses of the canary file's inserted
// and reference canaries. Called by the runner when the suite asks for it or --canaries is given.
#pragma once

#include <string>
#include <vector>

#include "common/config/config.h"
#include "data/canaries.h"
#include "data/dataset.h"
#include "eval/privacy.h"
#include "eval/suite.h"
#include "models/transformer.h"

namespace clinfm {

struct PrivacyInputs {
  const Dataset& dataset;
  const std::vector<PatientTimeline>& train;  // the whole split, as the runner read it
  const std::vector<PatientTimeline>& held_out;
  const SuiteSpec& suite;
  const EvalConfig& config;
  std::string canary_file;  // empty: no exposure
};

// Checks the canary file against the data set (salt and vocabulary) before any model runs;
// InputError naming the file otherwise. Returns the parsed file (empty set when none is given).
CanarySet load_checked_canaries(const std::string& path, const Dataset& dataset);

PrivacyResult run_privacy_audit(ClinicalTransformer& model, const PrivacyInputs& inputs,
                                const CanarySet& canaries);

}  // namespace clinfm
