// prep end to end on small handmade MEDS exports: splits, pseudonyms, suppression, value bins,
// top-coding, atomic output and every bad-input path; and on the real MIMIC-IV MEDS and Delphi
// data in ../shared/data when present.
// Over 400 lines: one test per bad-input path of prep, each with its own handmade export.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "common/fs.h"
#include "data/csv_reader.h"
#include "data/dataset.h"
#include "data/deid.h"
#include "data/inspect.h"
#include "prep_fixture.h"

namespace clinfm {
namespace {

// Patients over all splits. A split may hold nobody in a small export (11 patients, 10% tuning:
// ~31% of salts give an empty tuning split), and then has no entry in the summary.
int64_t total_patients(const PrepSummary& s) {
  int64_t total = 0;
  for (const auto& [split, patients] : s.patients) total += patients;
  return total;
}

namespace fs = std::filesystem;
using testing::all_bytes_under;
using testing::meds_prep;
using testing::TempDir;
using testing::write_text;

// 40 patients "P100".."P139": birth, sex, a common lab whose value depends on the patient
// number, a common diagnosis, and a few special cases.
std::string small_meds() {
  std::string csv = "subject_id,time,code,numeric_value,text_value\n";
  for (int i = 0; i < 40; ++i) {
    const std::string id = fmt::format("P{}", 100 + i);
    csv += fmt::format("{},1950-01-01 00:00:00,MEDS_BIRTH,,\n", id);
    csv += fmt::format("{},,GENDER//{},,\n", id, i % 2 ? "M" : "F");
    csv += fmt::format("{},2000-03-01 10:00:00,LAB//GLUCOSE//mg/dL,{},\n", id, 80 + i);
    csv += fmt::format("{},2001-05-01 08:00:00,ICD10CM//E119,,\n", id);
    csv += fmt::format("{},2001-05-02 08:00:00,NOTE,,patient John Doe says hello\n", id);
  }
  csv += "P100,2002-01-01 00:00:00,ICD10CM//I2510,,\n";         // rare: suppressed to a parent
  csv += "P101,2002-01-01 00:00:00,RARE//ONLY_ONE,,\n";         // rare with rare parent -> <unk>
  csv += "P102,1949-12-31 00:00:00,ICD10CM//E119,,\n";          // before birth -> moved to birth
  csv += "P103,2045-06-01 00:00:00,LAB//GLUCOSE//mg/dL,95,\n";  // age 95 -> top-coded
  csv += "NOBIRTH,2001-01-01 00:00:00,ICD10CM//E119,,\n";       // no birth: dropped
  // A second code with the same parent as I2510 so that the parent is frequent enough.
  csv += "P104,2002-01-01 00:00:00,ICD10CM//I251,,\nP105,2002-01-01 00:00:00,ICD10CM//I259,,\n";
  return csv;
}

struct Prepared {
  TempDir dir;
  std::string output;
  PrepSummary summary;
};

std::map<uint64_t, std::string> keys_by_split(const std::string& dataset_dir) {
  std::map<uint64_t, std::string> out;
  const Dataset dataset(dataset_dir);
  for (const auto& entry : dataset.shards()) {
    const ShardReader shard = dataset.open_shard(entry);
    for (int64_t i = 0; i < shard.patients(); ++i) {
      EXPECT_TRUE(out.emplace(shard.key(i), entry.split).second) << "a patient in two shards";
    }
  }
  return out;
}

// Every split's patients in shard order, with their whole timelines.
std::map<std::string, std::vector<std::string>> timelines_in_order(const std::string& dataset_dir) {
  std::map<std::string, std::vector<std::string>> out;
  const Dataset dataset(dataset_dir);
  for (const auto& entry : dataset.shards()) {
    const ShardReader shard = dataset.open_shard(entry);
    for (int64_t i = 0; i < shard.patients(); ++i) {
      const PatientTimeline t = shard.read(i);
      std::string text = fmt::format("{:016x} {}:", t.key, static_cast<int>(t.sex));
      for (size_t e = 0; e < t.size(); ++e)
        text += fmt::format(" {}@{}={}/{}", t.tokens[e], t.age_days[e], t.values[e], int(t.value_bins[e]));
      out[entry.split].push_back(std::move(text));
    }
  }
  return out;
}

TEST(Prep, SmallMedsExportEndToEnd) {
  TempDir dir;
  write_text(dir / "events.csv", small_meds());
  const PrepOptions o = meds_prep(dir / "events.csv", dir / "ds", dir / "salt");
  const PrepSummary s = run_prep(o);
  const Dataset dataset(dir / "ds");
  dataset.verify_shards();
  EXPECT_EQ(total_patients(s), 40);
  EXPECT_EQ(keys_by_split(dir / "ds").size(), 40u);

  // The salt file was created with mode 0600, outside the data set.
  struct stat st {};
  ASSERT_EQ(::stat((dir / "salt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Every input row is accounted for: 40*5 + 7 rows; the NOBIRTH row is dropped.
  const auto audit = nlohmann::json::parse(read_file(dir / "ds/audit.json"));
  EXPECT_EQ(audit["tables"]["events"]["rows"], 207);
  EXPECT_EQ(audit["counters"]["patients without a birth record (dropped)"], 1);
  EXPECT_EQ(audit["counters"]["events written"], 206);
  EXPECT_EQ(audit["counters"]["events before birth (moved to birth)"], 1);
  EXPECT_EQ(audit["counters"]["events at ages above 89 years (top-coded)"], 1);

  // Raw ids, free text and dates never reach the output.
  const std::string bytes = all_bytes_under(dir / "ds");
  for (int i = 0; i < 40; ++i) EXPECT_EQ(bytes.find(fmt::format("P{}", 100 + i)), std::string::npos);
  EXPECT_EQ(bytes.find("NOBIRTH"), std::string::npos);
  EXPECT_EQ(bytes.find("John Doe"), std::string::npos);
  EXPECT_EQ(bytes.find("1950-01-01"), std::string::npos);
  EXPECT_EQ(bytes.find("2001-05-01"), std::string::npos);
  // No temporary folder is left beside the output.
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST(Prep, SuppressionTopCodingAndAges) {
  TempDir dir;
  write_text(dir / "events.csv", small_meds());
  PrepOptions o = meds_prep(dir / "events.csv", dir / "ds", dir / "salt");
  o.data.split_tuning = 0.0;  // everyone in train: counts are exact
  o.data.split_held_out = 0.0;
  run_prep(o);
  const Dataset dataset(dir / "ds");
  const Vocabulary& v = dataset.vocab();
  EXPECT_EQ(v.find("ICD10CM//I2510"), -1) << "a code of one patient must not get a token";
  // I2510 (1 patient) -> I251 (P100 and P104: 2 patients >= k) ; I259 (1) -> I25 (3 patients, never
  // seen itself: a parent-only token).
  EXPECT_EQ(v.map_code("ICD10CM//I2510"), v.find("ICD10CM//I251"));
  EXPECT_EQ(v.token(v.find("ICD10CM//I251")).origin, "code");
  EXPECT_EQ(v.find("ICD10CM//I259"), -1);
  EXPECT_EQ(v.map_code("ICD10CM//I259"), v.find("ICD10CM//I25"));
  EXPECT_EQ(v.token(v.find("ICD10CM//I25")).origin, "parent");
  EXPECT_EQ(v.token(v.find("ICD10CM//I25")).train_patients, 3);
  EXPECT_EQ(v.map_code("RARE//ONLY_ONE"), kUnkToken);
  EXPECT_GE(v.find("ICD10CM//E119"), 2);
  EXPECT_EQ(v.token(v.find("ICD10CM//E119")).train_patients, 40);

  const Salt salt = load_or_create_salt(dir / "salt", "");
  const ShardReader shard = dataset.open_shard(dataset.shards_of("train").at(0));
  std::map<uint64_t, int64_t> index;
  for (int64_t i = 0; i < shard.patients(); ++i) index[shard.key(i)] = i;
  // P103: birth, sex, lab at 50.2 y, diagnosis, note, and the lab at 95 y top-coded to 90 y.
  const PatientTimeline p103 = shard.read(index.at(subject_key(salt, "P103")));
  ASSERT_EQ(p103.size(), 6u);
  EXPECT_EQ(p103.sex, Sex::kMale);
  EXPECT_EQ(v.token(p103.tokens[0]).code, "MEDS_BIRTH");
  EXPECT_EQ(p103.age_days[0], 0.0);
  EXPECT_EQ(v.token(p103.tokens[1]).code, "GENDER//M");
  EXPECT_NEAR(p103.age_days[2], 18322.4166, 1e-3);  // 1950-01-01 -> 2000-03-01 10:00
  EXPECT_FLOAT_EQ(p103.values[2], 83.0f);
  EXPECT_DOUBLE_EQ(p103.age_days.back(), 90.0 * 365.25);
  for (size_t e = 1; e < p103.size(); ++e) EXPECT_LE(p103.age_days[e - 1], p103.age_days[e]);
  // P102's diagnosis before birth moved to birth.
  const PatientTimeline p102 = shard.read(index.at(subject_key(salt, "P102")));
  EXPECT_EQ(std::count(p102.age_days.begin(), p102.age_days.end(), 0.0), 3);  // birth, sex, moved event
  EXPECT_EQ(p102.sex, Sex::kFemale);
}

TEST(Prep, ValueBinsAreFittedOnTrainingPatientsOnly) {
  TempDir dir;
  write_text(dir / "events.csv", small_meds());
  PrepOptions o = meds_prep(dir / "events.csv", dir / "ds", dir / "salt");
  o.data.value_bins = 4;
  run_prep(o);
  const Dataset dataset(dir / "ds");
  const Salt salt = load_or_create_salt(dir / "salt", "");
  std::vector<float> train_values;
  for (int i = 0; i < 40; ++i) {
    if (assign_split(subject_key(salt, fmt::format("P{}", 100 + i)), 0.2, 0.2) == Split::kTrain)
      train_values.push_back(80.0f + i);
  }
  std::sort(train_values.begin(), train_values.end());
  const Token& glucose = dataset.vocab().token(dataset.vocab().find("LAB//GLUCOSE//mg/dL"));
  ASSERT_EQ(glucose.value_edges.size(), 3u);
  // Edges are the train split's quartiles (P103's top-coded 95 is in train only if P103 is).
  for (size_t q = 1; q <= 3; ++q) {
    std::vector<float> with_extra = train_values;
    if (assign_split(subject_key(salt, "P103"), 0.2, 0.2) == Split::kTrain) with_extra.push_back(95.0f);
    std::sort(with_extra.begin(), with_extra.end());
    EXPECT_FLOAT_EQ(glucose.value_edges[q - 1], with_extra[q * with_extra.size() / 4]) << "edge " << q;
  }
  EXPECT_EQ(dataset.vocab().value_bin(dataset.vocab().find("LAB//GLUCOSE//mg/dL"), std::nanf("")), 0);
  EXPECT_EQ(dataset.vocab().value_bin(dataset.vocab().find("LAB//GLUCOSE//mg/dL"), 0.0f), 1);
  EXPECT_EQ(dataset.vocab().value_bin(dataset.vocab().find("LAB//GLUCOSE//mg/dL"), 1e9f), 4);
}

TEST(Prep, SplitsAndKeysAreStableAcrossRerunsAndShardCounts) {
  TempDir dir;
  write_text(dir / "events.csv", small_meds());
  PrepOptions o = meds_prep(dir / "events.csv", dir / "a", dir / "salt");
  run_prep(o);
  o.output = dir / "b";
  o.data.shard_patients = 3;  // many shards
  o.partitions = 7;
  const PrepSummary b = run_prep(o);
  int64_t expected_shards = 0;
  for (const auto& [split, n] : b.patients) expected_shards += (n + 2) / 3;  // 3 patients a shard
  EXPECT_EQ(b.shards, expected_shards);
  const Dataset b_dataset(dir / "b");
  for (const auto& entry : b_dataset.shards()) EXPECT_LE(entry.patients, 3);
  EXPECT_EQ(keys_by_split(dir / "a"), keys_by_split(dir / "b"));
  EXPECT_EQ(read_file(dir / "a/vocab.json"), read_file(dir / "b/vocab.json"));
  // The partitions are key ranges: 1, 7 or the automatic count (32 for a small input) give the
  // same patients in the same order, with the same timelines.
  o.output = dir / "one";
  o.data.shard_patients = 1000;
  o.partitions = 1;
  run_prep(o);
  o.output = dir / "seven";
  o.partitions = 7;
  run_prep(o);
  const auto in_order = timelines_in_order(dir / "a");
  ASSERT_EQ(in_order.at("train").size() + in_order.at("tuning").size() + in_order.at("held_out").size(), 40u);
  EXPECT_EQ(timelines_in_order(dir / "one"), in_order);
  EXPECT_EQ(timelines_in_order(dir / "seven"), in_order);
  for (const auto& [split, patients] : in_order)
    EXPECT_TRUE(std::is_sorted(patients.begin(), patients.end())) << split << ": not in key order";
  // Another salt: other keys.
  o.output = dir / "c";
  o.data.salt_file = dir / "other-salt";
  run_prep(o);
  const auto a = keys_by_split(dir / "a"), c = keys_by_split(dir / "c");
  for (const auto& [key, split] : a) EXPECT_EQ(c.count(key), 0u);
}

TEST(Prep, ExistingOutputIsRefusedUnlessOverwrite) {
  TempDir dir;
  write_text(dir / "events.csv", small_meds());
  PrepOptions o = meds_prep(dir / "events.csv", dir / "ds", dir / "salt");
  run_prep(o);
  const std::string manifest = read_file(dir / "ds/manifest.json");
  try {
    run_prep(o);
    FAIL() << "an existing output was overwritten";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos);
    EXPECT_NE(e.hint().find("--overwrite"), std::string::npos);
  }
  EXPECT_EQ(read_file(dir / "ds/manifest.json"), manifest);
  o.overwrite = true;
  o.data.value_bins = 3;
  run_prep(o);
  EXPECT_NE(read_file(dir / "ds/manifest.json"), manifest);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 3);  // csv, salt, ds
}

TEST(Prep, FailedPrepLeavesNoDataSetAndKeepsTheOldOne) {
  TempDir dir;
  write_text(dir / "events.csv", small_meds());
  PrepOptions o = meds_prep(dir / "events.csv", dir / "ds", dir / "salt");
  run_prep(o);
  const std::string manifest = read_file(dir / "ds/manifest.json");
  // A malformed row half-way through: error names file and line; the old data set is untouched.
  std::string bad = small_meds();
  bad.insert(bad.find("P120,"), "P120,2001-01-01 00:00:00,ONLY_THREE_COLUMNS\n");
  write_text(dir / "bad.csv", bad);
  o.input = dir / "bad.csv";
  o.overwrite = true;
  const int bad_line = 1 + int(std::count(bad.begin(), bad.begin() + bad.find("ONLY_THREE"), '\n'));
  try {
    run_prep(o);
    FAIL() << "a malformed row was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(fmt::format("bad.csv:{}: expected 5 columns", bad_line)),
              std::string::npos)
        << e.what();
    EXPECT_NE(e.hint().find("--on-bad-row=skip"), std::string::npos);
  }
  EXPECT_EQ(read_file(dir / "ds/manifest.json"), manifest);
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();

  o.output = dir / "fresh";
  o.overwrite = false;
  EXPECT_THROW(run_prep(o), InputError);
  EXPECT_FALSE(fs::exists(dir / "fresh"));

  // With skip: the row is counted in the audit.
  o.skip_bad_rows = true;
  run_prep(o);
  const auto audit = nlohmann::json::parse(read_file(dir / "fresh/audit.json"));
  EXPECT_EQ(audit["tables"]["events"]["dropped"]["malformed row (skipped with --on-bad-row=skip)"], 1);
}

// Issue #19: half of a .csv.gz passed as one malformed row, and with --on-bad-row=skip prep
// exited 0 with half of the patients. Now it is an error naming the file and "truncated".
TEST(Prep, TruncatedGzipInputIsAnErrorEvenWhenSkippingBadRows) {
  TempDir dir;
  const std::string text = small_meds();
  gzFile gz = gzopen((dir / "events.csv.gz").c_str(), "wb");
  gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
  gzclose(gz);
  const std::string bytes = read_file(dir / "events.csv.gz");
  write_text(dir / "events.csv.gz", bytes.substr(0, bytes.size() / 2));
  PrepOptions o = meds_prep(dir / "events.csv.gz", dir / "ds", dir / "salt");
  o.skip_bad_rows = true;
  try {
    run_prep(o);
    FAIL() << "a truncated .csv.gz was prepped";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "events.csv.gz: truncated"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "ds"));
}

TEST(Prep, BadTimesAndNumbersNameFileAndLine) {
  TempDir dir;
  const std::string header = "subject_id,time,code,numeric_value,text_value\n";
  write_text(dir / "time.csv", header + "A,1950-01-01,MEDS_BIRTH,,\nA,2001-13-45 00:00:00,X,,\n");
  PrepOptions o = meds_prep(dir / "time.csv", dir / "ds", dir / "salt");
  try {
    run_prep(o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("time.csv:3: unparsable time '2001-13-45 00:00:00'"),
              std::string::npos)
        << e.what();
  }
  write_text(dir / "number.csv", header + "A,1950-01-01,MEDS_BIRTH,,\nA,2001-01-01,LAB//X,12,5,\n");
  o.input = dir / "number.csv";
  EXPECT_THROW(run_prep(o), InputError);
  write_text(dir / "number.csv", header + "A,1950-01-01,MEDS_BIRTH,,\nA,2001-01-01,LAB//X,twelve,\n");
  try {
    run_prep(o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("number.csv:3: numeric_value 'twelve' is not a number"),
              std::string::npos)
        << e.what();
  }
  write_text(dir / "columns.csv", "subject_id,code,numeric_value\nA,X,1\n");
  o.input = dir / "columns.csv";
  try {
    run_prep(o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("required column 'time' is missing"), std::string::npos) << e.what();
  }
  write_text(dir / "extra.csv",
             "subject_id,time,code,numeric_value,patient_name\nA,1950-01-01,MEDS_BIRTH,,Jane\n");
  o.input = dir / "extra.csv";
  try {
    run_prep(o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("column 'patient_name' of table events is not declared"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "ds"));
}

TEST(Prep, SaltInsideTheOutputIsRefused) {
  TempDir dir;
  write_text(dir / "events.csv", small_meds());
  const PrepOptions o = meds_prep(dir / "events.csv", dir / "ds", dir / "ds/salt");
  try {
    run_prep(o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("lies inside the data set folder"), std::string::npos) << e.what();
  }
}

TEST(Prep, DamagedDataSetsAreClearErrors) {
  TempDir dir;
  write_text(dir / "events.csv", small_meds());
  run_prep(meds_prep(dir / "events.csv", dir / "ds", dir / "salt"));
  const Dataset good(dir / "ds");
  const std::string shard = dir / ("ds/" + good.shards().at(0).file);
  // A flipped byte in a shard: the manifest's SHA-256 catches it.
  std::string bytes = read_file(shard);
  bytes[bytes.size() / 2] ^= 0x5a;
  write_text(shard, bytes);
  try {
    good.verify_shards();
    FAIL() << "a damaged shard passed verification";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("1 of " + std::to_string(good.shards().size()) +
                                         " shard(s) checked are damaged"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(shard + ": SHA-256 differs from the manifest"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(good.check_shard(good.shards().at(1)), "");
  // `clinfm inspect` verifies every shard (it used to report nothing).
  try {
    inspect_dataset(dir / "ds");
    FAIL() << "inspect passed a damaged shard";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(shard), std::string::npos) << e.what();
  }
  // Only the splits asked for are checked.
  const std::string damaged_split = good.shards().at(0).split;
  for (const std::string split : {"train", "tuning", "held_out"}) {
    if (split == damaged_split) continue;
    EXPECT_NO_THROW(good.verify_shards({split}));
  }
  // A truncated shard: HDF5 cannot read it, and the error names the file.
  write_text(shard, bytes.substr(0, bytes.size() / 3));
  EXPECT_NE(good.check_shard(good.shards().at(0)).find("bytes, the manifest says"), std::string::npos);
  try {
    ShardReader reader(shard);
    reader.read(reader.patients() - 1);
    FAIL() << "a truncated shard was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("HDF5"), std::string::npos) << e.what();
  }
  // An edited vocabulary no longer matches the manifest.
  write_text(dir / "ds/vocab.json", read_file(dir / "ds/vocab.json") + " ");
  try {
    Dataset edited(dir / "ds");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.json: its SHA-256 does not match"), std::string::npos)
        << e.what();
  }
  write_text(dir / "ds/manifest.json", "{\"format\": \"clinfm-dataset\"");
  EXPECT_THROW(Dataset broken(dir / "ds"), InputError);
  EXPECT_THROW(Dataset none(dir / "nothing"), InputError);
}

TEST(Prep, InspectAndDecodeShowOnlyPseudonyms) {
  TempDir dir;
  write_text(dir / "events.csv", small_meds());
  run_prep(meds_prep(dir / "events.csv", dir / "ds", dir / "salt"));
  const auto summary = inspect_dataset(dir / "ds");
  EXPECT_EQ(summary["splits"]["train"]["patients"].get<int64_t>() +
                summary["splits"]["tuning"]["patients"].get<int64_t>() +
                summary["splits"]["held_out"]["patients"].get<int64_t>(),
            40);
  EXPECT_NE(format_inspection(summary).find("top codes"), std::string::npos);
  const Salt salt = load_or_create_salt(dir / "salt", "");
  const std::string key = subject_key_hex(subject_key(salt, "P110"));
  const std::string timeline = decode_patient(dir / "ds", key);
  EXPECT_NE(timeline.find("patient " + key), std::string::npos);
  EXPECT_NE(timeline.find("LAB//GLUCOSE//mg/dL"), std::string::npos);
  EXPECT_NE(timeline.find("90"), std::string::npos);  // P110's glucose value
  EXPECT_EQ(timeline.find("P110"), std::string::npos);
  EXPECT_THROW(decode_patient(dir / "ds", "0123456789abcdef"), InputError);
  EXPECT_THROW(decode_patient(dir / "ds", "P110"), InputError);
}

std::string shared_data(const std::string& relative) {
  return std::string(CLINFM_SHARED_DATA_DIR) + "/" + relative;
}

TEST(PrepRealData, MimicIvDemoMedsAccountsForEveryRow) {
  if (!fs::exists(shared_data("mimic-iv-demo-meds/events.csv.gz")))
    GTEST_SKIP() << "../shared/data not present";
  TempDir dir;
  PrepOptions o = meds_prep(shared_data("mimic-iv-demo-meds/events.csv.gz"), dir / "ds", dir / "salt");
  o.data.min_patients_per_code = 10;
  const PrepSummary s = run_prep(o);
  EXPECT_EQ(total_patients(s), 100);
  const auto audit = nlohmann::json::parse(read_file(dir / "ds/audit.json"));
  EXPECT_EQ(audit["tables"]["events"]["rows"], 916166);
  int64_t dropped = 0;
  for (const auto& [reason, n] : audit["tables"]["events"]["dropped"].items()) dropped += n.get<int64_t>();
  const auto& c = audit["counters"];
  EXPECT_EQ(c["events written"].get<int64_t>() + dropped +
                c["events of patients without a birth record (dropped)"].get<int64_t>() +
                c["extra birth records ignored (the earliest is kept)"].get<int64_t>(),
            916166);
  EXPECT_GT(c["events suppressed to a parent code (kept)"].get<int64_t>(), 0);
}

TEST(PrepRealData, DelphiFolderKeepsDelphisSplitAndEveryTriple) {
  const fs::path folder = shared_data("delphi-sim");
  if (!fs::exists(folder / "val.bin")) GTEST_SKIP() << "../shared/data not present";
  TempDir dir;
  PrepOptions o = meds_prep(folder.string(), dir / "ds", dir / "salt");
  o.format = "delphi";
  o.data.min_patients_per_code = 10;
  o.data.split_tuning = 0.05;
  const PrepSummary s = run_prep(o);
  const int64_t triples =
      static_cast<int64_t>((fs::file_size(folder / "train.bin") + fs::file_size(folder / "val.bin")) / 12);
  int64_t events = 0, patients = 0;
  for (const auto& [split, n] : s.events) events += n;
  for (const auto& [split, n] : s.patients) patients += n;
  const auto audit = nlohmann::json::parse(read_file(dir / "ds/audit.json"));
  const int64_t no_event =
      audit["counters"]["\"No event\" tokens inserted every 5 years of age (--no-event-years)"]
          .get<int64_t>();
  EXPECT_GT(no_event, 10000);
  // One birth per patient is added; suppressed events are kept (as a parent or <unk>), not dropped.
  EXPECT_EQ(events - patients - no_event, triples);
  EXPECT_EQ(
      audit["tables"]["train.bin"]["rows"].get<int64_t>() + audit["tables"]["val.bin"]["rows"].get<int64_t>(),
      triples);
  // val.bin is held out; train.bin is train and tuning (5% by key); patient 427985 is in both files.
  EXPECT_EQ(s.patients.at("held_out"), 7144);
  EXPECT_EQ(s.patients.at("train") + s.patients.at("tuning"), 7143);
  EXPECT_GT(s.patients.at("tuning"), 7143 * 0.035);
  EXPECT_LT(s.patients.at("tuning"), 7143 * 0.065);
  EXPECT_EQ(audit["counters"]["patients placed in the split the export fixed (not drawn from the key)"],
            patients);
  // Every patient has a sex: raw tokens 1 and 2 are Female and Male (Delphi's model tokens 2 and 3).
  const Dataset dataset((dir / "ds"));
  int64_t with_sex = 0;
  for (const std::string split : {"train", "tuning", "held_out"})
    for (const ShardEntry& entry : dataset.shards_of(split)) {
      const ShardReader shard = dataset.open_shard(entry);
      for (int64_t i = 0; i < shard.patients(); ++i) with_sex += shard.read(i).sex != Sex::kUnknown;
    }
  EXPECT_GE(with_sex, patients - 2);  // the two halves of patient 427985 have one sex token between them
}

TEST(PrepRealData, DelphiTruncatedFileIsRefused) {
  const std::string bin = shared_data("delphi-sim/train.bin");
  if (!fs::exists(bin)) GTEST_SKIP() << "../shared/data not present";
  TempDir dir;
  fs::create_directories(dir / "d");
  write_text(dir / "d/train.bin", read_file(bin).substr(0, 1000));  // not a multiple of 12
  fs::copy_file(shared_data("delphi-sim/labels.csv"), dir / "d/labels.csv");
  PrepOptions o = meds_prep(dir / "d/train.bin", dir / "ds", dir / "salt");
  o.format = "delphi";
  try {
    run_prep(o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("is not a multiple of 12 bytes"), std::string::npos) << e.what();
  }
  fs::remove(dir / "d/labels.csv");
  write_text(dir / "d/train.bin", read_file(bin).substr(0, 1200));
  EXPECT_THROW(run_prep(o), InputError);
}

}  // namespace
}  // namespace clinfm

namespace clinfm {
namespace {

TEST(PrepRealData, MimicIvDemoGivesOneHundredPatients) {
  if (!fs::exists(shared_data("mimic-iv-demo-2.2/hosp"))) GTEST_SKIP() << "../shared/data not present";
  TempDir dir;
  PrepOptions o = meds_prep(shared_data("mimic-iv-demo-2.2"), dir / "ds", dir / "salt");
  o.format = "mimic-iv";
  o.data.min_patients_per_code = 10;
  const PrepSummary s = run_prep(o);
  EXPECT_EQ(total_patients(s), 100);
  const auto audit = nlohmann::json::parse(read_file(dir / "ds/audit.json"));
  EXPECT_EQ(audit["counters"]["patients without a birth record (dropped)"], 0);
  // Raw MIMIC subject ids never reach the output.
  const std::string bytes = all_bytes_under(dir / "ds");
  for (const char* id : {"10000032", "10001217", "10004235", "10014729"})
    EXPECT_EQ(bytes.find(id), std::string::npos) << id;
}

// Every value of the identifying columns of Synthea's patients.csv, as text.
std::vector<std::string> synthea_identifiers() {
  CsvReader reader(shared_data("synthea-sample-11/patients.csv"));
  std::vector<std::string> values;
  std::vector<std::string_view> f;
  // Names, SSN, passport, driver's licence, address, birth and death dates, birthplace,
  // coordinates and the raw id. (Short numeric values such as 4-digit ZIP codes are left out:
  // they occur by chance inside SNOMED and LOINC codes.)
  const char* columns[] = {"Id",   "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT",  "FIRST", "MIDDLE",
                           "LAST", "MAIDEN",    "ADDRESS",   "LAT", "LON",     "BIRTHPLACE"};
  while (reader.next(f)) {
    for (const char* column : columns) {
      const int c = reader.find_column(column);
      if (c < 0) continue;
      const std::string value(f[c]);
      if (value.size() >= 4) values.push_back(value);  // short values (e.g. "Mr.") say nothing
    }
  }
  return values;
}

TEST(PrepRealData, SyntheaIdentifiersReachNoOutputFile) {
  if (!fs::exists(shared_data("synthea-sample-11/patients.csv")))
    GTEST_SKIP() << "../shared/data not present";
  TempDir dir;
  PrepOptions o = meds_prep(shared_data("synthea-sample-11"), dir / "ds", dir / "salt");
  o.format = "synthea";
  const PrepSummary s = run_prep(o);
  EXPECT_EQ(total_patients(s), 11);
  const auto identifiers = synthea_identifiers();
  ASSERT_GT(identifiers.size(), 100u);
  // Raw bytes of every file (manifest, vocab, audit, HDF5), and the HDF5 strings decoded: the
  // event datasets are compressed, so their contents are checked after reading them back.
  std::string text = all_bytes_under(dir / "ds");
  const Dataset dataset(dir / "ds");
  for (const auto& entry : dataset.shards()) {
    const ShardReader shard = dataset.open_shard(entry);
    for (int64_t i = 0; i < shard.patients(); ++i) {
      text += subject_key_hex(shard.key(i)) + "\n";
      for (const int32_t t : shard.read(i).tokens) text += dataset.vocab().token(t).code + "\n";
    }
  }
  for (const auto& value : identifiers) EXPECT_EQ(text.find(value), std::string::npos) << "found: " << value;
  // The audit says what happened to the identifying columns.
  const std::string audit = read_file(dir / "ds/audit.md");
  for (const char* column : {"SSN", "PASSPORT", "DRIVERS", "FIRST", "LAST", "ADDRESS", "LAT", "LON"})
    EXPECT_NE(audit.find(fmt::format("| patients | {} | dropped |", column)), std::string::npos) << column;
}

}  // namespace
}  // namespace clinfm
