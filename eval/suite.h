// An evaluation suite: a YAML file holding a list of clinical prediction tasks and the few
// settings they share (see docs/eval.md for every key). This file only parses and checks the
// YAML and resolves code prefixes against a vocabulary; it labels nothing and knows no model.
// Every problem is an InputError naming the file, line, column and key (with "did you mean"
// for misspelt keys), all problems of a file reported at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/vocab.h"

namespace clinfm {

enum class LabelKind { kEventWithin, kStayLongerThan };
enum class DeathHandling { kNegative, kExclude };
enum class PerPatient { kAll, kFirst };

// Code prefixes as written in the suite, with where they were written (for errors raised when
// they are resolved against a data set's vocabulary).
struct CodeList {
  std::vector<std::string> prefixes;
  std::string key;  // "tasks[2].label.codes"
  int line = 0, column = 0;
};

struct TaskSpec {
  std::string name;
  std::string description;
  CodeList predict_at;        // anchor events: one prediction time per distinct anchor age
  double offset_hours = 0.0;  // prediction time = anchor age + offset
  LabelKind kind = LabelKind::kEventWithin;
  CodeList label_codes;        // event_within: the outcome; stay_longer_than: end of the stay
  double horizon_days = 0.0;   // event_within: window after the prediction time; stay: length
  bool exclude_prior = false;  // event_within: drop times whose history already has the outcome
  DeathHandling death = DeathHandling::kNegative;
  PerPatient per_patient = PerPatient::kAll;
  std::string truth;  // synth truth-file outcome joined for comparison (optional)
  // A MEDS label file or folder (docs/eval.md "MEDS label files"): its rows are the prediction
  // times and labels; the rule keys above are then unused.
  std::string labels;
  std::string labels_key;  // "tasks[2].labels", with its line, for errors found when it is read
  int labels_line = 0;
};

// The privacy audit a suite asks for (docs/privacy.md): membership inference on up to
// max_patients patients of train and as many of held_out (0: all), and canary exposure when
// `clinfm eval --canaries FILE` names the data set's canary file.
struct PrivacySpec {
  bool enabled = false;
  int64_t max_patients = 1000;
};

// Delphi-2M's AUC protocol (docs/delphi.md): per disease code with at least `min_occurrences`
// training events in the ICD-10 chapters Delphi scores (and death), per sex and age bracket,
// cases and controls as its evaluate_auc.py defines them, DeLong AUC averaged over strata.
struct DelphiSpec {
  bool enabled = false;
  std::string code_prefix = "DELPHI//";      // disease codes: <prefix><ICD-10 code>[_<name>]
  std::string death_code = "DELPHI//Death";  // scored as a disease (chapter "Death")
  int64_t min_occurrences = 100;             // training-split events of the code
  std::vector<double> age_brackets = {40, 45, 50, 55, 60, 65, 70, 75, 80};  // edges in years
  double offset_days = 0.1;                // predict from the last event before event age - offset
  double calibration_years = 1.0;          // horizon of the calibration plot's observed risk
  int64_t count_baseline_controls = 4000;  // training control rows per disease for the count baseline
  int64_t seed = 1337;                     // the one random position per patient and bracket
};

struct SuiteSpec {
  std::string file;
  std::string name;
  std::string description;
  int64_t context_events = 256;        // model input: the last N events before the prediction time
  int64_t max_train_examples = 5000;   // cap on train-split prediction times per task (0: all)
  int64_t max_tuning_examples = 2000;  // the same for the tuning split (it only picks l2)
  double max_age_years = 89.0;         // top-coding age of the data set (see docs/eval.md)
  std::vector<double> age_bands = {18, 40, 65, 80};  // lower edges of the age-band subgroups
  CodeList death_codes;                              // default MEDS_DEATH
  bool k_shot = false;
  int64_t seed = 1;
  PrivacySpec privacy;
  DelphiSpec delphi;
  std::vector<TaskSpec> tasks;  // may be empty when the suite asks for a privacy audit or Delphi's protocol
};

// Reads and checks a suite. Throws InputError (a ConfigError listing every problem).
SuiteSpec load_suite(const std::string& path);
// Same, from YAML text; `file` names it in messages.
SuiteSpec parse_suite(const std::string& yaml_text, const std::string& file);

// Flags [V]: 1 for every token whose code starts with one of the prefixes. InputError naming
// the suite file, line and key when a prefix matches no token of the vocabulary.
std::vector<char> resolve_codes(const CodeList& codes, const Vocabulary& vocab,
                                const std::string& suite_file);

const char* label_kind_name(LabelKind kind);

}  // namespace clinfm
