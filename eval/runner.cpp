// The evaluation pipeline (see runner.h). Patients are read once per split and shared by all
// tasks; a prediction-time window needed by several tasks is run through the model once.
#include "eval/runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <thread>
#include <tuple>

#include "common/error.h"
#include "common/log.h"
#include "data/dataset.h"
#include "data/timestamp.h"
#include "eval/checkpoint_path.h"
#include "eval/count_features.h"
#include "eval/methods.h"
#include "eval/model_features.h"
#include "eval/truth.h"
#include "models/runtime.h"
#include "models/weights_io.h"

namespace clinfm {
namespace {

constexpr const char* kSplits[3] = {"train", "tuning", "held_out"};

struct Example {
  int64_t patient = 0;
  LabeledTime time;
  int64_t window = -1;  // index into the model's requests
};

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t hash_name(const std::string& name) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::vector<PatientTimeline> read_split(const Dataset& dataset, const std::string& split) {
  std::vector<PatientTimeline> patients;
  for (const ShardEntry& entry : dataset.shards_of(split)) {
    const ShardReader shard = dataset.open_shard(entry);
    for (int64_t i = 0; i < shard.patients(); ++i) patients.push_back(shard.read(i));
  }
  return patients;
}

// Average ranks (ties share their mean rank), for Spearman's correlation.
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
    for (size_t k = i; k < j; ++k) r[order[k]] = 0.5 * double(i + j - 1);
    i = j;
  }
  return r;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = double(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n,
               mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : NAN;
}

nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json truth_comparison(const TaskResult& t, const TruthTable& truth, const std::string& outcome) {
  std::vector<size_t> rows;
  std::vector<double> p_true;
  for (size_t i = 0; i < t.y.size(); ++i) {
    if (const TruthPoint* point = truth.find(outcome, t.keys[i], t.prediction_age_days[i])) {
      rows.push_back(i);
      p_true.push_back(point->probability);
    }
  }
  nlohmann::json j = {{"outcome", outcome}, {"held_out_rows_matched", rows.size()}};
  if (rows.size() < 3) return j;
  std::vector<int> y;
  for (size_t i : rows) y.push_back(t.y[i]);
  j["mean_true_probability"] = std::accumulate(p_true.begin(), p_true.end(), 0.0) / double(rows.size());
  j["observed_rate"] = double(std::accumulate(y.begin(), y.end(), 0)) / double(rows.size());
  const BinaryMetrics oracle = compute_metrics(y, p_true);
  j["truth_auroc"] = json_number(oracle.auroc);
  j["truth_brier"] = json_number(oracle.brier);
  for (const MethodResult& m : t.methods) {
    std::vector<double> s;
    for (size_t i : rows) s.push_back(m.scores[i]);
    j[m.method] = {{"pearson_with_truth", json_number(pearson(s, p_true))},
                   {"spearman_with_truth", json_number(pearson(ranks(s), ranks(p_true)))},
                   {"mean_score", std::accumulate(s.begin(), s.end(), 0.0) / double(s.size())},
                   {"auroc_on_matched_rows", json_number(compute_metrics(y, s).auroc)}};
  }
  return j;
}

nlohmann::json task_definition(const TaskSpec& s) {
  return {{"predict_at", {{"codes", s.predict_at.prefixes}, {"offset_hours", s.offset_hours}}},
          {"label",
           {{"kind", label_kind_name(s.kind)},
            {"codes", s.label_codes.prefixes},
            {"horizon_days", s.horizon_days},
            {"exclude_prior", s.exclude_prior},
            {"death", s.death == DeathHandling::kExclude ? "exclude" : "negative"}}},
          {"per_patient", s.per_patient == PerPatient::kFirst ? "first" : "all"},
          {"truth", s.truth}};
}

}  // namespace

SuiteResult run_evaluation(const EvalRequest& request) {
  // 1. Everything that can be wrong with the input, before any heavy work.
  const SuiteSpec suite = load_suite(request.suite);
  for (const std::string& g : request.config.subgroups)
    if (g != "sex" && g != "age_band")
      throw InputError(fmt::format("eval.subgroups: unknown subgroup '{}'", g), "allowed: sex, age_band");
  const std::string weights_path = resolve_checkpoint_path(request.checkpoint);
  if (verify_weights_checksum(weights_path))
    log_info("{}: SHA-256 matches the checkpoint's manifest", weights_path);
  const Dataset dataset(request.dataset);
  const Vocabulary& vocab = dataset.vocab();
  const std::vector<char> death_tokens = resolve_codes(suite.death_codes, vocab, suite.file);
  std::vector<ResolvedTask> tasks;
  for (const TaskSpec& spec : suite.tasks) {
    ResolvedTask t;
    t.spec = &spec;
    t.anchor_tokens = resolve_codes(spec.predict_at, vocab, suite.file);
    t.label_tokens = resolve_codes(spec.label_codes, vocab, suite.file);
    t.death_tokens = death_tokens;
    t.max_age_days = suite.max_age_years * kDaysPerYear;
    tasks.push_back(std::move(t));
  }
  std::unique_ptr<TruthTable> truth;
  if (!request.truth.empty()) {
    const std::string cohort =
        request.cohort.empty() ? TruthTable::default_cohort_path(request.truth) : request.cohort;
    truth = std::make_unique<TruthTable>(TruthTable::load(request.truth, cohort, request.salt));
    log_info("truth: {} rows from {}", truth->rows(), request.truth);
  }
  const int threads = apply_torch_threads(choose_torch_threads(
      request.threads, 1, static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))));
  ClinicalTransformer model = load_model(weights_path);
  if (model->dims.vocab_size != vocab.size()) {
    throw InputError(fmt::format("checkpoint {} has a vocabulary of {} tokens, the data set {} has {}",
                                 weights_path, model->dims.vocab_size, request.dataset, vocab.size()),
                     "evaluate a checkpoint on the data set it was trained on");
  }
  log_info("eval: suite {} ({} tasks), weights {}, {} threads", suite.name, suite.tasks.size(), weights_path,
           threads);

  // 2. Patients and labels.
  std::vector<std::vector<PatientTimeline>> patients(3);
  for (int s = 0; s < 3; ++s) patients[size_t(s)] = read_split(dataset, kSplits[s]);
  // Train and tuning patients in a seeded order: the max_*_examples caps take whole patients,
  // the same ones for every task, so tasks share model windows.
  std::vector<std::vector<int64_t>> order(3);
  for (int s = 0; s < 3; ++s) {
    order[size_t(s)].resize(patients[size_t(s)].size());
    std::iota(order[size_t(s)].begin(), order[size_t(s)].end(), 0);
    if (s == 2) continue;
    const auto& group = patients[size_t(s)];
    std::sort(order[size_t(s)].begin(), order[size_t(s)].end(), [&](int64_t a, int64_t b) {
      return mix64(group[size_t(a)].key ^ uint64_t(suite.seed)) <
             mix64(group[size_t(b)].key ^ uint64_t(suite.seed));
    });
  }
  const int64_t caps[3] = {suite.max_train_examples, suite.max_tuning_examples, 0};
  std::vector<std::vector<std::vector<Example>>> examples(tasks.size(), std::vector<std::vector<Example>>(3));
  SuiteResult result;
  result.tasks.resize(tasks.size());
  std::map<std::tuple<int, int64_t, int64_t>, int64_t> window_index;
  std::vector<WindowRequest> requests;
  for (size_t k = 0; k < tasks.size(); ++k) {
    TaskResult& tr = result.tasks[k];
    tr.name = tasks[k].spec->name;
    tr.description = tasks[k].spec->description;
    tr.kind = label_kind_name(tasks[k].spec->kind);
    tr.definition = task_definition(*tasks[k].spec);
    LabelCounts* counts[3] = {&tr.train_counts, &tr.tuning_counts, &tr.held_out_counts};
    for (int s = 0; s < 3; ++s) {
      const int64_t n = static_cast<int64_t>(patients[size_t(s)].size());
      for (int64_t j = 0; j < n; ++j) {
        const int64_t p = order[size_t(s)][size_t(j)];
        const bool capped = caps[s] > 0 && static_cast<int64_t>(examples[k][size_t(s)].size()) >= caps[s];
        LabelCounts ignored;
        for (const LabeledTime& time :
             label_patient(patients[size_t(s)][size_t(p)], tasks[k], capped ? &ignored : counts[s])) {
          if (capped) continue;
          Example e{p, time, -1};
          auto [it, fresh] =
              window_index.emplace(std::make_tuple(s, p, time.history_events), int64_t(requests.size()));
          if (fresh) requests.push_back({&patients[size_t(s)][size_t(p)], time.history_events});
          e.window = it->second;
          examples[k][size_t(s)].push_back(e);
        }
      }
    }
    tr.train_rows_used = static_cast<int64_t>(examples[k][0].size());
    log_info(
        "task {}: {} train, {} tuning (caps {}, {}), {} held-out prediction times; held-out positives {}",
        tr.name, tr.train_rows_used, examples[k][1].size(), caps[0], caps[1], examples[k][2].size(),
        tr.held_out_counts.positives);
  }

  // 3. The model at every unique window.
  std::vector<std::vector<char>> token_sets;
  for (const ResolvedTask& t : tasks) token_sets.push_back(t.label_tokens);
  ExtractOptions extract;
  extract.context_events = suite.context_events;
  extract.progress = request.progress;
  log_info("eval: {} unique prediction-time windows through the model", requests.size());
  const ModelFeatures mf = extract_model_features(model, requests, token_sets, extract);

  // 4. Methods and statistics per task.
  BootstrapOptions bootstrap;
  bootstrap.samples = request.config.bootstrap_samples;
  for (size_t k = 0; k < tasks.size(); ++k) {
    const TaskSpec& spec = *tasks[k].spec;
    TaskResult& tr = result.tasks[k];
    const std::vector<Example>& held = examples[k][2];
    std::vector<uint64_t> patient_ids;
    std::vector<Sex> sexes;
    for (const Example& e : held) {
      const PatientTimeline& p = patients[2][size_t(e.patient)];
      tr.keys.push_back(p.key);
      tr.prediction_age_days.push_back(e.time.prediction_age_days);
      tr.y.push_back(e.time.label);
      patient_ids.push_back(p.key);
      sexes.push_back(p.sex);
    }
    if (held.empty() || examples[k][0].empty()) {
      result.notes.push_back(fmt::format("task {}: no {} prediction times, nothing scored", spec.name,
                                         held.empty() ? "held-out" : "train"));
      continue;
    }
    FitRows counts_rows, embed_rows;
    std::vector<HistoryRef> refs[3];
    for (int s = 0; s < 3; ++s) {
      FeatureMatrix embed;
      embed.cols = mf.dim + 1;
      std::vector<int> y;
      for (const Example& e : examples[k][size_t(s)]) {
        refs[s].push_back(
            {&patients[size_t(s)][size_t(e.patient)], e.time.history_events, e.time.prediction_age_days});
        embed.values.insert(embed.values.end(), mf.embedding.begin() + e.window * mf.dim,
                            mf.embedding.begin() + (e.window + 1) * mf.dim);
        // Age at the prediction time, as the baseline has it: the embedding knows the age of
        // the last event, not how long ago it was.
        embed.values.push_back(static_cast<float>(e.time.prediction_age_days / kDaysPerYear / 10.0));
        y.push_back(e.time.label);
      }
      embed.rows = static_cast<int64_t>(y.size());
      FeatureMatrix* targets[3] = {&embed_rows.train, &embed_rows.tuning, &embed_rows.held_out};
      *targets[s] = std::move(embed);
      if (s == 0) embed_rows.train_y = counts_rows.train_y = y;
      if (s == 1) embed_rows.tuning_y = counts_rows.tuning_y = y;
    }
    const std::vector<int32_t> columns = select_count_columns(refs[0], vocab.size());
    counts_rows.train = count_features(refs[0], columns, vocab.size());
    counts_rows.tuning = count_features(refs[1], columns, vocab.size());
    counts_rows.held_out = count_features(refs[2], columns, vocab.size());

    MethodResult zero;
    zero.method = "zero_shot";
    for (const Example& e : held) {
      const double rate = mf.rate[size_t(e.window)];
      const double mass = mf.set_prob[size_t(e.window) * size_t(mf.sets) + k];
      double risk;
      if (spec.kind == LabelKind::kEventWithin) {
        risk = -std::expm1(-rate * mass * spec.horizon_days / kDaysPerYear);
      } else {
        const double remaining =
            std::max(0.0, e.time.anchor_age_days + spec.horizon_days - e.time.prediction_age_days);
        risk = std::exp(-rate * mass * remaining / kDaysPerYear);
      }
      if (!std::isfinite(risk)) risk = mass > 0 ? 1.0 : 0.0;  // an overflowing rate times zero mass
      zero.scores.push_back(std::clamp(risk, 0.0, 1.0));
    }
    zero.details = {
        {"formula", spec.kind == LabelKind::kEventWithin
                        ? "1 - exp(-rate * P(next event in outcome codes) * horizon)"
                        : "exp(-rate * P(next event ends the stay) * time left to anchor + horizon)"}};
    std::vector<MethodResult> methods;
    methods.push_back(fit_linear_method("probe", embed_rows));
    methods.push_back(std::move(zero));
    methods.push_back(fit_linear_method("count_baseline", counts_rows));
    if (suite.k_shot) {
      const uint64_t seed = mix64(uint64_t(suite.seed) ^ hash_name(spec.name));
      methods[0].details["k_shot"] = k_shot_curve(embed_rows, tr.y, seed);
      methods[2].details["k_shot"] = k_shot_curve(counts_rows, tr.y, seed);
    }

    std::vector<SubgroupDefinition> groups;
    for (const std::string& g : request.config.subgroups) {
      if (g == "sex") {
        const std::pair<Sex, const char*> values[] = {
            {Sex::kFemale, "female"}, {Sex::kMale, "male"}, {Sex::kUnknown, "unknown"}};
        for (const auto& [sex, name] : values) {
          SubgroupDefinition d{fmt::format("sex={}", name), {}};
          for (Sex s : sexes) d.member.push_back(s == sex);
          if (std::count(d.member.begin(), d.member.end(), 1) > 0 || sex != Sex::kUnknown)
            groups.push_back(std::move(d));
        }
      } else {
        const std::vector<std::string> names = age_band_names(suite.age_bands);
        for (size_t b = 0; b < names.size(); ++b) {
          SubgroupDefinition d{"age=" + names[b], {}};
          for (double age : tr.prediction_age_days)
            d.member.push_back(age_band_of(age / kDaysPerYear, suite.age_bands) == static_cast<int>(b));
          groups.push_back(std::move(d));
        }
      }
    }
    bootstrap.seed = mix64(uint64_t(request.config.bootstrap_seed) ^ hash_name(spec.name));
    for (MethodResult& m : methods)
      score_method(m, tr.y, patient_ids, groups, bootstrap, request.config.min_subgroup_size);
    tr.methods = std::move(methods);
    if (!spec.truth.empty() && truth) tr.truth = truth_comparison(tr, *truth, spec.truth);
    for (const MethodResult& m : tr.methods)
      log_info("task {} {:>14}: AUROC {} AUPRC {} (n={}, {} positive)", tr.name, m.method,
               m.overall.reported ? format_interval(m.overall.auroc) : m.overall.reason,
               m.overall.reported ? format_interval(m.overall.auprc) : "", m.overall.n, m.overall.n_positive);
  }

  result.suite_name = suite.name;
  result.suite_file = suite.file;
  result.checkpoint = weights_path;
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
                     {"model", model->dims.describe()},
                     {"unique_windows", requests.size()}};
  if (!truth &&
      std::any_of(suite.tasks.begin(), suite.tasks.end(), [](const TaskSpec& t) { return !t.truth.empty(); }))
    result.notes.push_back(
        "tasks name truth outcomes but no --truth file was given: no comparison with true risks");
  return result;
}

}  // namespace clinfm
