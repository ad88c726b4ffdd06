// Delphi-2M's AUC protocol (see delphi_protocol.h for the definitions).
#include "eval/delphi_protocol.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>

#include "data/timestamp.h"
#include "eval/count_features.h"
#include "eval/metrics.h"

namespace clinfm {
namespace {

const std::vector<std::string> kChapters = {"I. Infectious Diseases",
                                            "II. Neoplasms",
                                            "III. Blood & Immune Disorders",
                                            "IV. Metabolic Diseases",
                                            "V. Mental Disorders",
                                            "VI. Nervous System Diseases",
                                            "VII. Eye Diseases",
                                            "VIII. Ear Diseases",
                                            "IX. Circulatory Diseases",
                                            "X. Respiratory Diseases",
                                            "XI. Digestive Diseases",
                                            "XII. Skin Diseases",
                                            "XIII. Musculoskeletal Diseases",
                                            "XIV. Genitourinary Diseases",
                                            "XV. Pregnancy & Childbirth",
                                            "XVI. Perinatal Conditions",
                                            "XVII. Congenital Abnormalities",
                                            "Death"};

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int sex_index(Sex sex) { return sex == Sex::kFemale ? 0 : sex == Sex::kMale ? 1 : -1; }

// Bracket of an age in days, or -1 outside [first edge, last edge).
int bracket_of(double age_days, const std::vector<double>& edges) {
  const double years = age_days / kDaysPerYear;
  if (years < edges.front() || years >= edges.back()) return -1;
  return static_cast<int>(std::upper_bound(edges.begin(), edges.end(), years) - edges.begin()) - 1;
}

// The last event before event t's age minus the offset (events are in age order), or -1.
int32_t prediction_position(const PatientTimeline& patient, size_t t, double offset_days) {
  const auto first = patient.age_days.begin();
  const auto at = std::lower_bound(first, first + static_cast<int64_t>(t), patient.age_days[t] - offset_days);
  return static_cast<int32_t>(at - first) - 1;
}

// [V] -> disease index or -1.
std::vector<int32_t> disease_of_token(const std::vector<DelphiDisease>& diseases) {
  int32_t top = 0;
  for (const DelphiDisease& d : diseases) top = std::max(top, d.token);
  std::vector<int32_t> index(size_t(top) + 1, -1);
  for (size_t d = 0; d < diseases.size(); ++d) index[size_t(diseases[d].token)] = static_cast<int32_t>(d);
  return index;
}

// Age (days) of each disease's first event in a patient; NaN when it has none.
std::vector<double> first_ages(const PatientTimeline& patient, const std::vector<int32_t>& disease_of,
                               size_t diseases) {
  std::vector<double> first(diseases, std::nan(""));
  for (size_t t = 0; t < patient.size(); ++t) {
    const int32_t token = patient.tokens[t];
    if (token < 0 || size_t(token) >= disease_of.size() || disease_of[size_t(token)] < 0) continue;
    double& age = first[size_t(disease_of[size_t(token)])];
    if (std::isnan(age)) age = patient.age_days[t];
  }
  return first;
}

// Unique prediction points of a plan, per patient.
class PointTable {
 public:
  explicit PointTable(std::vector<DelphiPoint>& points) : points_(points) {}
  void start_patient(size_t events) { slot_.assign(events, -1); }
  int32_t add(int32_t patient, int32_t position, double age_days) {
    int32_t& slot = slot_[size_t(position)];
    if (slot < 0) {
      slot = static_cast<int32_t>(points_.size());
      points_.push_back({patient, position, age_days});
    }
    return slot;
  }

 private:
  std::vector<DelphiPoint>& points_;
  std::vector<int32_t> slot_;
};

double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

double sample_variance(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double mean = mean_of(v);
  double sum = 0;
  for (const double x : v) sum += (x - mean) * (x - mean);
  return sum / double(v.size() - 1);
}

DelphiSummary summarize(const std::string& name, const std::vector<const DelphiDiseaseResult*>& diseases) {
  DelphiSummary s;
  s.name = name;
  double sum = 0, variance = 0;
  for (const DelphiDiseaseResult* d : diseases) {
    if (std::isnan(d->auc)) continue;
    sum += d->auc;
    variance += d->variance;
    s.diseases += 1;
  }
  if (s.diseases == 0) {
    s.mean_auc = s.lo = s.hi = std::nan("");
    return s;
  }
  s.mean_auc = sum / double(s.diseases);
  const double half = 1.959963984540054 * std::sqrt(variance) / double(s.diseases);
  s.lo = s.mean_auc - half;
  s.hi = s.mean_auc + half;
  return s;
}

}  // namespace

std::string delphi_chapter(const std::string& code, const DelphiSpec& spec) {
  if (code == spec.death_code) return "Death";
  if (code.compare(0, spec.code_prefix.size(), spec.code_prefix) != 0) return "";
  const std::string icd = code.substr(spec.code_prefix.size());
  if (icd.rfind("CXX", 0) == 0) return kChapters[1];
  if (icd.size() < 3 || icd[0] < 'A' || icd[0] > 'Q' || !std::isdigit(static_cast<unsigned char>(icd[1])) ||
      !std::isdigit(static_cast<unsigned char>(icd[2])) || (icd.size() > 3 && icd[3] != '_'))
    return "";
  const int number = (icd[1] - '0') * 10 + (icd[2] - '0');
  switch (icd[0]) {
    case 'A':
    case 'B':
      return kChapters[0];
    case 'C':
      return kChapters[1];
    case 'D':
      return number <= 48 ? kChapters[1] : kChapters[2];
    case 'H':
      return number <= 59 ? kChapters[6] : kChapters[7];
    default:
      break;
  }
  const std::string letters = "EFG__IJKLMNOPQ";  // chapters IV-VI, (VII, VIII: H above), IX-XVII
  return kChapters[3 + letters.find(icd[0])];
}

std::vector<DelphiDisease> delphi_diseases(const Vocabulary& vocab, const DelphiSpec& spec) {
  std::vector<DelphiDisease> diseases;
  for (int32_t token = 0; token < vocab.size(); ++token) {
    const Token& t = vocab.token(token);
    if (t.origin != "code" || t.train_events < spec.min_occurrences) continue;
    const std::string chapter = delphi_chapter(t.code, spec);
    if (!chapter.empty()) diseases.push_back({token, t.code, chapter, t.train_events});
  }
  return diseases;
}

DelphiPlan plan_delphi(const std::vector<PatientTimeline>& patients,
                       const std::vector<DelphiDisease>& diseases, const DelphiSpec& spec) {
  DelphiPlan plan;
  const std::vector<double>& edges = spec.age_brackets;
  plan.brackets = static_cast<int64_t>(edges.size()) - 1;
  plan.cases.resize(diseases.size());
  plan.patient_has.assign(diseases.size(), std::vector<char>(patients.size(), 0));
  const std::vector<int32_t> disease_of = disease_of_token(diseases);
  PointTable table(plan.points);
  std::vector<std::vector<int32_t>> candidates(size_t(plan.brackets));
  for (size_t i = 0; i < patients.size(); ++i) {
    const PatientTimeline& patient = patients[i];
    const int sex = sex_index(patient.sex);
    if (sex < 0) {
      plan.patients_without_sex += 1;
      continue;
    }
    const int32_t p = static_cast<int32_t>(i);
    table.start_patient(patient.size());
    for (auto& list : candidates) list.clear();
    for (size_t t = 1; t < patient.size(); ++t) {
      const int32_t j = prediction_position(patient, t, spec.offset_days);
      const int bracket = j < 0 ? -1 : bracket_of(patient.age_days[size_t(j)], edges);
      if (bracket >= 0) candidates[size_t(bracket)].push_back(j);
      const int32_t token = patient.tokens[t];
      const int32_t d = (token >= 0 && size_t(token) < disease_of.size()) ? disease_of[size_t(token)] : -1;
      if (d < 0 || plan.patient_has[size_t(d)][i]) continue;
      plan.patient_has[size_t(d)][i] = 1;  // the first event of d: the patient's one case
      if (bracket >= 0)
        plan.cases[size_t(d)].push_back({table.add(p, j, patient.age_days[size_t(j)]),
                                         static_cast<int32_t>(sex * plan.brackets + bracket)});
    }
    uint64_t state = patient.key ^ (uint64_t(spec.seed) * 0x9E3779B97F4A7C15ULL);
    for (int64_t b = 0; b < plan.brackets; ++b) {
      const std::vector<int32_t>& list = candidates[size_t(b)];
      const uint64_t draw = splitmix(state);  // drawn for every bracket: each bracket's draw is fixed
      if (list.empty()) continue;
      const int32_t j = list[size_t(draw % list.size())];
      plan.controls.push_back(
          {table.add(p, j, patient.age_days[size_t(j)]), static_cast<int32_t>(sex * plan.brackets + b)});
      plan.control_patient.push_back(p);
    }
  }
  return plan;
}

DelongAuc delong_auc(const std::vector<double>& cases, const std::vector<double>& controls) {
  const size_t m = cases.size(), n = controls.size();
  std::vector<double> all(cases);
  all.insert(all.end(), controls.begin(), controls.end());
  const std::vector<double> tx = midranks(cases), ty = midranks(controls), tz = midranks(all);
  double rank_sum = 0;
  std::vector<double> v01(m), v10(n);
  for (size_t i = 0; i < m; ++i) {
    rank_sum += tz[i];
    v01[i] = (tz[i] - tx[i]) / double(n);  // share of controls below case i (ties 1/2)
  }
  for (size_t j = 0; j < n; ++j) v10[j] = 1.0 - (tz[m + j] - ty[j]) / double(m);  // share of cases above
  DelongAuc out;
  out.auc = rank_sum / double(m) / double(n) - double(m + 1) / 2.0 / double(n);
  out.variance = sample_variance(v01) / double(m) + sample_variance(v10) / double(n);
  return out;
}

DelphiMethodResult score_delphi(const std::string& method, const DelphiPlan& plan,
                                const std::vector<DelphiDisease>& diseases, const std::vector<float>& scores,
                                const DelphiSpec& spec) {
  DelphiMethodResult result;
  result.method = method;
  const size_t D = diseases.size();
  const size_t strata = size_t(2 * plan.brackets);
  std::vector<std::vector<double>> case_scores(strata), control_scores(strata);
  for (size_t d = 0; d < D; ++d) {
    for (size_t s = 0; s < strata; ++s) {
      case_scores[s].clear();
      control_scores[s].clear();
    }
    for (const DelphiCase& c : plan.cases[d])
      case_scores[size_t(c.stratum)].push_back(scores[size_t(c.point) * D + d]);
    for (size_t k = 0; k < plan.controls.size(); ++k) {
      if (plan.patient_has[d][size_t(plan.control_patient[k])]) continue;
      const DelphiCase& c = plan.controls[k];
      control_scores[size_t(c.stratum)].push_back(scores[size_t(c.point) * D + d]);
    }
    DelphiDiseaseResult r;
    r.disease = diseases[d];
    r.cases = static_cast<int64_t>(plan.cases[d].size());
    double sum = 0, variance = 0;
    for (size_t s = 0; s < strata; ++s) {
      if (case_scores[s].size() < 2 || control_scores[s].size() < 2) continue;
      DelphiStratum stratum;
      stratum.sex = static_cast<int32_t>(s / size_t(plan.brackets));
      stratum.age_lo = spec.age_brackets[s % size_t(plan.brackets)];
      stratum.age_hi = spec.age_brackets[s % size_t(plan.brackets) + 1];
      stratum.cases = static_cast<int64_t>(case_scores[s].size());
      stratum.controls = static_cast<int64_t>(control_scores[s].size());
      stratum.auc = delong_auc(case_scores[s], control_scores[s]);
      sum += stratum.auc.auc;
      variance += stratum.auc.variance;
      r.strata.push_back(stratum);
    }
    const double n = double(r.strata.size());
    r.auc = r.strata.empty() ? std::nan("") : sum / n;
    r.variance = r.strata.empty() ? std::nan("") : variance / (n * n);
    result.diseases.push_back(std::move(r));
  }
  std::vector<const DelphiDiseaseResult*> all;
  for (const DelphiDiseaseResult& r : result.diseases) all.push_back(&r);
  result.summaries.push_back(summarize("all", all));
  for (const std::string& chapter : kChapters) {
    std::vector<const DelphiDiseaseResult*> in_chapter;
    for (const DelphiDiseaseResult& r : result.diseases)
      if (r.disease.chapter == chapter) in_chapter.push_back(&r);
    if (!in_chapter.empty()) result.summaries.push_back(summarize(chapter, in_chapter));
  }
  return result;
}

std::vector<float> age_sex_scores(const std::vector<PatientTimeline>& train,
                                  const std::vector<PatientTimeline>& held_out, const DelphiPlan& plan,
                                  const std::vector<DelphiDisease>& diseases) {
  constexpr int kYears = 121;
  const size_t D = diseases.size();
  const std::vector<int32_t> disease_of = disease_of_token(diseases);
  // exposure[sex][year]: person-years of every patient to its last event; minus, per disease,
  // the years after its first event. cases[sex][d][year]: first events.
  std::vector<double> exposure(2 * kYears, 0.0), removed(2 * D * kYears, 0.0), cases(2 * D * kYears, 0.0);
  const auto add_years = [](double* row, double from_years, double to_years, double sign) {
    for (int y = std::max(0, int(from_years)); y < kYears && y < to_years; ++y)
      row[y] += sign * (std::min(to_years, double(y + 1)) - std::max(from_years, double(y)));
  };
  for (const PatientTimeline& patient : train) {
    const int sex = sex_index(patient.sex);
    if (sex < 0 || patient.size() == 0) continue;
    const double last = patient.age_days.back() / kDaysPerYear;
    add_years(&exposure[size_t(sex) * kYears], 0.0, last, 1.0);
    const std::vector<double> first = first_ages(patient, disease_of, D);
    for (size_t d = 0; d < D; ++d) {
      if (std::isnan(first[d])) continue;
      const double at = first[d] / kDaysPerYear;
      const size_t row = (size_t(sex) * D + d) * kYears;
      cases[row + size_t(std::min(kYears - 1, int(at)))] += 1.0;
      add_years(&removed[row], at, last, 1.0);
    }
  }
  std::vector<float> scores(plan.points.size() * D);
  for (size_t k = 0; k < plan.points.size(); ++k) {
    const DelphiPoint& point = plan.points[k];
    const int sex = sex_index(held_out[size_t(point.patient)].sex);
    const int year = std::clamp(int(point.age_days / kDaysPerYear), 0, kYears - 1);
    for (size_t d = 0; d < D; ++d) {
      const size_t at = (size_t(sex) * D + d) * kYears + size_t(year);
      const double at_risk = exposure[size_t(sex) * kYears + size_t(year)] - removed[at];
      scores[k * D + d] = static_cast<float>(std::log((cases[at] + 0.5) / (std::max(0.0, at_risk) + 1.0)));
    }
  }
  return scores;
}

std::vector<float> count_baseline_scores(const std::vector<PatientTimeline>& train,
                                         const DelphiPlan& train_plan,
                                         const std::vector<PatientTimeline>& held_out, const DelphiPlan& plan,
                                         const std::vector<DelphiDisease>& diseases, int32_t vocab_size,
                                         const DelphiSpec& spec) {
  const auto refs = [](const std::vector<PatientTimeline>& patients, const DelphiPlan& p) {
    std::vector<HistoryRef> out;
    for (const DelphiPoint& point : p.points)
      out.push_back({&patients[size_t(point.patient)], point.position + 1, point.age_days});
    return out;
  };
  const std::vector<HistoryRef> train_refs = refs(train, train_plan);
  const std::vector<int32_t> columns = select_count_columns(train_refs, vocab_size);
  const FeatureMatrix train_x = count_features(train_refs, columns, vocab_size);
  const FeatureMatrix held_x = count_features(refs(held_out, plan), columns, vocab_size);
  const size_t D = diseases.size();
  std::vector<float> scores(plan.points.size() * D, 0.0f);
  for (size_t d = 0; d < D; ++d) {
    std::vector<int64_t> rows;
    std::vector<int> y;
    for (const DelphiCase& c : train_plan.cases[d]) {
      rows.push_back(c.point);
      y.push_back(1);
    }
    if (rows.size() < 2) continue;  // nothing to learn from: every score 0 (AUC 1/2)
    std::vector<int64_t> controls;
    for (size_t k = 0; k < train_plan.controls.size(); ++k)
      if (!train_plan.patient_has[d][size_t(train_plan.control_patient[k])])
        controls.push_back(train_plan.controls[k].point);
    uint64_t state = uint64_t(spec.seed) + d;
    for (size_t i = controls.size(); i > 1; --i) std::swap(controls[i - 1], controls[splitmix(state) % i]);
    controls.resize(std::min(controls.size(), size_t(spec.count_baseline_controls)));
    rows.insert(rows.end(), controls.begin(), controls.end());
    y.resize(rows.size(), 0);
    const LogisticModel model = fit_logistic(train_x.select_rows(rows), y, 1.0);
    const std::vector<double> predicted = predict_logistic(model, held_x);
    for (size_t k = 0; k < predicted.size(); ++k) scores[k * D + d] = static_cast<float>(predicted[k]);
  }
  return scores;
}

std::vector<DelphiCalibrationBin> delphi_calibration(const std::vector<PatientTimeline>& patients,
                                                     const DelphiPlan& plan,
                                                     const std::vector<DelphiDisease>& diseases,
                                                     const std::vector<float>& log_rates, double years,
                                                     int bins) {
  const size_t D = diseases.size();
  const std::vector<int32_t> disease_of = disease_of_token(diseases);
  std::vector<std::pair<double, int>> pairs;  // (predicted risk, observed)
  std::vector<double> first;
  int32_t first_of = -1;
  for (size_t k = 0; k < plan.controls.size(); ++k) {
    const int32_t p = plan.control_patient[k];
    if (p != first_of) {
      first = first_ages(patients[size_t(p)], disease_of, D);
      first_of = p;
    }
    const DelphiPoint& point = plan.points[size_t(plan.controls[k].point)];
    for (size_t d = 0; d < D; ++d) {
      if (first[d] <= point.age_days) continue;  // already has it (NaN compares false: never had it)
      const double risk =
          -std::expm1(-std::exp(double(log_rates[size_t(plan.controls[k].point) * D + d])) * years);
      pairs.emplace_back(risk, first[d] <= point.age_days + years * kDaysPerYear ? 1 : 0);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  std::vector<DelphiCalibrationBin> out;
  for (int b = 0; b < bins && !pairs.empty(); ++b) {
    const size_t lo = pairs.size() * size_t(b) / size_t(bins),
                 hi = pairs.size() * size_t(b + 1) / size_t(bins);
    if (hi <= lo) continue;
    DelphiCalibrationBin bin;
    for (size_t i = lo; i < hi; ++i) {
      bin.predicted += pairs[i].first;
      bin.observed += pairs[i].second;
    }
    bin.n = static_cast<int64_t>(hi - lo);
    bin.predicted /= double(bin.n);
    bin.observed /= double(bin.n);
    out.push_back(bin);
  }
  return out;
}

}  // namespace clinfm
