// The Synthea CSV importer: codes, times and values from small inline tables with Synthea 3.x
// headers (and the 2.x procedures header), every bad-input path, and the real 11-patient sample
// when ../shared/data is present, including that no direct identifier reaches a code or the audit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/source.h"
#include "data/timestamp.h"
#include "prep_fixture.h"
#include "recording_sink.h"

namespace clinfm {
namespace {
using testing::RecordingSink;
using testing::TempDir;
using testing::write_text;

int64_t at(const char* text) {
  int64_t seconds = 0;
  EXPECT_TRUE(parse_timestamp(text, &seconds)) << text;
  return seconds;
}

const std::string kP1 = "aaaa1111-0000-4000-8000-000000000001";
const std::string kP2 = "bbbb2222-0000-4000-8000-000000000002";

const char* kPatientsHeader =
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,"
    "ETHNICITY,"
    "GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,"
    "INCOME\n";
const std::string kPatientsRows =
    kP1 +
    ",1955-09-01,1981-05-22,999-96-6821,S99991927,X56583695X,Mr.,Alfred550,Andres25,West559,,,,white,"
    "nonhispanic,M,Alexandra  Victoria  AU,1037 Stehr Park,Portland,Victoria,Glenelg "
    "(S),,3305,-38.3849,141.5763,"
    "140048.18,0.00,46057\n" +
    kP2 +
    ",1994-09-28,,999-53-6488,S99937657,X86392542X,Ms.,Luna918,Monroe732,MacGyver246,,Smith12,M,asian,"
    "nonhispanic,F,\"Brunswick, Victoria\",250 Morar Fork Apt 66,Pakenham,Victoria,Cardinia "
    "(S),,3810,-38.1161,"
    "145.4594,25756.42,89095.18,41800\n";
const char* kObservationsHeader = "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n";
const std::string kObservationsRows =
    "2016-11-30T12:33:09Z," + kP2 + ",e2,vital-signs,8302-2,Body Height,176.8,cm,numeric\n" +
    "2016-11-30T12:33:09Z," + kP2 +
    ",e2,survey,72166-2,Tobacco smoking status,Never smoked tobacco (finding),,text\n" +
    "2016-11-30T12:33:09Z," + kP2 + ",e2,social-history,63586-2,Income,41800,,text\n";
const char* kConditionsHeader = "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION\n";
const std::string kConditionsRows =
    "1959-11-07,1974-09-05," + kP1 + ",e1,http://snomed.info/sct,232353008,Perennial allergic rhinitis\n" +
    "2016-11-30,," + kP2 + ",e2,,44054006,Diabetes\n" +  //
    "2016-11-30,," + kP2 + ",e2,http://hl7.org/fhir/sid/icd-10-cm,E11.9,Type 2 diabetes\n" + "2016-11-30,," +
    kP2 + ",e2,http://example.org/local-codes,X1,Something local\n";

// A Synthea 3.x CSV export with every table the importer reads, two it does not, and a few rows.
void write_synthea(const TempDir& dir) {
  write_text(dir / "patients.csv", kPatientsHeader + kPatientsRows);
  write_text(
      dir / "encounters.csv",
      "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,BASE_ENCOUNTER_COST,"
      "TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION\n"
      "e1,1959-11-07T09:12:44Z,1959-11-07T09:27:44Z," +
          kP1 +
          ",org1,prov1,payer1,ambulatory,185345009,Encounter for symptom,75.00,75.00,0.00,232353008,"
          "Perennial allergic rhinitis\n"
          "e2,2016-11-30T12:33:09Z,2016-11-30T12:48:09Z," +
          kP2 + ",org1,prov1,payer1,,162673000,General examination,125.00,1630.84,1630.84,,\n");
  write_text(dir / "conditions.csv", kConditionsHeader + kConditionsRows);
  write_text(dir / "observations.csv", kObservationsHeader + kObservationsRows);
  write_text(
      dir / "medications.csv",
      "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,"
      "REASONCODE,REASONDESCRIPTION\n"
      "1959-11-07T09:12:44Z,," +
          kP1 +
          ",payer1,e1,1049630,diphenhydrAMINE Hydrochloride 25 MG Oral Tablet,196.20,0.00,262,51404.40,,\n");
  write_text(dir / "procedures.csv",
             "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION\n"
             "2016-11-30T12:33:09Z,2016-11-30T12:48:09Z," +
                 kP2 +
                 ",e2,http://snomed.info/sct,430193006,Medication reconciliation (procedure),481.13,,\n");
  write_text(dir / "immunizations.csv",
             "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST\n"
             "2016-11-30T12:33:09Z," +
                 kP2 + ",e2,140,Influenza seasonal injectable preservative free,136.00\n");
  write_text(dir / "allergies.csv", "START,STOP,PATIENT,ENCOUNTER,CODE,SYSTEM,DESCRIPTION\n");
  write_text(dir / "organizations.csv", "Id,NAME,ADDRESS\norg1,Northern Hospital,185 Cooper Street\n");
}

ImportOptions options_for(const TempDir& dir, bool skip_bad_rows = false) {
  ImportOptions options;
  options.input = dir.path().string();
  options.skip_bad_rows = skip_bad_rows;
  return options;
}

std::string import_error(const ImportOptions& options) {
  RecordingSink sink;
  PrepAudit audit;
  try {
    import_synthea(options, sink, audit);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "import_synthea did not throw InputError";
  return {};
}

int64_t dropped_total(const PrepAudit::TableCounts& t) {
  int64_t n = 0;
  for (const auto& [reason, count] : t.dropped) n += count;
  return n;
}

TEST(SyntheaImport, CodesTimesAndValues) {
  TempDir dir;
  write_synthea(dir);
  RecordingSink sink;
  PrepAudit audit;
  import_synthea(options_for(dir), sink, audit);

  EXPECT_EQ(sink.births[kP1], std::vector<int64_t>{at("1955-09-01")});
  EXPECT_EQ(sink.births[kP2], std::vector<int64_t>{at("1994-09-28")});
  EXPECT_EQ(sink.statics[kP1], std::vector<std::string>{"GENDER//M"});
  EXPECT_EQ(sink.statics[kP2], std::vector<std::string>{"GENDER//F"});
  ASSERT_EQ(sink.with_code(kP1, "MEDS_DEATH").size(), 1u);
  EXPECT_EQ(sink.with_code(kP1, "MEDS_DEATH")[0].time_s, at("1981-05-22"));
  EXPECT_TRUE(sink.with_code(kP2, "MEDS_DEATH").empty());

  auto time_of = [&](const std::string& subject, const char* code) {
    const auto found = sink.with_code(subject, code);
    EXPECT_EQ(found.size(), 1u) << code;
    return found.empty() ? int64_t{-1} : found[0].time_s;
  };
  EXPECT_EQ(time_of(kP1, "ENCOUNTER//ambulatory"), at("1959-11-07T09:12:44Z"));
  EXPECT_EQ(time_of(kP2, "ENCOUNTER//UNKNOWN"), at("2016-11-30T12:33:09Z"));
  EXPECT_EQ(time_of(kP1, "SNOMED//232353008"), at("1959-11-07"));
  EXPECT_EQ(time_of(kP2, "SNOMED//44054006"), at("2016-11-30"));  // empty SYSTEM: the table's default
  EXPECT_EQ(time_of(kP2, "ICD10CM//E11.9"), at("2016-11-30"));
  EXPECT_EQ(time_of(kP1, "RXNORM//1049630"), at("1959-11-07T09:12:44Z"));
  EXPECT_EQ(time_of(kP2, "SNOMED//430193006"), at("2016-11-30T12:33:09Z"));
  EXPECT_EQ(time_of(kP2, "CVX//140"), at("2016-11-30T12:33:09Z"));

  const auto height = sink.with_code(kP2, "LOINC//8302-2");
  ASSERT_EQ(height.size(), 1u);
  EXPECT_EQ(height[0].time_s, at("2016-11-30T12:33:09Z"));
  EXPECT_DOUBLE_EQ(height[0].value, 176.8);
  // Text observations keep the code, never the text (nor a number hidden in a text value).
  for (const char* code : {"LOINC//72166-2", "LOINC//63586-2"}) {
    const auto found = sink.with_code(kP2, code);
    ASSERT_EQ(found.size(), 1u) << code;
    EXPECT_TRUE(std::isnan(found[0].value)) << code;
  }
  const std::string codes = sink.all_codes();
  for (const char* text : {"Never smoked", "X1", "Alfred550", "West559", "999-96-6821", "Stehr", "org1",
                           "prov1", "payer1", "e1", "white", "Victoria", "Body Height"}) {
    EXPECT_EQ(codes.find(text), std::string::npos) << text;
  }
}

TEST(SyntheaImport, AuditAccountsForEveryRow) {
  TempDir dir;
  write_synthea(dir);
  RecordingSink sink;
  PrepAudit audit;
  import_synthea(options_for(dir), sink, audit);
  const auto& tables = audit.tables();
  for (const char* name :
       {"encounters", "conditions", "observations", "medications", "procedures", "immunizations"}) {
    const auto& t = tables.at(name);
    EXPECT_EQ(t.rows, t.events + dropped_total(t)) << name;
  }
  EXPECT_EQ(tables.at("conditions").rows, 4);
  EXPECT_EQ(tables.at("conditions").dropped.at("unknown code SYSTEM (not SNOMED, LOINC, RxNorm, CVX or ICD)"),
            1);
  EXPECT_EQ(tables.at("observations").events, 3);
  // Patients: birth and gender per row, and one death.
  EXPECT_EQ(tables.at("patients").rows, 2);
  EXPECT_EQ(tables.at("patients").events, 2 * 2 + 1);
  EXPECT_NE(tables.at("allergies").unread_reason.find("not imported"), std::string::npos);
  EXPECT_NE(tables.at("organizations").unread_reason.find("reference table"), std::string::npos);

  const auto& columns = tables.at("patients").columns;
  for (const char* identifier :
       {"SSN", "DRIVERS", "PASSPORT", "FIRST", "LAST", "ADDRESS", "LAT", "LON", "ZIP"}) {
    const auto rule = std::find_if(columns.begin(), columns.end(),
                                   [&](const ColumnRule& r) { return r.column == identifier; });
    ASSERT_NE(rule, columns.end()) << identifier;
    EXPECT_EQ(rule->use, ColumnUse::kDropped) << identifier;
  }
  const std::string json = audit.to_json().dump() + audit.to_markdown();
  for (const std::string& text : {kP1, kP2, std::string("Alfred550"), std::string("1037 Stehr Park")})
    EXPECT_EQ(json.find(text), std::string::npos) << text;
}

TEST(SyntheaImport, OlderExportsWithProcedureDateAndWithoutObservationType) {
  TempDir dir;
  write_synthea(dir);
  write_text(dir / "procedures.csv",
             "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION\n"
             "2016-11-30T12:33:09Z," +
                 kP2 + ",e2,430193006,Medication reconciliation (procedure),481.13,,\n");
  write_text(dir / "observations.csv",
             "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,VALUE,UNITS\n"
             "2016-11-30T12:33:09Z," +
                 kP2 + ",e2,8302-2,Body Height,176.8,cm\n" + "2016-11-30T12:33:09Z," + kP2 +
                 ",e2,72166-2,Tobacco smoking status,Never smoked tobacco (finding),\n");
  RecordingSink sink;
  PrepAudit audit;
  import_synthea(options_for(dir), sink, audit);
  ASSERT_EQ(sink.with_code(kP2, "SNOMED//430193006").size(), 1u);
  EXPECT_EQ(sink.with_code(kP2, "SNOMED//430193006")[0].time_s, at("2016-11-30T12:33:09Z"));
  EXPECT_DOUBLE_EQ(sink.with_code(kP2, "LOINC//8302-2").at(0).value, 176.8);
  EXPECT_TRUE(std::isnan(sink.with_code(kP2, "LOINC//72166-2").at(0).value));
}

TEST(SyntheaImport, OptionalTablesMayBeAbsent) {
  TempDir dir;
  write_text(dir / "patients.csv", kPatientsHeader + kPatientsRows);
  RecordingSink sink;
  PrepAudit audit;
  import_synthea(options_for(dir), sink, audit);
  EXPECT_EQ(sink.births.size(), 2u);
  EXPECT_EQ(audit.tables().at("observations").missing_reason, "not in this export (optional)");
}

TEST(SyntheaImport, MissingPatientsIsNamed) {
  TempDir dir;
  write_synthea(dir);
  std::filesystem::remove(dir.path() / "patients.csv");
  const std::string message = import_error(options_for(dir));
  EXPECT_NE(message.find("patients.csv"), std::string::npos) << message;
}

TEST(SyntheaImport, MissingRequiredColumnIsNamed) {
  TempDir dir;
  write_synthea(dir);
  write_text(dir / "observations.csv", "DATE,PATIENT,ENCOUNTER,DESCRIPTION,VALUE,UNITS,TYPE\n");
  const std::string message = import_error(options_for(dir));
  EXPECT_NE(message.find("'CODE'"), std::string::npos) << message;
  EXPECT_NE(message.find("observations.csv"), std::string::npos) << message;

  write_text(dir / "observations.csv", kObservationsHeader + kObservationsRows);
  write_text(dir / "patients.csv", "Id,DEATHDATE,GENDER\n" + kP1 + ",,M\n");
  const std::string birth = import_error(options_for(dir));
  EXPECT_NE(birth.find("BIRTHDATE"), std::string::npos) << birth;
}

TEST(SyntheaImport, UndeclaredColumnIsRefused) {
  TempDir dir;
  write_synthea(dir);
  write_text(dir / "patients.csv", "Id,BIRTHDATE,GENDER,PHONE\n" + kP1 + ",1955-09-01,M,555-0100\n");
  const std::string message = import_error(options_for(dir));
  EXPECT_NE(message.find("PHONE"), std::string::npos) << message;
  EXPECT_NE(message.find("patients.csv"), std::string::npos) << message;
}

TEST(SyntheaImport, WrongColumnCountNamesFileAndLineOrIsSkipped) {
  TempDir dir;
  write_synthea(dir);
  write_text(dir / "observations.csv",
             kObservationsHeader + kObservationsRows + "2016-11-30T12:33:09Z," + kP2 + ",e2,survey\n");
  const std::string message = import_error(options_for(dir));
  EXPECT_NE(message.find("observations.csv:5"), std::string::npos) << message;

  RecordingSink sink;
  PrepAudit audit;
  import_synthea(options_for(dir, /*skip_bad_rows=*/true), sink, audit);
  const auto& t = audit.tables().at("observations");
  EXPECT_EQ(t.rows, 4);
  EXPECT_EQ(t.events, 3);
  EXPECT_EQ(t.dropped.at("malformed row (skipped with --on-bad-row=skip)"), 1);
}

TEST(SyntheaImport, UnparsableTimeNamesFileAndLineOrIsSkipped) {
  TempDir dir;
  write_synthea(dir);
  std::string rows = kConditionsRows;
  rows.replace(0, 10, "yesterday");
  write_text(dir / "conditions.csv", kConditionsHeader + rows);
  const std::string message = import_error(options_for(dir));
  EXPECT_NE(message.find("conditions.csv:2"), std::string::npos) << message;
  EXPECT_NE(message.find("START"), std::string::npos) << message;
  EXPECT_EQ(message.find(kP1), std::string::npos) << "raw patient id in: " << message;

  RecordingSink sink;
  PrepAudit audit;
  import_synthea(options_for(dir, /*skip_bad_rows=*/true), sink, audit);
  const auto& t = audit.tables().at("conditions");
  EXPECT_EQ(t.dropped.at("unparsable time"), 1);
  EXPECT_EQ(t.rows, t.events + dropped_total(t));
  EXPECT_TRUE(sink.with_code(kP1, "SNOMED//232353008").empty());

  write_text(dir / "patients.csv",
             kPatientsHeader + std::string(kPatientsRows).replace(kP1.size() + 1, 10, "01/09/1955"));
  const std::string birth = import_error(options_for(dir));
  EXPECT_NE(birth.find("patients.csv:2"), std::string::npos) << birth;
  EXPECT_EQ(birth.find("01/09/1955"), std::string::npos) << "a birth date in: " << birth;
}

TEST(SyntheaImport, NumericObservationWithTextIsABadRow) {
  TempDir dir;
  write_synthea(dir);
  write_text(dir / "observations.csv", std::string(kObservationsHeader) + "2016-11-30T12:33:09Z," + kP2 +
                                           ",e2,vital-signs,8302-2,Body Height,tall,cm,numeric\n");
  const std::string message = import_error(options_for(dir));
  EXPECT_NE(message.find("observations.csv:2"), std::string::npos) << message;
  EXPECT_NE(message.find("VALUE"), std::string::npos) << message;
}

// ---- The real 11-patient sample, when ../shared/data is present. ----

TEST(SyntheaRealData, SampleHasElevenPatientsAndNoIdentifierLeaks) {
  const std::string root = std::string(CLINFM_SHARED_DATA_DIR) + "/synthea-sample-11";
  if (!std::filesystem::is_directory(root)) GTEST_SKIP() << "../shared/data not present";
  RecordingSink sink;
  PrepAudit audit;
  ImportOptions options;
  options.input = root;
  import_synthea(options, sink, audit);

  ASSERT_EQ(sink.births.size(), 11u);
  for (const auto& [patient, births] : sink.births) EXPECT_EQ(births.size(), 1u);
  for (const auto& [patient, list] : sink.events) EXPECT_EQ(sink.births.count(patient), 1u);

  // Every direct identifier and birth date of patients.csv: in no code, not in the audit.
  const std::string received = sink.all_codes() + audit.to_json().dump() + audit.to_markdown();
  CsvReader patients(root + "/patients.csv");
  std::vector<int> columns;
  for (const char* name : {"Id", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "FIRST", "MIDDLE",
                           "LAST", "MAIDEN", "BIRTHPLACE", "ADDRESS", "CITY", "LAT", "LON"}) {
    columns.push_back(patients.require_column(name));
  }
  std::vector<std::string_view> f;
  int checked = 0;
  while (patients.next(f)) {
    for (const int c : columns) {
      if (f[c].empty()) continue;
      EXPECT_EQ(received.find(f[c]), std::string::npos) << patients.header()[c] << " leaked";
      ++checked;
    }
  }
  EXPECT_GT(checked, 11 * 10);

  const auto& tables = audit.tables();
  for (const char* name :
       {"encounters", "conditions", "observations", "medications", "procedures", "immunizations"}) {
    const auto& t = tables.at(name);
    EXPECT_GT(t.events, 0) << name;
    EXPECT_EQ(t.rows, t.events + dropped_total(t)) << name;
  }
  EXPECT_EQ(tables.at("observations").rows, 4272);
  EXPECT_FALSE(tables.at("careplans").unread_reason.empty());
  for (const auto& [name, t] : tables) {
    std::string dropped;
    for (const auto& [reason, n] : t.dropped) dropped += " [" + reason + ": " + std::to_string(n) + "]";
    if (t.missing_reason.empty() && t.unread_reason.empty())
      std::printf("  %-14s rows %6lld  events %6lld%s\n", name.c_str(), static_cast<long long>(t.rows),
                  static_cast<long long>(t.events), dropped.c_str());
  }
}

}  // namespace
}  // namespace clinfm
