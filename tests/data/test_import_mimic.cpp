// The MIMIC-IV importer: codes, times and values from small inline tables with MIMIC-IV 2.2
// headers, every bad-input path, and the real 100-patient demo when ../shared/data is present.
// Over 400 lines: one test per MIMIC-IV table and per bad-input path.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "common/error.h"
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

const char* kPatients =
    "subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod\n"
    "10001001,F,52,2180,2014 - 2016,2180-09-09\n"
    "10001002,M,60,2150,2011 - 2013,2155-01-02\n"
    "10001003,F,30,2160,2017 - 2019,\n";
const char* kAdmissionsHeader =
    "subject_id,hadm_id,admittime,dischtime,deathtime,admission_type,admit_provider_id,admission_location,"
    "discharge_location,insurance,language,marital_status,race,edregtime,edouttime,hospital_expire_flag\n";
const char* kAdmissionsRows =
    "10001001,20000501,2180-07-23 12:35:00,2180-09-09 10:00:00,2180-09-09 09:30:00,EW EMER.,P1X2Y3,EMERGENCY "
    "ROOM,DIED,Medicare,ENGLISH,WIDOWED,WHITE,2180-07-23 08:00:00,2180-07-23 12:40:00,1\n"
    "10001002,20000502,2150-03-01 08:00:00,2150-03-05 16:00:00,,ELECTIVE,P9Q8R7,PHYSICIAN REFERRAL,,Other,"
    "ENGLISH,MARRIED,ASIAN,,,0\n"
    "10001003,20000503,2161-01-10 10:00:00,2161-01-12 11:00:00,,URGENT,,TRANSFER FROM "
    "HOSPITAL,HOME,Medicaid,?,"
    "SINGLE,OTHER,,,0\n";
const char* kLabeventsHeader =
    "labevent_id,subject_id,hadm_id,specimen_id,itemid,order_provider_id,charttime,storetime,value,valuenum,"
    "valueuom,ref_range_lower,ref_range_upper,flag,priority,comments\n";
const char* kLabeventsRows =
    "1,10001001,20000501,77,51277,P1X2Y3,2180-07-23 13:00:00,2180-07-23 "
    "14:00:00,15.4,15.4,%,10.5,15.5,,ROUTINE,\n"
    "2,10001001,20000501,77,51087,,2180-07-23 13:00:00,,\"pos, see comment\",,,,,,STAT,\"Called to Dr. "
    "Zebulon "
    "Quux\"\n";

// A MIMIC-IV 2.2 folder with every table the importer reads, two it does not, and a few rows each.
void write_mimic(const TempDir& dir) {
  std::filesystem::create_directories(dir.path() / "hosp");
  std::filesystem::create_directories(dir.path() / "icu");
  write_text(dir / "hosp/patients.csv", kPatients);
  write_text(dir / "hosp/admissions.csv", std::string(kAdmissionsHeader) + kAdmissionsRows);
  write_text(dir / "hosp/diagnoses_icd.csv",
             "subject_id,hadm_id,seq_num,icd_code,icd_version\n"
             "10001001,20000501,1,I10,10\n"
             "10001002,20000502,1,4019,9\n"
             "10001002,20000999,2,25000,9\n");
  write_text(dir / "hosp/procedures_icd.csv",
             "subject_id,hadm_id,seq_num,chartdate,icd_code,icd_version\n"
             "10001001,20000501,1,2180-07-24,0DT60ZZ,10\n"
             "10001002,20000502,1,2150-03-02,3961,9\n");
  write_text(dir / "hosp/labevents.csv", std::string(kLabeventsHeader) + kLabeventsRows);
  write_text(
      dir / "hosp/prescriptions.csv",
      "subject_id,hadm_id,pharmacy_id,poe_id,poe_seq,order_provider_id,starttime,stoptime,drug_type,drug,"
      "formulary_drug_cd,gsn,ndc,prod_strength,form_rx,dose_val_rx,dose_unit_rx,form_val_disp,form_unit_disp,"
      "doses_per_24_hrs,route\n"
      "10001001,20000501,11,10001001-5,5,P1X2Y3,2180-07-23 14:00:00,2180-07-24 14:00:00,MAIN,  Heparin "
      "Sodium ,HEPA5I,006549,63323026201,5000 Unit / mL,,5000,UNIT,1,mL,3,SC\n"
      "10001001,20000501,12,,,,,,MAIN,Aspirin,ASA81,,,81mg,,81,mg,1,TAB,1,PO\n");
  write_text(
      dir / "hosp/transfers.csv",
      "subject_id,hadm_id,transfer_id,eventtype,careunit,intime,outtime\n"
      "10001001,,30001,ED,Emergency Department,2180-07-23 08:00:00,2180-07-23 12:40:00\n"
      "10001001,20000501,30002,admit,Medicine,2180-07-23 12:40:00,2180-07-25 10:00:00\n"
      "10001001,20000501,30003,transfer,Medical Intensive Care Unit (MICU),2180-07-25 10:00:00,2180-09-09 "
      "10:00:00\n"
      "10001001,20000501,30004,discharge,,2180-09-09 10:00:00,\n");
  write_text(dir / "icu/icustays.csv",
             "subject_id,hadm_id,stay_id,first_careunit,last_careunit,intime,outtime,los\n"
             "10001001,20000501,40001,Medical Intensive Care Unit (MICU),Coronary Care Unit (CCU),2180-07-25 "
             "10:00:00,2180-07-30 10:00:00,5.0\n");
  write_text(dir / "hosp/emar.csv", "subject_id,hadm_id,emar_id\n10001001,20000501,x\n");
  write_text(dir / "hosp/d_labitems.csv", "itemid,label,fluid,category\n51277,RDW,Blood,Hematology\n");
}

ImportOptions options_for(const TempDir& dir, bool skip_bad_rows = false) {
  ImportOptions options;
  options.input = dir.path().string();
  options.skip_bad_rows = skip_bad_rows;
  return options;
}

// The InputError message of an import that must fail.
std::string import_error(const ImportOptions& options) {
  RecordingSink sink;
  PrepAudit audit;
  try {
    import_mimic_iv(options, sink, audit);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "import_mimic_iv did not throw InputError";
  return {};
}

int64_t dropped_total(const PrepAudit::TableCounts& t) {
  int64_t n = 0;
  for (const auto& [reason, count] : t.dropped) n += count;
  return n;
}

TEST(MimicImport, CodesTimesAndValues) {
  TempDir dir;
  write_mimic(dir);
  RecordingSink sink;
  PrepAudit audit;
  import_mimic_iv(options_for(dir), sink, audit);

  // Birth at 1 January of anchor_year - anchor_age.
  EXPECT_EQ(sink.births["10001001"], std::vector<int64_t>{at("2128-01-01")});
  EXPECT_EQ(sink.births["10001002"], std::vector<int64_t>{at("2090-01-01")});
  EXPECT_EQ(sink.births["10001003"], std::vector<int64_t>{at("2130-01-01")});
  EXPECT_EQ(sink.statics["10001001"], std::vector<std::string>{"GENDER//F"});
  EXPECT_EQ(sink.statics["10001002"], std::vector<std::string>{"GENDER//M"});

  const std::string s1 = "10001001", s2 = "10001002", s3 = "10001003";
  auto time_of = [&](const std::string& subject, const char* code) {
    const auto found = sink.with_code(subject, code);
    EXPECT_EQ(found.size(), 1u) << subject << " " << code;
    return found.empty() ? int64_t{-1} : found[0].time_s;
  };
  EXPECT_EQ(time_of(s1, "HOSPITAL_ADMISSION//EW EMER."), at("2180-07-23 12:35:00"));
  EXPECT_EQ(time_of(s1, "HOSPITAL_DISCHARGE//DIED"), at("2180-09-09 10:00:00"));
  EXPECT_EQ(time_of(s2, "HOSPITAL_DISCHARGE//UNKNOWN"), at("2150-03-05 16:00:00"));
  EXPECT_EQ(time_of(s1, "ED_REGISTRATION"), at("2180-07-23 08:00:00"));
  EXPECT_EQ(time_of(s1, "ED_OUT"), at("2180-07-23 12:40:00"));
  EXPECT_TRUE(sink.with_code(s2, "ED_REGISTRATION").empty());

  // Diagnoses at the discharge of their admission, not at admission.
  EXPECT_EQ(time_of(s1, "ICD10CM//I10"), at("2180-09-09 10:00:00"));
  EXPECT_EQ(time_of(s2, "ICD9CM//4019"), at("2150-03-05 16:00:00"));
  EXPECT_TRUE(sink.with_code(s2, "ICD9CM//25000").empty());  // its hadm_id is not in admissions

  EXPECT_EQ(time_of(s1, "ICD10PCS//0DT60ZZ"), at("2180-07-24"));
  EXPECT_EQ(time_of(s2, "ICD9PROC//3961"), at("2150-03-02"));

  const auto rdw = sink.with_code(s1, "LAB//51277//%");
  ASSERT_EQ(rdw.size(), 1u);
  EXPECT_EQ(rdw[0].time_s, at("2180-07-23 13:00:00"));
  EXPECT_DOUBLE_EQ(rdw[0].value, 15.4);
  const auto text_lab = sink.with_code(s1, "LAB//51087//UNK");
  ASSERT_EQ(text_lab.size(), 1u);
  EXPECT_TRUE(std::isnan(text_lab[0].value));

  EXPECT_EQ(time_of(s1, "RX//HEPARIN SODIUM"), at("2180-07-23 14:00:00"));
  EXPECT_EQ(sink.count_prefix("RX//"), 1);  // the order without starttime is dropped

  EXPECT_EQ(time_of(s1, "TRANSFER//Emergency Department"), at("2180-07-23 08:00:00"));
  EXPECT_EQ(time_of(s1, "TRANSFER//Medicine"), at("2180-07-23 12:40:00"));
  EXPECT_EQ(time_of(s1, "TRANSFER//Medical Intensive Care Unit (MICU)"), at("2180-07-25 10:00:00"));
  EXPECT_EQ(sink.count_prefix("TRANSFER//"), 3);  // the discharge row is dropped

  EXPECT_EQ(time_of(s1, "ICU_ADMISSION//Medical Intensive Care Unit (MICU)"), at("2180-07-25 10:00:00"));
  EXPECT_EQ(time_of(s1, "ICU_DISCHARGE//Coronary Care Unit (CCU)"), at("2180-07-30 10:00:00"));

  // One death each: the in-hospital deathtime beats dod; dod (00:00) otherwise; none when alive.
  EXPECT_EQ(time_of(s1, "MEDS_DEATH"), at("2180-09-09 09:30:00"));
  EXPECT_EQ(time_of(s2, "MEDS_DEATH"), at("2155-01-02"));
  EXPECT_TRUE(sink.with_code(s3, "MEDS_DEATH").empty());

  // Nothing of the dropped columns reaches a code.
  const std::string codes = sink.all_codes();
  for (const char* text : {"P1X2Y3", "Zebulon", "pos, see", "Medicare", "WHITE", "WIDOWED", "ENGLISH",
                           "2014 - 2016", "HEPA5I", "63323026201", "EMERGENCY ROOM"}) {
    EXPECT_EQ(codes.find(text), std::string::npos) << text;
  }
}

TEST(MimicImport, AuditAccountsForEveryRow) {
  TempDir dir;
  write_mimic(dir);
  RecordingSink sink;
  PrepAudit audit;
  import_mimic_iv(options_for(dir), sink, audit);
  const auto& tables = audit.tables();

  // Tables where each row is one event or one dropped row.
  for (const char* name : {"hosp/diagnoses_icd", "hosp/procedures_icd", "hosp/labevents",
                           "hosp/prescriptions", "hosp/transfers"}) {
    const auto& t = tables.at(name);
    EXPECT_EQ(t.rows, t.events + dropped_total(t)) << name;
  }
  EXPECT_EQ(tables.at("hosp/diagnoses_icd").rows, 3);
  EXPECT_EQ(tables.at("hosp/diagnoses_icd")
                .dropped.at("hadm_id not in admissions (no discharge time to place the diagnosis at)"),
            1);
  EXPECT_EQ(tables.at("hosp/prescriptions").dropped.at("no starttime"), 1);
  EXPECT_EQ(tables.at("hosp/transfers").dropped.at("discharge event (hosp/admissions gives the discharge)"),
            1);
  EXPECT_EQ(tables.at("hosp/labevents").events, 2);
  // Admissions: admission + discharge per row, plus ED registration and ED out where given.
  EXPECT_EQ(tables.at("hosp/admissions").rows, 3);
  EXPECT_EQ(tables.at("hosp/admissions").events, 3 * 2 + 2);
  // Patients: birth and gender per row, plus one death each for two of them.
  EXPECT_EQ(tables.at("hosp/patients").rows, 3);
  EXPECT_EQ(tables.at("hosp/patients").events, 3 * 2 + 2);
  EXPECT_EQ(tables.at("icu/icustays").events, 2);
  EXPECT_EQ(audit.counter("MIMIC-IV deaths placed at admissions.deathtime"), 1);
  EXPECT_EQ(audit.counter("MIMIC-IV deaths placed at patients.dod (00:00 of the date)"), 1);

  // Tables seen but not read are in the audit with a reason.
  EXPECT_NE(tables.at("hosp/emar").unread_reason.find("not imported"), std::string::npos);
  EXPECT_NE(tables.at("hosp/d_labitems").unread_reason.find("dictionary"), std::string::npos);
  EXPECT_EQ(tables.at("hosp/emar").rows, 0);

  // Every column is declared; dropped identifiers and free text are listed as such.
  const auto& lab_columns = tables.at("hosp/labevents").columns;
  const auto comments = std::find_if(lab_columns.begin(), lab_columns.end(),
                                     [](const ColumnRule& r) { return r.column == "comments"; });
  ASSERT_NE(comments, lab_columns.end());
  EXPECT_EQ(comments->use, ColumnUse::kDropped);
  EXPECT_TRUE(tables.at("hosp/admissions").absent_columns ==
              std::vector<std::string>{"ethnicity"});  // the MIMIC-IV 1.0 name, declared for older exports

  const std::string json = audit.to_json().dump();
  for (const char* text : {"10001001", "P1X2Y3", "Zebulon"})
    EXPECT_EQ(json.find(text), std::string::npos) << text;
}

TEST(MimicImport, OptionalTablesMayBeAbsent) {
  TempDir dir;
  write_mimic(dir);
  std::filesystem::remove_all(dir.path() / "icu");
  std::filesystem::remove(dir.path() / "hosp/labevents.csv");
  RecordingSink sink;
  PrepAudit audit;
  import_mimic_iv(options_for(dir), sink, audit);
  EXPECT_EQ(audit.tables().at("icu/icustays").missing_reason, "not in this export (optional)");
  EXPECT_EQ(audit.tables().at("hosp/labevents").missing_reason, "not in this export (optional)");
  EXPECT_EQ(sink.count_prefix("LAB//"), 0);
  EXPECT_EQ(sink.births.size(), 3u);
}

TEST(MimicImport, PrefersGzipOverCsv) {
  TempDir dir;
  write_mimic(dir);
  const std::string only_one =
      "subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod\n"
      "10001003,F,30,2160,2017 - 2019,\n";
  gzFile gz = gzopen((dir / "hosp/patients.csv.gz").c_str(), "wb");
  gzwrite(gz, only_one.data(), static_cast<unsigned>(only_one.size()));
  gzclose(gz);
  RecordingSink sink;
  PrepAudit audit;
  import_mimic_iv(options_for(dir), sink, audit);
  EXPECT_EQ(sink.births.size(), 1u);
  EXPECT_EQ(sink.births.count("10001003"), 1u);
  EXPECT_EQ(audit.tables().at("hosp/patients").file, dir / "hosp/patients.csv.gz");
}

TEST(MimicImport, MissingRequiredTablesAreNamed) {
  {
    TempDir dir;
    write_mimic(dir);
    std::filesystem::remove(dir.path() / "hosp/patients.csv");
    const std::string message = import_error(options_for(dir));
    EXPECT_NE(message.find("hosp/patients"), std::string::npos) << message;
  }
  {
    TempDir dir;
    write_mimic(dir);
    std::filesystem::remove(dir.path() / "hosp/admissions.csv");
    const std::string message = import_error(options_for(dir));
    EXPECT_NE(message.find("hosp/admissions"), std::string::npos) << message;
  }
  {
    TempDir dir;
    ImportOptions options;
    options.input = dir / "no-such-folder";
    EXPECT_NE(import_error(options).find("not a folder"), std::string::npos);
  }
}

TEST(MimicImport, MissingRequiredColumnIsNamed) {
  TempDir dir;
  write_mimic(dir);
  write_text(dir / "hosp/patients.csv",
             "subject_id,gender,anchor_year,anchor_year_group,dod\n10001001,F,2180,2014 - 2016,\n");
  const std::string message = import_error(options_for(dir));
  EXPECT_NE(message.find("anchor_age"), std::string::npos) << message;
  EXPECT_NE(message.find("patients.csv"), std::string::npos) << message;
}

TEST(MimicImport, UndeclaredColumnIsRefused) {
  TempDir dir;
  write_mimic(dir);
  write_text(dir / "hosp/labevents.csv",
             std::string(kLabeventsHeader).insert(std::string(kLabeventsHeader).size() - 1, ",patient_name") +
                 "1,10001001,20000501,77,51277,,2180-07-23 13:00:00,,15.4,15.4,%,,,,,,Jane Doe\n");
  const std::string message = import_error(options_for(dir));
  EXPECT_NE(message.find("patient_name"), std::string::npos) << message;
  EXPECT_NE(message.find("labevents.csv"), std::string::npos) << message;
  EXPECT_EQ(message.find("Jane Doe"), std::string::npos) << message;
}

TEST(MimicImport, WrongColumnCountNamesFileAndLineOrIsSkipped) {
  TempDir dir;
  write_mimic(dir);
  write_text(dir / "hosp/labevents.csv",
             std::string(kLabeventsHeader) + kLabeventsRows + "3,10001001,20000501,77,51277\n");
  const std::string message = import_error(options_for(dir));
  EXPECT_NE(message.find("labevents.csv:4"), std::string::npos) << message;

  RecordingSink sink;
  PrepAudit audit;
  import_mimic_iv(options_for(dir, /*skip_bad_rows=*/true), sink, audit);
  const auto& labs = audit.tables().at("hosp/labevents");
  EXPECT_EQ(labs.rows, 3);
  EXPECT_EQ(labs.events, 2);
  EXPECT_EQ(labs.dropped.at("malformed row (skipped with --on-bad-row=skip)"), 1);
  EXPECT_EQ(labs.rows, labs.events + dropped_total(labs));
}

TEST(MimicImport, UnparsableTimeNamesFileAndLineOrIsSkipped) {
  TempDir dir;
  write_mimic(dir);
  std::string rows = kAdmissionsRows;
  rows.replace(rows.find("2180-07-23 12:35:00"), 19, "2180-13-45 99:00:00");
  write_text(dir / "hosp/admissions.csv", kAdmissionsHeader + rows);
  const std::string message = import_error(options_for(dir));
  EXPECT_NE(message.find("admissions.csv:2"), std::string::npos) << message;
  EXPECT_NE(message.find("admittime"), std::string::npos) << message;
  EXPECT_EQ(message.find("10001001"), std::string::npos) << "raw subject id in: " << message;

  RecordingSink sink;
  PrepAudit audit;
  import_mimic_iv(options_for(dir, /*skip_bad_rows=*/true), sink, audit);
  EXPECT_EQ(audit.tables().at("hosp/admissions").dropped.at("unparsable time"), 1);
  EXPECT_TRUE(sink.with_code("10001001", "HOSPITAL_ADMISSION//EW EMER.").empty());
  // Without its admission the diagnosis has no discharge time: dropped with a reason, not misplaced.
  EXPECT_TRUE(sink.with_code("10001001", "ICD10CM//I10").empty());
  EXPECT_EQ(audit.tables()
                .at("hosp/diagnoses_icd")
                .dropped.at("hadm_id not in admissions (no discharge time to place the diagnosis at)"),
            2);
  // The death time of that admission is lost with it: dod gives the death instead.
  EXPECT_EQ(sink.with_code("10001001", "MEDS_DEATH").at(0).time_s, at("2180-09-09"));
}

TEST(MimicImport, UnparsableNumberOrVersionIsABadRow) {
  TempDir dir;
  write_mimic(dir);
  write_text(dir / "hosp/labevents.csv",
             std::string(kLabeventsHeader) +
                 "1,10001001,20000501,77,51277,,2180-07-23 13:00:00,,high,high,%,,,,ROUTINE,\n");
  std::string message = import_error(options_for(dir));
  EXPECT_NE(message.find("labevents.csv:2"), std::string::npos) << message;
  EXPECT_NE(message.find("valuenum"), std::string::npos) << message;

  write_mimic(dir);
  write_text(dir / "hosp/diagnoses_icd.csv",
             "subject_id,hadm_id,seq_num,icd_code,icd_version\n10001001,20000501,1,I10,11\n");
  message = import_error(options_for(dir));
  EXPECT_NE(message.find("diagnoses_icd.csv:2"), std::string::npos) << message;
  EXPECT_NE(message.find("icd_version"), std::string::npos) << message;
}

// ---- The real MIMIC-IV demo (100 patients), when ../shared/data is present. ----

TEST(MimicRealData, DemoHasOneBirthPerPatientAndOrderedTimelines) {
  const std::string root = std::string(CLINFM_SHARED_DATA_DIR) + "/mimic-iv-demo-2.2";
  if (!std::filesystem::is_directory(root)) GTEST_SKIP() << "../shared/data not present";
  RecordingSink sink;
  PrepAudit audit;
  ImportOptions options;
  options.input = root;
  import_mimic_iv(options, sink, audit);

  ASSERT_EQ(sink.births.size(), 100u);
  for (const auto& [subject, births] : sink.births) EXPECT_EQ(births.size(), 1u);
  for (const auto& [subject, list] : sink.events) {
    ASSERT_EQ(sink.births.count(subject), 1u) << "events of a subject without a birth";
    const int64_t birth = sink.births.at(subject)[0];
    std::vector<int64_t> times;
    int deaths = 0;
    for (const auto& e : list) {
      times.push_back(e.time_s);
      deaths += e.code == "MEDS_DEATH";
    }
    std::sort(times.begin(), times.end());
    EXPECT_LE(deaths, 1);
    // Birth is exact to about a year (anchor_age), and MIMIC's top-coded ages (91) stay below 120.
    EXPECT_GE(times.front(), birth - static_cast<int64_t>(kDaysPerYear * kSecondsPerDay));
    EXPECT_LE(times.back() - birth, static_cast<int64_t>(120 * kDaysPerYear * kSecondsPerDay));
    // Every diagnosis sits on a discharge of the same subject.
    std::set<int64_t> discharges;
    for (const auto& e : list)
      if (e.code.rfind("HOSPITAL_DISCHARGE//", 0) == 0) discharges.insert(e.time_s);
    for (const auto& e : list) {
      if (e.code.rfind("ICD9CM//", 0) == 0 || e.code.rfind("ICD10CM//", 0) == 0) {
        EXPECT_EQ(discharges.count(e.time_s), 1u) << e.code;
      }
    }
  }

  const auto& tables = audit.tables();
  for (const char* name : {"hosp/diagnoses_icd", "hosp/procedures_icd", "hosp/labevents",
                           "hosp/prescriptions", "hosp/transfers"}) {
    const auto& t = tables.at(name);
    EXPECT_GT(t.rows, 0) << name;
    EXPECT_EQ(t.rows, t.events + dropped_total(t)) << name;
  }
  EXPECT_EQ(tables.at("hosp/patients").rows, 100);
  EXPECT_EQ(tables.at("hosp/admissions").rows, 275);
  EXPECT_EQ(tables.at("hosp/labevents").rows, 107727);
  EXPECT_EQ(tables.at("hosp/diagnoses_icd").events, 4506);
  EXPECT_EQ(sink.count_prefix("MEDS_DEATH"), 31);
  EXPECT_FALSE(tables.at("hosp/emar").unread_reason.empty());
  EXPECT_FALSE(tables.at("icu/inputevents").unread_reason.empty());
  for (const auto& [name, t] : tables) {
    std::string dropped;
    for (const auto& [reason, n] : t.dropped) dropped += " [" + reason + ": " + std::to_string(n) + "]";
    if (t.missing_reason.empty() && t.unread_reason.empty())
      std::printf("  %-22s rows %8lld  events %8lld%s\n", name.c_str(), static_cast<long long>(t.rows),
                  static_cast<long long>(t.events), dropped.c_str());
  }
}

}  // namespace
}  // namespace clinfm
