// The Delphi-2M binary importer on a hand-made file: patient 4294967295 (the largest uint32) is
// a patient like any other (it used to be the "no patient yet" sentinel, so its events reached the
// sink with an empty subject id and no birth: found by fuzz_import).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <vector>

#include "data/source.h"
#include "prep_fixture.h"
#include "recording_sink.h"

namespace clinfm {
namespace {

TEST(DelphiImport, TheLargestPatientIdIsAPatient) {
  testing::TempDir dir;
  const std::vector<uint32_t> triples = {4294967295u, 0, 2, 4294967295u, 3650, 5, 7, 0, 3, 7, 100, 5};
  std::ofstream(dir / "train.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(triples.data()),
             std::streamsize(triples.size() * sizeof(uint32_t)));
  std::ofstream(dir / "labels.csv") << "Padding\nNo event\nFemale\nMale\nBMI_low\nA00 (Cholera)\n";
  testing::RecordingSink sink;
  PrepAudit audit;
  ImportOptions options;
  options.input = dir / "train.bin";
  import_delphi(options, sink, audit);
  EXPECT_EQ(sink.births.count(""), 0u);
  EXPECT_EQ(sink.events.count(""), 0u);
  EXPECT_EQ(sink.statics.count(""), 0u);
  ASSERT_EQ(sink.births.at("4294967295").size(), 1u);
  EXPECT_EQ(sink.statics.at("4294967295"), std::vector<std::string>{"GENDER//F"});
  ASSERT_EQ(sink.with_code("4294967295", "DELPHI//A00").size(), 1u);
  EXPECT_EQ(sink.with_code("4294967295", "DELPHI//A00")[0].time_s, 3650 * 86400);
  EXPECT_EQ(sink.births.at("7").size(), 1u);
}

}  // namespace
}  // namespace clinfm
