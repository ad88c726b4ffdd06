// Suite YAML: a valid suite parses to the documented defaults; every bad input (unknown key,
// wrong type, out of range, missing key, unknown code prefix, missing file) is an InputError
// naming the file, line and key. The suites shipped in configs/eval/ parse.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "eval/suite.h"

namespace clinfm {
namespace {

const char* kValid = R"(name: demo
tasks:
  - name: mortality_30d
    predict_at: {codes: HOSPITAL_ADMISSION, offset_hours: 24}
    label: {kind: event_within, codes: [MEDS_DEATH], horizon_days: 30}
  - name: long_stay
    predict_at: {codes: [HOSPITAL_ADMISSION], offset_hours: 24}
    label: {kind: stay_longer_than, codes: HOSPITAL_DISCHARGE, horizon_days: 7, death: exclude}
    per_patient: first
)";

std::string error_of(const std::string& yaml) {
  try {
    parse_suite(yaml, "suite.yaml");
  } catch (const InputError& e) {
    return e.what() + std::string("\nhint: ") + e.hint();
  }
  return "no error";
}

TEST(Suite, ValidSuiteParses) {
  const SuiteSpec s = parse_suite(kValid, "suite.yaml");
  EXPECT_EQ(s.name, "demo");
  ASSERT_EQ(s.tasks.size(), 2u);
  EXPECT_EQ(s.tasks[0].predict_at.prefixes, std::vector<std::string>{"HOSPITAL_ADMISSION"});
  EXPECT_DOUBLE_EQ(s.tasks[0].offset_hours, 24);
  EXPECT_EQ(s.tasks[0].kind, LabelKind::kEventWithin);
  EXPECT_EQ(s.tasks[0].death, DeathHandling::kNegative);
  EXPECT_EQ(s.tasks[1].kind, LabelKind::kStayLongerThan);
  EXPECT_EQ(s.tasks[1].death, DeathHandling::kExclude);
  EXPECT_EQ(s.tasks[1].per_patient, PerPatient::kFirst);
  EXPECT_EQ(s.death_codes.prefixes, std::vector<std::string>{"MEDS_DEATH"});
  EXPECT_EQ(s.context_events, 256);
}

TEST(Suite, UnknownKeyNamesLineKeyAndSuggestion) {
  std::string yaml = kValid;
  yaml.replace(yaml.find("horizon_days: 30"), 16, "horizon_dayz: 30");
  const std::string e = error_of(yaml);
  EXPECT_NE(e.find("suite.yaml:5:"), std::string::npos) << e;
  EXPECT_NE(e.find("tasks[0].label.horizon_dayz: unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'horizon_days'"), std::string::npos) << e;
  EXPECT_NE(e.find("tasks[0].label.horizon_days: required key is missing"), std::string::npos) << e;
}

TEST(Suite, WrongTypeAndRangeAreErrors) {
  std::string yaml = kValid;
  yaml.replace(yaml.find("offset_hours: 24"), 16, "offset_hours: soon");
  EXPECT_NE(error_of(yaml).find("suite.yaml:4:"), std::string::npos);
  EXPECT_NE(error_of(yaml).find("tasks[0].predict_at.offset_hours: expected a number, got 'soon'"),
            std::string::npos)
      << error_of(yaml);
  yaml = kValid;
  yaml.replace(yaml.find("horizon_days: 7"), 15, "horizon_days: -7");
  EXPECT_NE(error_of(yaml).find("tasks[1].label.horizon_days: -7 is out of range"), std::string::npos)
      << error_of(yaml);
  yaml = kValid;
  yaml.replace(yaml.find("kind: event_within"), 18, "kind: event_whithin");
  EXPECT_NE(error_of(yaml).find("did you mean 'event_within'"), std::string::npos) << error_of(yaml);
  EXPECT_NE(error_of("name: x\ncontext_events: many\ntasks: []\n").find("suite.yaml:2:"), std::string::npos);
}

TEST(Suite, MissingPiecesAreErrors) {
  EXPECT_NE(error_of("name: x\n").find("tasks: required key is missing"), std::string::npos);
  EXPECT_NE(error_of("tasks: [{name: a}]\n").find("name: required key is missing"), std::string::npos);
  EXPECT_NE(error_of("name: x\ntasks: [{name: a}]\n").find("tasks[0].predict_at: required key is missing"),
            std::string::npos);
  EXPECT_NE(error_of("name: [x\n").find("not valid YAML"), std::string::npos);
  std::string twice = kValid;
  twice.replace(twice.find("long_stay"), 9, "mortality_30d");
  EXPECT_NE(error_of(twice).find("used twice"), std::string::npos);
}

TEST(Suite, MedsLabelFileTaskNeedsNoRulesAndRefusesThem) {
  const SuiteSpec s =
      parse_suite("name: m\ntasks:\n  - name: mortality\n    labels: labels/mortality\n", "suite.yaml");
  ASSERT_EQ(s.tasks.size(), 1u);
  EXPECT_EQ(s.tasks[0].labels, "labels/mortality");
  EXPECT_EQ(s.tasks[0].labels_key, "tasks[0].labels");
  EXPECT_EQ(s.tasks[0].labels_line, 4);
  const std::string both = error_of(
      "name: m\ntasks:\n  - name: mortality\n    labels: x.parquet\n    label: {kind: event_within, codes: "
      "MEDS_DEATH, horizon_days: 30}\n");
  EXPECT_NE(both.find("suite.yaml:5"), std::string::npos) << both;
  EXPECT_NE(both.find("tasks[0].label: not allowed beside labels"), std::string::npos) << both;
}

TEST(Suite, MissingFileIsAnInputError) {
  try {
    load_suite("/nonexistent/suite.yaml");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/suite.yaml"), std::string::npos);
  }
}

TEST(Suite, UnknownCodePrefixNamesFileLineAndKey) {
  CodeStats stats;
  for (int i = 0; i < 3; ++i)
    stats.add_patient({"MEDS_DEATH", "HOSPITAL_ADMISSION//EMERGENCY", "HOSPITAL_DISCHARGE//HOME"});
  const Vocabulary vocab = Vocabulary::build(
      stats, {"MEDS_DEATH", "HOSPITAL_ADMISSION//EMERGENCY", "HOSPITAL_DISCHARGE//HOME"}, 1, 4);
  SuiteSpec s = parse_suite(kValid, "suite.yaml");
  const std::vector<char> admit = resolve_codes(s.tasks[0].predict_at, vocab, s.file);
  EXPECT_EQ(admit[size_t(vocab.find("HOSPITAL_ADMISSION//EMERGENCY"))], 1);
  EXPECT_EQ(admit[size_t(vocab.find("MEDS_DEATH"))], 0);
  s.tasks[1].label_codes.prefixes = {"HOSPITAL_DISCHARG", "ICD9_ONLY"};  // one alternative absent: a warning
  EXPECT_EQ(
      resolve_codes(s.tasks[1].label_codes, vocab, s.file)[size_t(vocab.find("HOSPITAL_DISCHARGE//HOME"))],
      1);
  s.tasks[1].label_codes.prefixes = {"HOSPTAL_DISCHARGE//HOME"};
  try {
    resolve_codes(s.tasks[1].label_codes, vocab, s.file);
    FAIL();
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("suite.yaml:8:"), std::string::npos) << what;
    EXPECT_NE(what.find("tasks[1].label.codes"), std::string::npos) << what;
    EXPECT_NE(what.find("'HOSPTAL_DISCHARGE//HOME' matches no code"), std::string::npos) << what;
    EXPECT_NE(e.hint().find("did you mean 'HOSPITAL_DISCHARGE//HOME'"), std::string::npos) << e.hint();
  }
}

TEST(Suite, ShippedSuitesParse) {
  int found = 0;
  for (const auto& entry : std::filesystem::directory_iterator(CLINFM_SOURCE_DIR "/configs/eval")) {
    if (entry.path().extension() != ".yaml") continue;
    const SuiteSpec s = load_suite(entry.path().string());
    EXPECT_TRUE(!s.tasks.empty() || s.privacy.enabled || s.delphi.enabled)
        << entry.path();  // privacy.yaml: an audit alone
    ++found;
  }
  EXPECT_GE(found, 3);
}

}  // namespace
}  // namespace clinfm
