// The synthetic cohort generator: options and file naming, byte-for-byte determinism, the MEDS
// layout of every timeline, clinical plausibility (labs, drugs, incidence by age), the
// calibration of the truth file against the outcomes the generator drew, and the background
// codes of `--codes N` (long tail, hierarchy through prep's suppression, clinical rows intact).
// Over 400 lines: one test per property of the generator, each a few assertions.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/error.h"
#include "data/deid.h"
#include "data/synth/synth_background.h"
#include "data/synth/synth_cohort.h"
#include "data/timestamp.h"
#include "data/vocab.h"
#include "prep_fixture.h"

namespace clinfm {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

constexpr int64_t kDay = 86400;
const int64_t kFollowUpEnd = days_from_civil(2025, 1, 1) * kDay;
constexpr int64_t kNone = INT64_MAX;

// Whole file; gzread reads plain files as they are.
std::string read_all(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  EXPECT_NE(file, nullptr) << path;
  if (!file) return {};
  std::string text;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0) text.append(buffer, static_cast<size_t>(n));
  gzclose(file);
  return text;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ',') {
      fields.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
  return fields;
}

// Calls f(fields) for every line after the header; returns the header.
template <typename F>
std::string for_each_row(const std::string& text, F f) {
  size_t end = text.find('\n');
  const std::string header = text.substr(0, end);
  for (size_t start = end + 1; start < text.size(); start = end + 1) {
    end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    f(split(std::string_view(text).substr(start, end - start)));
  }
  return header;
}

int64_t seconds_of(std::string_view text) {
  int64_t s = 0;
  EXPECT_TRUE(parse_timestamp(text, &s)) << text;
  return s;
}

struct Event {
  int64_t time;
  std::string code;
  double value;  // NaN when empty
};

struct Subject {
  int births = 0, genders = 0;
  bool male = false;
  int64_t birth = kNone, death = kNone, first_t2d = kNone, first_hf = kNone;
  std::vector<Event> events;  // timed rows other than MEDS_BIRTH, in file order
};

struct TruthRow {
  int64_t subject, prediction;
  std::string outcome;
  double probability;
};

struct Cohort {
  fs::path dir;
  SynthSummary summary;
  std::vector<Subject> subjects;  // by subject_id; [0] unused
  std::vector<TruthRow> truth;
  std::string header, truth_header;
  int64_t rows = 0;
};

void load_cohort(Cohort& c, int64_t patients) {
  c.subjects.resize(patients + 1);
  c.header = for_each_row(read_all(c.summary.out), [&](const std::vector<std::string_view>& f) {
    ++c.rows;
    ASSERT_EQ(f.size(), 5u);
    ASSERT_TRUE(f[4].empty());
    const int64_t id = std::stoll(std::string(f[0]));
    ASSERT_TRUE(id >= 1 && id <= patients) << id;
    Subject& s = c.subjects[id];
    if (f[1].empty()) {
      ++s.genders;
      s.male = f[2] == "GENDER//M";
      EXPECT_TRUE(f[2] == "GENDER//M" || f[2] == "GENDER//F") << f[2];
      return;
    }
    const int64_t t = seconds_of(f[1]);
    if (f[2] == "MEDS_BIRTH") {
      ++s.births;
      s.birth = t;
      return;
    }
    if (f[2] == "MEDS_DEATH") s.death = std::min(s.death, t);
    if (f[2] == "ICD10//E11") s.first_t2d = std::min(s.first_t2d, t);
    if (f[2] == "ICD10//I50") s.first_hf = std::min(s.first_hf, t);
    s.events.push_back({t, std::string(f[2]), f[3].empty() ? NAN : std::stod(std::string(f[3]))});
  });
  c.truth_header = for_each_row(read_all(c.summary.truth_path), [&](const std::vector<std::string_view>& f) {
    ASSERT_EQ(f.size(), 5u);
    ASSERT_EQ(f[3], "365");
    c.truth.push_back(
        {std::stoll(std::string(f[0])), seconds_of(f[1]), std::string(f[2]), std::stod(std::string(f[4]))});
  });
}

// One 20k-patient cohort, generated once and shared by the tests that read it.
class SynthCohort : public ::testing::Test {
 protected:
  static constexpr int64_t kPatients = 20000;

  static void SetUpTestSuite() {
    cohort_ = new Cohort;
    cohort_->dir = fs::temp_directory_path() / ("clinfm-synth-cohort-" + std::to_string(::getpid()));
    fs::create_directories(cohort_->dir);
    SynthOptions options;
    options.patients = kPatients;
    options.seed = 7;
    options.threads = 2;
    options.out = (cohort_->dir / "cohort.csv.gz").string();
    cohort_->summary = write_synthetic_cohort(options);
    load_cohort(*cohort_, kPatients);
  }
  static void TearDownTestSuite() {
    fs::remove_all(cohort_->dir);
    delete cohort_;
    cohort_ = nullptr;
  }

  // Mean of a lab's values, split by whether the patient had the disease (first code at or
  // before the lab) at the time.
  static std::pair<double, double> lab_means(const std::string& lab, const std::string& disease_code) {
    double sum[2] = {0, 0};
    int64_t n[2] = {0, 0};
    for (const Subject& s : cohort_->subjects) {
      int64_t first = kNone;
      for (const Event& e : s.events)
        if (e.code == disease_code) first = std::min(first, e.time);
      for (const Event& e : s.events) {
        if (e.code != lab) continue;
        const int with = e.time >= first ? 1 : 0;
        sum[with] += e.value;
        n[with] += 1;
      }
    }
    EXPECT_GT(n[0], 1000) << lab;
    EXPECT_GT(n[1], 1000) << lab;
    return {sum[0] / n[0], sum[1] / n[1]};
  }

  inline static Cohort* cohort_ = nullptr;
};

TEST(SynthOptions, TruthPathNaming) {
  EXPECT_EQ(synth_truth_path("x/cohort.csv.gz"), "x/cohort.truth.csv");
  EXPECT_EQ(synth_truth_path("x/cohort.csv"), "x/cohort.truth.csv");
  EXPECT_EQ(synth_truth_path("cohort"), "cohort.truth.csv");
  EXPECT_EQ(synth_truth_path("a.truth.csv"), "a.truth.truth.csv");  // never the output itself
}

TEST(SynthOptions, BadOptionsAreInputErrorsNamingTheProblem) {
  TempDir dir;
  auto message_of = [](const SynthOptions& o) -> std::string {
    try {
      write_synthetic_cohort(o);
    } catch (const InputError& e) {
      return e.what();
    } catch (const std::exception& e) {
      return std::string("wrong error type: ") + e.what();
    }
    return "no error";
  };
  SynthOptions o;
  o.out = dir / "c.csv";
  o.patients = 0;
  EXPECT_NE(message_of(o).find("patients"), std::string::npos) << message_of(o);
  o.patients = 10;
  o.threads = -1;
  EXPECT_NE(message_of(o).find("threads"), std::string::npos) << message_of(o);
  o.threads = 0;
  o.out = "";
  EXPECT_NE(message_of(o).find("output path"), std::string::npos) << message_of(o);
  o.out = dir / "missing/c.csv";
  EXPECT_NE(message_of(o).find("does not exist"), std::string::npos) << message_of(o);
  o.out = dir.path().string();
  EXPECT_NE(message_of(o).find("is a folder"), std::string::npos) << message_of(o);
  EXPECT_TRUE(fs::is_empty(dir.path()));  // nothing half-written left behind
}

TEST(SynthDeterminism, SameSeedSameBytesWhateverTheThreads) {
  TempDir dir;
  auto run = [&](const std::string& name, uint64_t seed, int threads) {
    SynthOptions o;
    o.patients = 2500;  // three blocks, the last one partial
    o.seed = seed;
    o.threads = threads;
    o.out = dir / name;
    const SynthSummary summary = write_synthetic_cohort(o);
    EXPECT_EQ(summary.patients, 2500);
    EXPECT_EQ(summary.truth_path, synth_truth_path(o.out));
    return std::make_pair(read_file(o.out), read_file(summary.truth_path));
  };
  const auto one = run("one.csv.gz", 3, 1);
  const auto two = run("two.csv.gz", 3, 2);
  const auto four = run("four.csv.gz", 3, 4);
  const auto plain = run("plain.csv", 3, 2);
  const auto other = run("other.csv.gz", 4, 2);
  EXPECT_TRUE(one.first == two.first && one.first == four.first);
  EXPECT_TRUE(one.second == two.second && one.second == four.second);
  EXPECT_EQ(plain.second, one.second);
  EXPECT_EQ(read_all(dir / "one.csv.gz"), plain.first);  // the gzip holds exactly the plain bytes
  EXPECT_EQ(one.first.substr(0, 2), std::string("\x1f\x8b"));
  EXPECT_NE(other.first, one.first);
  EXPECT_NE(other.second, one.second);
  for (const auto& entry : fs::directory_iterator(dir.path()))  // no temporary files remain
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

TEST_F(SynthCohort, HeaderSummaryAndTimelines) {
  EXPECT_EQ(cohort_->header, "subject_id,time,code,numeric_value,text_value");
  EXPECT_EQ(cohort_->summary.events, cohort_->rows);
  const double rows_per_patient = static_cast<double>(cohort_->rows) / kPatients;
  EXPECT_GT(rows_per_patient, 30);
  EXPECT_LT(rows_per_patient, 120);
  int64_t males = 0, deaths = 0, in_hospital_deaths = 0, admissions = 0;
  double min_age = 200, max_age = 0;
  for (int64_t id = 1; id <= kPatients; ++id) {
    const Subject& s = cohort_->subjects[id];
    ASSERT_EQ(s.births, 1) << id;
    ASSERT_EQ(s.genders, 1) << id;
    males += s.male;
    const int64_t last = s.events.empty() ? s.birth : s.events.back().time;
    const double age = static_cast<double>(std::min(kFollowUpEnd, s.death) - s.birth) / (kDaysPerYear * kDay);
    if (s.death == kNone) min_age = std::min(min_age, age), max_age = std::max(max_age, age);
    bool in_hospital = false;
    for (size_t i = 0; i < s.events.size(); ++i) {
      const Event& e = s.events[i];
      ASSERT_GE(e.time, s.birth) << id;
      ASSERT_LT(e.time, kFollowUpEnd) << id;
      if (i > 0) {
        ASSERT_GE(e.time, s.events[i - 1].time) << "subject " << id << " row " << i << " out of order";
      }
      ASSERT_LE(e.time, s.death) << "subject " << id << " has " << e.code << " after death";
      if (e.code == "MEDS_DEATH") {
        ASSERT_EQ(i, s.events.size() - 1) << id;
      }
      if (e.code.rfind("HOSPITAL_ADMISSION//", 0) == 0) {
        ASSERT_FALSE(in_hospital) << "subject " << id << ": admission during a stay";
        in_hospital = true;
        ++admissions;
      }
      if (e.code.rfind("HOSPITAL_DISCHARGE//", 0) == 0) {
        ASSERT_TRUE(in_hospital) << "subject " << id << ": discharge without admission";
        in_hospital = false;
      }
    }
    if (s.death != kNone) {
      ++deaths;
      in_hospital_deaths += in_hospital;
      EXPECT_EQ(last, s.death);
    }
  }
  EXPECT_EQ(cohort_->summary.deaths, deaths);
  EXPECT_NEAR(static_cast<double>(males) / kPatients, 0.5, 0.02);
  EXPECT_LT(min_age, 19.0);
  EXPECT_GT(max_age, 93.0);
  EXPECT_GT(deaths, kPatients / 10);
  EXPECT_GT(in_hospital_deaths, deaths / 4);
  EXPECT_LT(in_hospital_deaths, deaths * 3 / 4);
  EXPECT_GT(admissions, kPatients / 2);
}

TEST_F(SynthCohort, LabsFollowDiseaseState) {
  const auto [hba1c_without, hba1c_with] = lab_means("LAB//HBA1C", "ICD10//E11");
  EXPECT_NEAR(hba1c_without, 5.5, 0.3);
  EXPECT_GT(hba1c_with - hba1c_without, 1.2);
  const auto [creatinine_without, creatinine_with] = lab_means("LAB//CREATININE", "ICD10//N18");
  EXPECT_GT(creatinine_with / creatinine_without, 1.5);
  const auto [bnp_without, bnp_with] = lab_means("LAB//BNP", "ICD10//I50");
  EXPECT_GT(bnp_with / bnp_without, 4.0);
  const auto [sbp_without, sbp_with] = lab_means("LAB//SBP", "ICD10//I10");
  EXPECT_GT(sbp_with - sbp_without, 8.0);
}

TEST_F(SynthCohort, MetforminOnlyAfterDiabetesDiagnosis) {
  int64_t diabetic = 0, treated = 0;
  for (const Subject& s : cohort_->subjects) {
    bool seen_t2d = false, metformin = false;
    for (const Event& e : s.events) {
      seen_t2d = seen_t2d || e.code == "ICD10//E11";
      if (e.code == "RX//METFORMIN") {
        ASSERT_TRUE(seen_t2d) << "metformin before any type 2 diabetes code";
        metformin = true;
      }
    }
    diabetic += seen_t2d;
    treated += metformin;
  }
  EXPECT_GT(diabetic, kPatients / 20);
  EXPECT_GT(treated, diabetic / 2);
}

TEST_F(SynthCohort, DiabetesIncidenceRisesWithAge) {
  // Incident (not prevalent at the first visit) diagnoses per person-year, by age band.
  const double bands[] = {30, 45, 60, 75, 90};
  double person_years[4] = {}, cases[4] = {};
  const double year = kDaysPerYear * kDay;
  for (const Subject& s : cohort_->subjects) {
    if (s.events.empty()) continue;
    const int64_t start = s.events.front().time;
    if (s.first_t2d <= start) continue;
    const int64_t stop = std::min({s.death, kFollowUpEnd, s.first_t2d});
    const double a0 = (start - s.birth) / year, a1 = (stop - s.birth) / year;
    for (int b = 0; b < 4; ++b) {
      person_years[b] += std::max(0.0, std::min(a1, bands[b + 1]) - std::max(a0, bands[b]));
      if (s.first_t2d == stop && a1 >= bands[b] && a1 < bands[b + 1]) cases[b] += 1;
    }
  }
  double previous = 0;
  for (int b = 0; b < 4; ++b) {
    const double rate = cases[b] / person_years[b];
    EXPECT_GT(cases[b], 100) << "band " << bands[b];
    EXPECT_GT(rate, previous * 1.1) << "band " << bands[b];
    previous = rate;
  }
}

TEST_F(SynthCohort, TruthIsCalibratedAgainstTheDrawnOutcomes) {
  EXPECT_EQ(cohort_->truth_header, "subject_id,prediction_time,outcome,horizon_days,probability");
  EXPECT_EQ(cohort_->summary.truth_rows, static_cast<int64_t>(cohort_->truth.size()));
  struct Tally {
    double predicted = 0, observed = 0, variance = 0;
    int64_t n = 0;
  };
  std::map<std::string, Tally> tallies;
  for (const TruthRow& row : cohort_->truth) {
    ASSERT_GT(row.probability, 0.0);
    ASSERT_LT(row.probability, 1.0);
    const Subject& s = cohort_->subjects[row.subject];
    const int64_t horizon_end = row.prediction + 365 * kDay;
    ASSERT_LT(row.prediction, s.death);
    ASSERT_LT(horizon_end, kFollowUpEnd);
    // The visit's own rows come one minute after the prediction time; none at or before it.
    const auto visit = std::find_if(s.events.begin(), s.events.end(),
                                    [&](const Event& e) { return e.time > row.prediction; });
    ASSERT_NE(visit, s.events.end());
    EXPECT_EQ(visit->time, row.prediction + 60);
    EXPECT_EQ(visit->code, "ENCOUNTER//OUTPATIENT");
    int64_t event_time = kNone;
    if (row.outcome == "death_365d") {
      event_time = s.death;
    } else if (row.outcome == "new_t2d_365d") {
      ASSERT_GT(s.first_t2d, row.prediction) << "new_t2d row for a patient who already has T2D";
      event_time = s.first_t2d;
    } else {
      ASSERT_EQ(row.outcome, "new_hf_365d");
      ASSERT_GT(s.first_hf, row.prediction);
      event_time = s.first_hf;
    }
    Tally& t = tallies[row.outcome];
    t.predicted += row.probability;
    t.observed += event_time <= horizon_end ? 1.0 : 0.0;
    t.variance += row.probability * (1.0 - row.probability);
    t.n += 1;
  }
  ASSERT_EQ(tallies.size(), 3u);
  for (const auto& [outcome, t] : tallies) {
    // Given the state at each visit the outcomes are independent Bernoulli draws (a martingale
    // across a patient's visits), so the sum's standard error is sqrt(sum p(1-p)).
    const double se = std::sqrt(t.variance);
    EXPECT_GT(t.observed, 100) << outcome;
    EXPECT_LT(std::abs(t.observed - t.predicted), 4.0 * se)
        << outcome << ": observed " << t.observed << " predicted " << t.predicted << " over " << t.n
        << " rows";
  }
}

// ---- Background codes (`clinfm synth --codes N`) ----

bool is_background(std::string_view code) {
  return code.rfind("ICD10CM//", 0) == 0 || code.rfind("ICD10PCS//", 0) == 0 || code.rfind("ATC//", 0) == 0;
}

bool is_root(std::string_view code) { return code == "ICD10CM" || code == "ICD10PCS" || code == "ATC"; }

// The cohort's CSV without its background rows.
std::string without_background(const std::string& text) {
  std::string kept;
  for (size_t start = 0, end; start < text.size(); start = end + 1) {
    end = text.find('\n', start);
    const std::string_view line = std::string_view(text).substr(start, end - start);
    const size_t code_start = line.find(',', line.find(',') + 1) + 1;
    if (!is_background(line.substr(code_start))) kept.append(line).append("\n");
  }
  return kept;
}

// Ancestors by prep's rule, nearest first, ending with the root.
std::vector<std::string> ancestors_of(const std::string& code) {
  std::vector<std::string> chain;
  for (auto parent = parent_code(code); parent; parent = parent_code(*parent)) chain.push_back(*parent);
  return chain;
}

// The category of a background code: the ancestor just below its root.
std::string category_of(const std::string& code) {
  const std::vector<std::string> chain = ancestors_of(code);
  return chain.size() >= 2 ? chain[chain.size() - 2] : std::string();
}

// Pinned bytes of the default cohort as it was before background codes existed: the default
// must never change. If a deliberate change to the clinical model moves them, update the pin
// in the same change and say so. (The bytes depend on libm's log, exp and pow; glibc's are
// the reference.)
TEST(SynthDeterminism, DefaultCohortKeepsItsPinnedBytes) {
  TempDir dir;
  SynthOptions o;
  o.patients = 2500;
  o.seed = 3;
  o.threads = 2;
  o.out = dir / "pin.csv";
  const SynthSummary summary = write_synthetic_cohort(o);
  EXPECT_EQ(summary.background_events, 0);
  const std::string cohort = read_file(o.out), truth = read_file(summary.truth_path);
  auto crc = [](const std::string& bytes) {
    return crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size()));
  };
  EXPECT_EQ(cohort.size(), 9942958u);
  EXPECT_EQ(crc(cohort), 0xcee38c57u);
  EXPECT_EQ(truth.size(), 1189824u);
  EXPECT_EQ(crc(truth), 0xe484bd6du);
}

TEST(SynthDeterminism, BackgroundCodesAreSeededAndLeaveTheClinicalRowsAlone) {
  TempDir dir;
  auto run = [&](const std::string& name, uint64_t seed, int threads, int64_t codes) {
    SynthOptions o;
    o.patients = 2500;  // three blocks, the last one partial
    o.seed = seed;
    o.threads = threads;
    o.codes = codes;
    o.out = dir / name;
    const SynthSummary summary = write_synthetic_cohort(o);
    return std::make_tuple(read_file(o.out), read_file(summary.truth_path), summary);
  };
  const auto [clinical, clinical_truth, clinical_summary] = run("clinical.csv", 3, 2, 0);
  const auto [one, one_truth, one_summary] = run("one.csv", 3, 1, 5000);
  const auto [three, three_truth, three_summary] = run("three.csv", 3, 3, 5000);
  const auto [other, other_truth, other_summary] = run("other.csv", 4, 2, 5000);
  EXPECT_EQ(one, three);
  EXPECT_NE(one, other);
  // With the background rows taken out, the same bytes as without them; the same truth.
  EXPECT_EQ(without_background(one), clinical);
  EXPECT_EQ(one_truth, clinical_truth);
  EXPECT_EQ(one_summary.events - one_summary.background_events, clinical_summary.events);
  EXPECT_EQ(one_summary.truth_rows, clinical_summary.truth_rows);
  EXPECT_GT(one_summary.background_events, 30 * 2500);
}

TEST(SynthOptions, BackgroundCodeCountOutsideItsRangeIsAnInputErrorSayingWhy) {
  TempDir dir;
  auto message_of = [&](int64_t codes) -> std::string {
    SynthOptions o;
    o.patients = 10;
    o.codes = codes;
    o.out = dir / "c.csv";
    try {
      write_synthetic_cohort(o);
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  };
  for (const int64_t codes : {int64_t{-1}, synth::kMaxBackgroundCodes + 1}) {
    const std::string message = message_of(codes);
    EXPECT_NE(message.find("--codes"), std::string::npos) << message;
    EXPECT_NE(message.find("between 0 and 476666"), std::string::npos) << message;
    EXPECT_NE(message.find("diagnosis names"), std::string::npos) << message;  // where the limit comes from
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
  EXPECT_EQ(message_of(synth::kMaxBackgroundCodes), "no error");
}

TEST(SynthBackgroundNames, FormAnIcdLikeHierarchyWithinTheNameSpace) {
  for (const int64_t codes :
       {int64_t{1}, int64_t{7}, int64_t{3000}, int64_t{20000}, synth::kMaxBackgroundCodes}) {
    std::unordered_set<std::string> names;
    std::map<std::string, int64_t> first_rank_of_category;
    int64_t diagnoses = 0, procedures = 0, medications = 0;
    for (int64_t rank = 0; rank < codes; ++rank) names.insert(synth::background_code_name(rank, codes));
    ASSERT_EQ(static_cast<int64_t>(names.size()), codes) << "names are not unique for N = " << codes;
    for (int64_t rank = 0; rank < codes; ++rank) {
      const std::string name = synth::background_code_name(rank, codes);
      const std::vector<std::string> chain = ancestors_of(name);
      ASSERT_GE(chain.size(), 2u) << name;
      ASSERT_TRUE(is_root(chain.back())) << name;
      const std::string category = category_of(name);
      first_rank_of_category.emplace(category, rank);
      if (chain.back() == "ICD10CM") {
        ++diagnoses;
        // ICD10CM//A00: a chapter letter and two digits; A00.37's parent A00.3 is a code too.
        ASSERT_EQ(category.size(), 12u) << name;
        ASSERT_TRUE(std::isupper(category[9]) && std::isdigit(category[10]) && std::isdigit(category[11]))
            << name;
        for (size_t i = 0; i + 2 < chain.size(); ++i)
          ASSERT_EQ(names.count(chain[i]), 1u) << name << " " << chain[i];
      } else if (chain.back() == "ICD10PCS") {
        ++procedures;
        ASSERT_EQ(name.size(), 17u) << name;      // ICD10PCS// + 7 characters
        ASSERT_EQ(category.size(), 13u) << name;  // ICD10PCS// + 3 characters
      } else {
        ++medications;
        ASSERT_EQ(chain.size(), 2u) << name;  // ATC//N02B//N02BE01 -> ATC//N02B -> ATC
        ASSERT_EQ(name.substr(category.size() + 2, 4), category.substr(5)) << name;
      }
    }
    EXPECT_EQ(diagnoses, 3 * (codes / 5) + std::min<int64_t>(codes % 5, 3)) << codes;
    EXPECT_EQ(procedures + medications, codes - diagnoses) << codes;
    // Every category's most common code is in the top quarter of the ranks (plus one turn of
    // five): a rare code's category is frequent whenever the common codes are.
    for (const auto& [category, rank] : first_rank_of_category)
      EXPECT_LT(rank, codes / 4 + 5) << category << " for N = " << codes;
  }
}

// One cohort with background codes and its prepared data set (default k of 10), shared by the
// tests that read them.
class SynthBackground : public ::testing::Test {
 protected:
  static constexpr int64_t kPatients = 3000;
  static constexpr int64_t kCodes = 3000;

  static void SetUpTestSuite() {
    dir_ =
        new fs::path(fs::temp_directory_path() / ("clinfm-synth-background-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    SynthOptions options;
    options.patients = kPatients;
    options.seed = 7;
    options.threads = 2;
    options.codes = kCodes;
    options.out = (*dir_ / "cohort.csv").string();
    summary_ = new SynthSummary(write_synthetic_cohort(options));
    events_ = new std::map<std::string, int64_t>;
    patients_ = new std::map<std::string, int64_t>;
    std::set<std::pair<int64_t, std::string>> seen;
    for_each_row(read_file(options.out), [&](const std::vector<std::string_view>& f) {
      const std::string code(f[2]);
      if (!is_background(code)) return;
      (*events_)[code] += 1;
      if (seen.emplace(std::stoll(std::string(f[0])), code).second) (*patients_)[code] += 1;
    });
    PrepOptions prep = testing::meds_prep(options.out, (*dir_ / "ds").string(), (*dir_ / "salt").string());
    prep.data.min_patients_per_code = DataConfig{}.min_patients_per_code;
    prep.data.split_tuning = DataConfig{}.split_tuning;
    prep.data.split_held_out = DataConfig{}.split_held_out;
    run_prep(prep);
    const std::string vocab_path = (*dir_ / "ds/vocab.json").string();
    vocab_ = new Vocabulary(Vocabulary::from_json(nlohmann::json::parse(read_file(vocab_path)), vocab_path));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete summary_;
    delete events_;
    delete patients_;
    delete vocab_;
  }

  inline static fs::path* dir_ = nullptr;
  inline static SynthSummary* summary_ = nullptr;
  inline static std::map<std::string, int64_t>* events_ = nullptr;    // background code -> rows
  inline static std::map<std::string, int64_t>* patients_ = nullptr;  // background code -> patients
  inline static Vocabulary* vocab_ = nullptr;
};

TEST_F(SynthBackground, FrequenciesFollowALongTail) {
  const double per_patient = static_cast<double>(summary_->background_events) / kPatients;
  EXPECT_GT(per_patient, 35);
  EXPECT_LT(per_patient, 65);
  std::vector<int64_t> by_rank(kCodes, 0);
  for (int64_t rank = 0; rank < kCodes; ++rank) {
    const auto it = events_->find(synth::background_code_name(rank, kCodes));
    by_rank[static_cast<size_t>(rank)] = it == events_->end() ? 0 : it->second;
  }
  std::vector<int64_t> sorted = by_rank;
  std::sort(sorted.begin(), sorted.end());
  const int64_t median = sorted[sorted.size() / 2];
  // Zipf with s = 1, k = 20: top / median = (1500 + 20) / 21 = 72 in expectation.
  EXPECT_EQ(by_rank[0], sorted.back());
  EXPECT_GT(by_rank[0], 40 * median) << "top " << by_rank[0] << " median " << median;
  EXPECT_GT(patients_->at(synth::background_code_name(0, kCodes)), kPatients / 5);  // a very common code
  EXPECT_GE(median, 5);
  // Frequency falls with rank: ten ranks at the head, the middle and the tail.
  auto events_of_ranks = [&](int64_t from) {
    int64_t total = 0;
    for (int64_t rank = from; rank < from + 10; ++rank) total += by_rank[static_cast<size_t>(rank)];
    return total;
  };
  EXPECT_GT(events_of_ranks(0), 5 * events_of_ranks(300));
  EXPECT_GT(events_of_ranks(300), 3 * events_of_ranks(kCodes - 10));
}

TEST_F(SynthBackground, SuppressedCodesFallBackToTheirCategoryAfterPrep) {
  int64_t kept = 0, suppressed = 0;
  std::set<std::string> parent_tokens;
  for (const auto& [code, events] : *events_) {
    const int32_t token = vocab_->map_code(code);
    ASSERT_NE(token, kUnkToken) << code;
    const std::string& token_code = vocab_->token(token).code;
    if (token_code == code) {
      ++kept;
      continue;
    }
    ++suppressed;
    const std::vector<std::string> chain = ancestors_of(code);
    ASSERT_NE(std::find(chain.begin(), chain.end(), token_code), chain.end())
        << code << " maps to " << token_code << ", not an ancestor";
    ASSERT_FALSE(is_root(token_code)) << code << " fell back past its category " << category_of(code);
    if (vocab_->token(token).origin == "parent") parent_tokens.insert(token_code);
  }
  EXPECT_EQ(static_cast<int64_t>(events_->size()), kCodes);  // every code was drawn at least once
  EXPECT_GT(suppressed, kCodes / 20);                        // the tail is there to suppress
  EXPECT_GT(kept, kCodes / 2);
  EXPECT_GT(parent_tokens.size(), 100u);
  EXPECT_GT(vocab_->size(), kCodes * 8 / 10);
}

}  // namespace
}  // namespace clinfm
