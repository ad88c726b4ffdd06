// The evaluation pipeline (see runner.h), in four stages that run_evaluation calls in order:
// load and check the inputs; label every task on every split; run the model once at every
// unique prediction-time window; score each task (probe, zero-shot, count baseline). Writing
// the files is app/cmd_eval.cpp's (results.h: write_outputs). Patients are read once per split
// and shared by all tasks; a window needed by several tasks is run through the model once.
// About 420 lines: the stages share the per-split structs (SplitData) defined here.
#include "eval/runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <thread>
#include <utility>

#include "common/error.h"
#include "common/log.h"
#include "data/dataset.h"
#include "data/timestamp.h"
#include "eval/count_features.h"
#include "eval/delphi_runner.h"
#include "eval/meds_labels.h"
#include "eval/methods.h"
#include "eval/model_features.h"
#include "eval/privacy_runner.h"
#include "eval/truth.h"
#include "models/runtime.h"
#include "models/weights_io.h"

namespace clinfm {
namespace {

// One split of the data set, read once and shared by every task.
struct SplitData {
  std::string name;  // "train", "tuning" or "held_out"
  std::vector<PatientTimeline> patients;
  std::vector<int64_t> order;  // indices into `patients`, in the order the example cap takes them
  int64_t max_examples = 0;    // prediction times per task at most (0: all)
};

struct Splits {
  SplitData train, tuning, held_out;
};

// A labelled prediction time of one task.
struct Example {
  const PatientTimeline* patient = nullptr;
  LabeledTime time;
  int64_t window = -1;           // index into WindowTable::requests
  bool from_label_file = false;  // a MEDS label-file task's row: `meds` is the file's row
  MedsLabelRow meds;
};

struct TaskExamples {
  std::vector<Example> train, tuning, held_out;
};

// The unique (patient, history length) windows the model runs on, in first-seen order.
struct WindowTable {
  std::map<std::pair<const PatientTimeline*, int64_t>, int64_t> index;
  std::vector<WindowRequest> requests;

  int64_t add(const PatientTimeline& patient, int64_t history_events) {
    const auto [entry, fresh] =
        index.emplace(std::make_pair(&patient, history_events), static_cast<int64_t>(requests.size()));
    if (fresh) requests.push_back({&patient, history_events});
    return entry->second;
  }
};

// What every task's scoring shares.
struct ScoringInputs {
  const SuiteSpec& suite;
  const EvalConfig& config;
  const std::vector<ResolvedTask>& tasks;
  const ModelFeatures& features;
  int32_t vocab_size = 0;
  const TruthTable* truth = nullptr;  // null without --truth
};

uint64_t mix64(uint64_t value) {  // splitmix64 finaliser
  value += 0x9E3779B97F4A7C15ULL;
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31);
}

uint64_t hash_name(const std::string& name) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char byte : name) hash = (hash ^ byte) * 1099511628211ULL;
  return hash;
}

nlohmann::json task_definition(const TaskSpec& spec) {
  return {{"predict_at", {{"codes", spec.predict_at.prefixes}, {"offset_hours", spec.offset_hours}}},
          {"label",
           {{"kind", label_kind_name(spec.kind)},
            {"codes", spec.label_codes.prefixes},
            {"horizon_days", spec.horizon_days},
            {"exclude_prior", spec.exclude_prior},
            {"death", spec.death == DeathHandling::kExclude ? "exclude" : "negative"}}},
          {"per_patient", spec.per_patient == PerPatient::kFirst ? "first" : "all"},
          {"truth", spec.truth}};
}

// ---- Stage 1: the inputs, each checked before any patient is read.

void check_subgroup_names(const std::vector<std::string>& subgroups) {
  for (const std::string& subgroup : subgroups)
    if (subgroup != "sex" && subgroup != "age_band")
      throw InputError(fmt::format("eval.subgroups: unknown subgroup '{}'", subgroup),
                       "allowed: sex, age_band");
}

std::vector<ResolvedTask> resolve_tasks(const SuiteSpec& suite, const Vocabulary& vocab) {
  if (suite.tasks.empty()) return {};  // a privacy audit or Delphi's protocol alone: no death codes needed
  const std::vector<char> death_tokens = resolve_codes(suite.death_codes, vocab, suite.file);
  std::vector<ResolvedTask> tasks;
  for (const TaskSpec& spec : suite.tasks) {
    ResolvedTask task;
    task.spec = &spec;
    if (!spec.labels.empty()) {  // a MEDS label file: no codes to resolve, no zero-shot token set
      task.label_tokens.assign(size_t(vocab.size()), 0);
      task.max_age_days = suite.max_age_years * kDaysPerYear;
      tasks.push_back(std::move(task));
      continue;
    }
    task.anchor_tokens = resolve_codes(spec.predict_at, vocab, suite.file);
    task.label_tokens = resolve_codes(spec.label_codes, vocab, suite.file);
    task.death_tokens = death_tokens;
    task.max_age_days = suite.max_age_years * kDaysPerYear;
    tasks.push_back(std::move(task));
  }
  return tasks;
}

std::unique_ptr<TruthTable> load_truth(const EvalRequest& request) {
  if (request.truth.empty()) return nullptr;
  const std::string cohort =
      request.cohort.empty() ? TruthTable::default_cohort_path(request.truth) : request.cohort;
  auto truth = std::make_unique<TruthTable>(TruthTable::load(request.truth, cohort, request.salt));
  log_info("truth: {} rows from {}", truth->rows(), request.truth);
  return truth;
}

// The MEDS label files of the suite's label-file tasks (by task index) and the births they need,
// read and checked before any patient: --salt and --cohort (the MEDS data prep read) are required.
struct LabelFiles {
  std::map<size_t, MedsLabels> by_task;
  std::unordered_map<std::string, int64_t> births;
};

LabelFiles load_label_files(const SuiteSpec& suite, const EvalRequest& request) {
  LabelFiles files;
  for (size_t k = 0; k < suite.tasks.size(); ++k) {
    const TaskSpec& spec = suite.tasks[k];
    if (spec.labels.empty()) continue;
    if (request.salt.empty() || request.cohort.empty()) {
      throw InputError(
          fmt::format("{}:{}: {} names a MEDS label file, which holds raw subject ids and times: "
                      "--salt and --cohort are needed",
                      suite.file, spec.labels_line, spec.labels_key),
          "pass --salt (the data.salt_file prep used) and --cohort (the MEDS data prep read, "
          "for the birth times)");
    }
    MedsLabels labels = read_meds_labels(
        spec.labels, fmt::format("{}:{}: {}", suite.file, spec.labels_line, spec.labels_key));
    log_info("task {}: {} label rows ({}) from {} file(s)", spec.name, labels.rows.size(),
             labels.value_column, labels.files.size());
    files.by_task.emplace(k, std::move(labels));
  }
  if (!files.by_task.empty()) {
    files.births = read_meds_births(request.cohort);
    log_info("MEDS label files: {} births from {}", files.births.size(), request.cohort);
  }
  return files;
}

ClinicalTransformer load_checked_model(const EvalRequest& request, int32_t vocab_size) {
  ClinicalTransformer model = load_model(request.weights);
  if (model->dims.vocab_size != vocab_size) {
    throw InputError(fmt::format("checkpoint {} has a vocabulary of {} tokens, the data set {} has {}",
                                 request.weights, model->dims.vocab_size, request.dataset, vocab_size),
                     "evaluate a checkpoint on the data set it was trained on");
  }
  return model;
}

// ---- Stage 2: patients and labels.

SplitData read_split(const Dataset& dataset, const std::string& name, int64_t max_examples) {
  SplitData split;
  split.name = name;
  split.max_examples = max_examples;
  for (const ShardEntry& entry : dataset.shards_of(name)) {
    const ShardReader shard = dataset.open_shard(entry);
    for (int64_t i = 0; i < shard.patients(); ++i) split.patients.push_back(shard.read(i));
  }
  split.order.resize(split.patients.size());
  std::iota(split.order.begin(), split.order.end(), 0);
  return split;
}

// Train and tuning patients in a seeded order: the max_*_examples caps take whole patients, the
// same ones for every task, so tasks share model windows. Held-out patients keep the data set's
// order and are never capped.
void order_by_seeded_key(SplitData& split, int64_t seed) {
  const std::vector<PatientTimeline>& patients = split.patients;
  std::sort(split.order.begin(), split.order.end(), [&](int64_t a, int64_t b) {
    return mix64(patients[size_t(a)].key ^ uint64_t(seed)) < mix64(patients[size_t(b)].key ^ uint64_t(seed));
  });
}

Splits read_splits(const Dataset& dataset, const SuiteSpec& suite) {
  Splits splits;
  splits.train = read_split(dataset, "train", suite.max_train_examples);
  splits.tuning = read_split(dataset, "tuning", suite.max_tuning_examples);
  splits.held_out = read_split(dataset, "held_out", 0);
  order_by_seeded_key(splits.train, suite.seed);
  order_by_seeded_key(splits.tuning, suite.seed);
  return splits;
}

// The labelled prediction times of one task on one split, patient by patient until the cap;
// `counts` counts the patients labelled (not those past the cap).
std::vector<Example> label_split(const SplitData& split, const ResolvedTask& task, LabelCounts& counts,
                                 WindowTable& windows) {
  std::vector<Example> examples;
  for (const int64_t patient_index : split.order) {
    if (split.max_examples > 0 && static_cast<int64_t>(examples.size()) >= split.max_examples) break;
    const PatientTimeline& patient = split.patients[size_t(patient_index)];
    for (const LabeledTime& time : label_patient(patient, task, &counts))
      examples.push_back({&patient, time, windows.add(patient, time.history_events), false, {}});
  }
  return examples;
}

// Every data set patient by key, for matching label files.
std::unordered_map<uint64_t, PatientRef> patients_by_key(const Splits& splits) {
  std::unordered_map<uint64_t, PatientRef> refs;
  const SplitData* all[3] = {&splits.train, &splits.tuning, &splits.held_out};
  for (int s = 0; s < 3; ++s) {
    for (size_t i = 0; i < all[s]->patients.size(); ++i)
      refs.emplace(all[s]->patients[i].key, PatientRef{s, static_cast<int64_t>(i), &all[s]->patients[i]});
  }
  return refs;
}

// A MEDS label-file task: its matched rows per split, in the order the example cap takes patients
// (the split's seeded order), each patient's rows by prediction time.
TaskExamples label_file_task(const ResolvedTask& task, const MedsLabels& labels, const LabelFiles& files,
                             const std::string& salt, const Splits& splits,
                             const std::unordered_map<uint64_t, PatientRef>& patients,
                             TaskResult& task_result, WindowTable& windows) {
  const LabelMatch match = match_meds_labels(labels, files.births, salt, patients, task.max_age_days);
  task_result.kind = "meds_label_file";
  task_result.definition = {{"labels", task.spec->labels},
                            {"files", labels.files},
                            {"value_column", labels.value_column},
                            {"matching", match.counts.to_json()}};
  const SplitData* all[3] = {&splits.train, &splits.tuning, &splits.held_out};
  LabelCounts* counts[3] = {&task_result.train_counts, &task_result.tuning_counts,
                            &task_result.held_out_counts};
  std::vector<Example>* out[3];
  TaskExamples examples;
  out[0] = &examples.train;
  out[1] = &examples.tuning;
  out[2] = &examples.held_out;
  for (int s = 0; s < 3; ++s) {
    std::vector<int64_t> rank(all[s]->patients.size());
    for (size_t r = 0; r < all[s]->order.size(); ++r)
      rank[size_t(all[s]->order[r])] = static_cast<int64_t>(r);
    std::vector<const MatchedLabel*> rows;
    for (const MatchedLabel& row : match.rows)
      if (row.where.split == s) rows.push_back(&row);
    std::stable_sort(rows.begin(), rows.end(), [&](const MatchedLabel* a, const MatchedLabel* b) {
      const int64_t ra = rank[size_t(a->where.index)], rb = rank[size_t(b->where.index)];
      return ra != rb ? ra < rb : a->prediction_age_days < b->prediction_age_days;
    });
    counts[s]->candidates = static_cast<int64_t>(rows.size());
    for (const MatchedLabel* row : rows) {
      if (all[s]->max_examples > 0 && static_cast<int64_t>(out[s]->size()) >= all[s]->max_examples) break;
      LabeledTime time;
      time.prediction_age_days = row->prediction_age_days;
      time.anchor_age_days = row->prediction_age_days;
      time.history_events = row->history_events;
      time.label = row->row.label;
      out[s]->push_back(
          {row->where.patient, time, windows.add(*row->where.patient, row->history_events), true, row->row});
      counts[s]->kept += 1;
      counts[s]->positives += time.label;
    }
  }
  task_result.train_rows_used = static_cast<int64_t>(examples.train.size());
  log_info("task {}: label file rows {}: {} matched ({} train, {} tuning, {} held out), {} unmatched",
           task_result.name, match.counts.rows, match.counts.matched, examples.train.size(),
           examples.tuning.size(), examples.held_out.size(), match.counts.rows - match.counts.matched);
  return examples;
}

TaskExamples label_task(const ResolvedTask& task, const Splits& splits, TaskResult& task_result,
                        WindowTable& windows) {
  task_result.name = task.spec->name;
  task_result.description = task.spec->description;
  task_result.kind = label_kind_name(task.spec->kind);
  task_result.definition = task_definition(*task.spec);
  TaskExamples examples;
  examples.train = label_split(splits.train, task, task_result.train_counts, windows);
  examples.tuning = label_split(splits.tuning, task, task_result.tuning_counts, windows);
  examples.held_out = label_split(splits.held_out, task, task_result.held_out_counts, windows);
  task_result.train_rows_used = static_cast<int64_t>(examples.train.size());
  log_info("task {}: {} train, {} tuning (caps {}, {}), {} held-out prediction times; held-out positives {}",
           task_result.name, task_result.train_rows_used, examples.tuning.size(), splits.train.max_examples,
           splits.tuning.max_examples, examples.held_out.size(), task_result.held_out_counts.positives);
  return examples;
}

// ---- Stage 3: the model at every unique window.

ModelFeatures run_model(ClinicalTransformer& model, const std::vector<WindowRequest>& requests,
                        const std::vector<ResolvedTask>& tasks, const SuiteSpec& suite, bool progress) {
  std::vector<std::vector<char>> token_sets;  // one per task, in task order
  for (const ResolvedTask& task : tasks) token_sets.push_back(task.label_tokens);
  ExtractOptions extract;
  extract.context_events = suite.context_events;
  extract.progress = progress;
  log_info("eval: {} unique prediction-time windows through the model", requests.size());
  return extract_model_features(model, requests, token_sets, extract);
}

// ---- Stage 4: methods and statistics per task.

std::vector<int> labels_of(const std::vector<Example>& examples) {
  std::vector<int> labels;
  for (const Example& example : examples) labels.push_back(example.time.label);
  return labels;
}

// [rows, dim + 1]: the model's embedding at each example's window, then the age at the
// prediction time as the baseline has it (the embedding knows the age of the last event, not
// how long ago it was).
FeatureMatrix embedding_matrix(const std::vector<Example>& examples, const ModelFeatures& features) {
  FeatureMatrix matrix;
  matrix.cols = features.dim + 1;
  for (const Example& example : examples) {
    matrix.values.insert(matrix.values.end(), features.embedding.begin() + example.window * features.dim,
                         features.embedding.begin() + (example.window + 1) * features.dim);
    matrix.values.push_back(static_cast<float>(example.time.prediction_age_days / kDaysPerYear / 10.0));
  }
  matrix.rows = static_cast<int64_t>(examples.size());
  return matrix;
}

FitRows embedding_rows(const TaskExamples& examples, const ModelFeatures& features) {
  FitRows rows;
  rows.train = embedding_matrix(examples.train, features);
  rows.tuning = embedding_matrix(examples.tuning, features);
  rows.held_out = embedding_matrix(examples.held_out, features);
  rows.train_y = labels_of(examples.train);
  rows.tuning_y = labels_of(examples.tuning);
  return rows;
}

std::vector<HistoryRef> history_refs(const std::vector<Example>& examples) {
  std::vector<HistoryRef> refs;
  for (const Example& example : examples)
    refs.push_back({example.patient, example.time.history_events, example.time.prediction_age_days});
  return refs;
}

// Count features; their columns are chosen on the train rows only.
FitRows count_rows(const TaskExamples& examples, int32_t vocab_size) {
  const std::vector<HistoryRef> train = history_refs(examples.train);
  const std::vector<int32_t> columns = select_count_columns(train, vocab_size);
  FitRows rows;
  rows.train = count_features(train, columns, vocab_size);
  rows.tuning = count_features(history_refs(examples.tuning), columns, vocab_size);
  rows.held_out = count_features(history_refs(examples.held_out), columns, vocab_size);
  rows.train_y = labels_of(examples.train);
  rows.tuning_y = labels_of(examples.tuning);
  return rows;
}

// The model's own risk from its next-event heads (docs/eval.md, "Zero-shot"); `task_index`
// selects the task's token set in features.set_prob.
MethodResult zero_shot_method(const TaskSpec& spec, size_t task_index, const std::vector<Example>& held_out,
                              const ModelFeatures& features) {
  MethodResult method;
  method.method = "zero_shot";
  for (const Example& example : held_out) {
    const double rate = features.rate[size_t(example.window)];
    const double mass = features.set_prob[size_t(example.window) * size_t(features.sets) + task_index];
    double risk;
    if (spec.kind == LabelKind::kEventWithin) {
      risk = -std::expm1(-rate * mass * spec.horizon_days / kDaysPerYear);
    } else {
      const double remaining =
          std::max(0.0, example.time.anchor_age_days + spec.horizon_days - example.time.prediction_age_days);
      risk = std::exp(-rate * mass * remaining / kDaysPerYear);
    }
    if (!std::isfinite(risk)) risk = mass > 0 ? 1.0 : 0.0;  // an overflowing rate times zero mass
    method.scores.push_back(std::clamp(risk, 0.0, 1.0));
  }
  method.details = {
      {"formula", spec.kind == LabelKind::kEventWithin
                      ? "1 - exp(-rate * P(next event in outcome codes) * horizon)"
                      : "exp(-rate * P(next event ends the stay) * time left to anchor + horizon)"}};
  return method;
}

// Probe, zero-shot and count baseline, in that order, with their held-out scores.
std::vector<MethodResult> fit_methods(const ScoringInputs& inputs, size_t task_index,
                                      const TaskExamples& examples, const std::vector<int>& held_out_y) {
  const TaskSpec& spec = *inputs.tasks[task_index].spec;
  const FitRows embedding = embedding_rows(examples, inputs.features);
  const FitRows counts = count_rows(examples, inputs.vocab_size);
  std::vector<MethodResult> methods;
  methods.push_back(fit_linear_method("probe", embedding));
  // Zero-shot needs the outcome's codes and horizon; a label file states neither.
  if (spec.labels.empty())
    methods.push_back(zero_shot_method(spec, task_index, examples.held_out, inputs.features));
  methods.push_back(fit_linear_method("count_baseline", counts));
  if (inputs.suite.k_shot) {
    const uint64_t seed = mix64(uint64_t(inputs.suite.seed) ^ hash_name(spec.name));
    methods.front().details["k_shot"] = k_shot_curve(embedding, held_out_y, seed);
    methods.back().details["k_shot"] = k_shot_curve(counts, held_out_y, seed);
  }
  return methods;
}

// The held-out rows of a task: keys, ages and labels into `task_result`, sexes returned.
std::vector<Sex> record_held_out_rows(const std::vector<Example>& held_out, TaskResult& task_result) {
  std::vector<Sex> sexes;
  for (const Example& example : held_out) {
    if (example.from_label_file) {
      task_result.meds_subject_ids.push_back(example.meds.subject_id);
      task_result.meds_prediction_times_us.push_back(example.meds.prediction_time_us);
    }
    task_result.keys.push_back(example.patient->key);
    task_result.prediction_age_days.push_back(example.time.prediction_age_days);
    task_result.y.push_back(example.time.label);
    sexes.push_back(example.patient->sex);
  }
  return sexes;
}

void score_task(const ScoringInputs& inputs, size_t task_index, const TaskExamples& examples,
                TaskResult& task_result, std::vector<std::string>& notes) {
  const TaskSpec& spec = *inputs.tasks[task_index].spec;
  const std::vector<Sex> sexes = record_held_out_rows(examples.held_out, task_result);
  if (examples.held_out.empty() || examples.train.empty()) {
    notes.push_back(fmt::format("task {}: no {} prediction times, nothing scored", spec.name,
                                examples.held_out.empty() ? "held-out" : "train"));
    return;
  }
  std::vector<MethodResult> methods = fit_methods(inputs, task_index, examples, task_result.y);
  const std::vector<SubgroupDefinition> groups = define_subgroups(
      inputs.config.subgroups, sexes, task_result.prediction_age_days, inputs.suite.age_bands);
  BootstrapOptions bootstrap;
  bootstrap.samples = inputs.config.bootstrap_samples;
  bootstrap.seed = mix64(uint64_t(inputs.config.bootstrap_seed) ^ hash_name(spec.name));
  for (MethodResult& method : methods)
    score_method(method, task_result.y, task_result.keys, groups, bootstrap, inputs.config.min_subgroup_size);
  task_result.methods = std::move(methods);
  if (!spec.truth.empty() && inputs.truth)
    task_result.truth = compare_with_truth(task_result, *inputs.truth, spec.truth);
  for (const MethodResult& method : task_result.methods) {
    const MetricSummary& overall = method.overall;
    log_info("task {} {:>14}: AUROC {} AUPRC {} (n={}, {} positive)", task_result.name, method.method,
             overall.reported ? format_interval(overall.auroc) : overall.reason,
             overall.reported ? format_interval(overall.auprc) : "", overall.n, overall.n_positive);
  }
}

// What results.json says about the run besides the tasks.
void describe_run(const EvalRequest& request, const SuiteSpec& suite, const ModelDims& dims,
                  size_t unique_windows, bool have_truth, SuiteResult& result) {
  result.suite_name = suite.name;
  result.suite_file = suite.file;
  result.checkpoint = request.weights;
  result.dataset = request.dataset;
  result.settings = {{"bootstrap_samples", request.config.bootstrap_samples},
                     {"bootstrap_seed", request.config.bootstrap_seed},
                     {"min_subgroup_size", request.config.min_subgroup_size},
                     {"subgroups", request.config.subgroups},
                     {"age_bands", suite.age_bands},
                     {"context_events", suite.context_events},
                     {"max_train_examples", suite.max_train_examples},
                     {"max_tuning_examples", suite.max_tuning_examples},
                     {"max_age_years", suite.max_age_years},
                     {"model", dims.describe()},
                     {"unique_windows", unique_windows}};
  const bool names_truth = std::any_of(suite.tasks.begin(), suite.tasks.end(),
                                       [](const TaskSpec& spec) { return !spec.truth.empty(); });
  if (!have_truth && names_truth)
    result.notes.push_back(
        "tasks name truth outcomes but no --truth file was given: no comparison with true risks");
}

}  // namespace

SuiteResult run_evaluation(const EvalRequest& request) {
  const SuiteSpec suite = load_suite(request.suite);
  check_subgroup_names(request.config.subgroups);
  const Dataset dataset(request.dataset);
  dataset.verify_shards();  // every split is read: a damaged shard is an error, never scores
  const int32_t vocab_size = dataset.vocab().size();
  const std::vector<ResolvedTask> tasks = resolve_tasks(suite, dataset.vocab());
  const std::unique_ptr<TruthTable> truth = load_truth(request);
  const LabelFiles label_files = load_label_files(suite, request);
  const CanarySet canaries = load_checked_canaries(request.canaries, dataset);
  const bool privacy = suite.privacy.enabled || !request.canaries.empty();
  const int threads = apply_torch_threads(choose_torch_threads(
      request.threads, 1, static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))));
  ClinicalTransformer model = load_checked_model(request, vocab_size);
  log_info("eval: suite {} ({} tasks), weights {}, {} threads", suite.name, suite.tasks.size(),
           request.weights, threads);

  const Splits splits = read_splits(dataset, suite);
  SuiteResult result;
  result.tasks.resize(tasks.size());
  WindowTable windows;
  std::vector<TaskExamples> examples;
  const auto patients =
      label_files.by_task.empty() ? std::unordered_map<uint64_t, PatientRef>() : patients_by_key(splits);
  for (size_t k = 0; k < tasks.size(); ++k) {
    const auto labels = label_files.by_task.find(k);
    if (labels == label_files.by_task.end()) {
      examples.push_back(label_task(tasks[k], splits, result.tasks[k], windows));
      continue;
    }
    result.tasks[k].name = tasks[k].spec->name;
    result.tasks[k].description = tasks[k].spec->description;
    examples.push_back(label_file_task(tasks[k], labels->second, label_files, request.salt, splits, patients,
                                       result.tasks[k], windows));
  }

  const ModelFeatures features = run_model(model, windows.requests, tasks, suite, request.progress);

  const ScoringInputs inputs{suite, request.config, tasks, features, vocab_size, truth.get()};
  for (size_t k = 0; k < tasks.size(); ++k) score_task(inputs, k, examples[k], result.tasks[k], result.notes);
  if (privacy) {
    const PrivacyInputs privacy_inputs{dataset, splits.train.patients, splits.held_out.patients,
                                       suite,   request.config,        request.canaries};
    result.privacy = run_privacy_audit(model, privacy_inputs, canaries);
    result.has_privacy = true;
  }
  if (suite.delphi.enabled) {
    const DelphiInputs delphi_inputs{splits.train.patients, splits.held_out.patients, dataset.vocab(),
                                     suite.delphi,          suite.context_events,     request.progress};
    result.delphi = run_delphi_protocol(model, delphi_inputs);
    result.has_delphi = true;
  }
  describe_run(request, suite, model->dims, windows.requests.size(), truth != nullptr, result);
  return result;
}

}  // namespace clinfm
