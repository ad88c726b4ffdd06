// The Delphi-2M binary importer on hand-made files. Raw token t in a .bin file is Delphi's model
// token t + 1, named by labels.csv line t + 2 (its get_batch adds one): raw 1 is Female, raw 2
// Male. A data folder splits as Delphi does (train.bin: train or tuning; val.bin: held out), and
// every patient gets Delphi's regular "No event" tokens. Patient 4294967295 (the largest uint32)
// is a patient like any other (it used to be the "no patient yet" sentinel: found by fuzz_import).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <vector>

#include "common/error.h"
#include "data/source.h"
#include "prep_fixture.h"
#include "recording_sink.h"

namespace clinfm {
namespace {

const char* kLabels = "Padding\nNo event\nFemale\nMale\nBMI_low\nA00 (Cholera)\nDeath\n";

void write_bin(const std::filesystem::path& path, const std::vector<uint32_t>& triples) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(triples.data()),
             std::streamsize(triples.size() * sizeof(uint32_t)));
}

testing::RecordingSink import_bin(const std::filesystem::path& input, double no_event_years = 0,
                                  PrepAudit* audit_out = nullptr) {
  testing::RecordingSink sink;
  PrepAudit audit;
  ImportOptions options;
  options.input = input;
  options.no_event_years = no_event_years;
  import_delphi(options, sink, audit);
  if (audit_out) *audit_out = audit;
  return sink;
}

TEST(DelphiImport, RawTokensAreModelTokensMinusOne) {
  testing::TempDir dir;
  // raw 1: Female, raw 2: Male, raw 3: BMI_low, raw 4: A00, raw 5: Death.
  write_bin(dir / "train.bin", {4294967295u, 0, 1, 4294967295u, 3650, 4, 7, 0, 2, 7, 100, 4, 7, 200, 5});
  std::ofstream(dir / "labels.csv") << kLabels;
  const auto sink = import_bin(dir / "train.bin");
  EXPECT_EQ(sink.births.count(""), 0u);
  EXPECT_EQ(sink.events.count(""), 0u);
  EXPECT_EQ(sink.statics.count(""), 0u);
  ASSERT_EQ(sink.births.at("4294967295").size(), 1u);
  EXPECT_EQ(sink.statics.at("4294967295"), std::vector<std::string>{"GENDER//F"});
  ASSERT_EQ(sink.with_code("4294967295", "DELPHI//A00").size(), 1u);
  EXPECT_EQ(sink.with_code("4294967295", "DELPHI//A00")[0].time_s, 3650 * 86400);
  EXPECT_EQ(sink.statics.at("7"), std::vector<std::string>{"GENDER//M"});
  EXPECT_EQ(sink.with_code("7", "DELPHI//Death").size(), 1u);
  EXPECT_TRUE(sink.splits.empty()) << "one file: splits are drawn from the keys";
}

TEST(DelphiImport, NoEventTokensEveryFiveYearsUpToTheLastEvent) {
  testing::TempDir dir;
  // Last event at 20 years + 1 day: "No event" at 1, 1827.25, 3653.5, 5479.75, 7306 days.
  write_bin(dir / "train.bin", {1, 0, 1, 1, 7306, 4, 2, 0, 2});
  std::ofstream(dir / "labels.csv") << kLabels;
  PrepAudit audit;
  const auto sink = import_bin(dir / "train.bin", 5.0, &audit);
  const auto no_event = sink.with_code("1", "DELPHI//No_event");
  ASSERT_EQ(no_event.size(), 5u);
  const std::vector<double> expected_days = {1, 1827.25, 3653.5, 5479.75, 7306};
  for (size_t i = 0; i < no_event.size(); ++i)
    EXPECT_EQ(no_event[i].time_s, std::llround(expected_days[i] * 86400)) << i;
  EXPECT_TRUE(sink.with_code("2", "DELPHI//No_event").empty()) << "a patient without events gets none";
  EXPECT_EQ(audit.counter("\"No event\" tokens inserted every 5 years of age (--no-event-years)"), 5);
}

TEST(DelphiImport, DataFolderSplitsAsDelphiDoes) {
  testing::TempDir dir;
  // Patient 5 is in both files (Delphi's simulated data cuts one patient in two): two patients.
  write_bin(dir / "train.bin", {3, 0, 1, 3, 100, 4, 5, 0, 2});
  write_bin(dir / "val.bin", {5, 200, 4, 9, 0, 1});
  std::ofstream(dir / "labels.csv") << kLabels;
  const auto sink = import_bin(dir.path());
  EXPECT_EQ(sink.births.size(), 4u);
  EXPECT_EQ(sink.splits.at("train:3"), std::vector<FixedSplit>{FixedSplit::kDevelopment});
  EXPECT_EQ(sink.splits.at("train:5"), std::vector<FixedSplit>{FixedSplit::kDevelopment});
  EXPECT_EQ(sink.splits.at("val:5"), std::vector<FixedSplit>{FixedSplit::kHeldOut});
  EXPECT_EQ(sink.splits.at("val:9"), std::vector<FixedSplit>{FixedSplit::kHeldOut});
  EXPECT_EQ(sink.with_code("val:5", "DELPHI//A00").size(), 1u);
  EXPECT_TRUE(sink.with_code("train:5", "DELPHI//A00").empty());
}

TEST(DelphiImport, BadInputNamesTheFileAndTheTriple) {
  testing::TempDir dir;
  std::ofstream(dir / "labels.csv") << kLabels;
  write_bin(dir / "train.bin", {3, 0, 1, 3, 10, 0});  // raw 0 is "No event": not an event of the data
  try {
    import_bin(dir / "train.bin");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("train.bin: triple 1 has token 0"), std::string::npos) << e.what();
  }
  write_bin(dir / "train.bin", {3, 0, 6});  // raw 6 would be label line 8: labels.csv has 7
  EXPECT_THROW(import_bin(dir / "train.bin"), InputError);
  try {
    import_bin(dir.path());  // no val.bin
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("has no val.bin"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace clinfm
