// MIMIC-IV 2.x importer: the official CSV tables (.csv.gz preferred, .csv accepted) under
// `hosp/` and `icu/`. hosp/patients and hosp/admissions are required; diagnoses, procedures,
// labs, prescriptions, transfers and ICU stays are read when present. docs/data/mimic-iv.md
// gives every table, column and timestamp choice and why.
//
// It deliberately does not read icu/chartevents, emar, microbiology, notes or the d_* dictionary
// tables (codes keep MIMIC's own item ids and names), and it never joins on free text. Memory is
// one CSV record plus two maps: hadm_id -> discharge time (diagnoses have no time of their own)
// and subject -> in-hospital death time (more precise than patients.dod).
// Over 400 lines: one reader per MIMIC-IV table, each short, kept together so that the table
// list, the shared admission maps and the column rules are read in one place.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>
#include <set>
#include <unordered_map>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/importers/table.h"
#include "data/source.h"
#include "data/timestamp.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {
using importers::kNoValue;
using importers::Table;
using importers::trim;

constexpr const char* kSubjectRule = "keyed hash (HMAC-SHA256 with the secret salt): pseudonymous key";
// ---- Column rules: every column of MIMIC-IV 2.0-2.2 (and 1.0 names where they differ). ----

const TableSpec kPatientsSpec{
    "hosp/patients",
    {{"subject_id", ColumnUse::kTransformed, kSubjectRule},
     {"gender", ColumnUse::kTransformed, "static code GENDER//{gender}"},
     {"anchor_age", ColumnUse::kTransformed,
      "with anchor_year: birth at 1 January of (anchor_year - anchor_age), error up to 1 year"},
     {"anchor_year", ColumnUse::kTransformed,
      "with anchor_age: birth year (the shifted year itself is dropped)"},
     {"anchor_year_group", ColumnUse::kDropped,
      "dropped: real calendar years, would undo MIMIC's date shift"},
     {"dod", ColumnUse::kTransformed,
      "MEDS_DEATH at this date (00:00) unless admissions.deathtime gives the in-hospital death time"}}};

const TableSpec kAdmissionsSpec{
    "hosp/admissions",
    {{"subject_id", ColumnUse::kTransformed, kSubjectRule},
     {"hadm_id", ColumnUse::kTransformed, "joins diagnoses to the discharge time; never written"},
     {"admittime", ColumnUse::kTransformed, "time of HOSPITAL_ADMISSION//{admission_type}"},
     {"dischtime", ColumnUse::kTransformed,
      "time of HOSPITAL_DISCHARGE//{discharge_location} and of diagnoses"},
     {"deathtime", ColumnUse::kTransformed,
      "time of MEDS_DEATH (preferred over patients.dod; latest if several)"},
     {"admission_type", ColumnUse::kKept,
      "event code HOSPITAL_ADMISSION//{admission_type} (UNKNOWN if empty)"},
     {"admit_provider_id", ColumnUse::kDropped, "dropped: provider identifier"},
     {"admission_location", ColumnUse::kDropped, "dropped: not used by this version (admission_type kept)"},
     {"discharge_location", ColumnUse::kKept,
      "event code HOSPITAL_DISCHARGE//{discharge_location} (UNKNOWN if empty)"},
     {"insurance", ColumnUse::kDropped, "dropped: per-admission socio-economic attribute, quasi-identifier"},
     {"language", ColumnUse::kDropped, "dropped: quasi-identifier"},
     {"marital_status", ColumnUse::kDropped, "dropped: quasi-identifier"},
     {"race", ColumnUse::kDropped, "dropped: quasi-identifier (sensitive attribute)"},
     {"ethnicity", ColumnUse::kDropped, "dropped: quasi-identifier (MIMIC-IV 1.0 name of race)"},
     {"edregtime", ColumnUse::kTransformed, "time of ED_REGISTRATION (when present)"},
     {"edouttime", ColumnUse::kTransformed, "time of ED_OUT (when present)"},
     {"hospital_expire_flag", ColumnUse::kDropped, "dropped: redundant with deathtime"}}};

const TableSpec kDiagnosesSpec{"hosp/diagnoses_icd",
                               {{"subject_id", ColumnUse::kTransformed, kSubjectRule},
                                {"hadm_id", ColumnUse::kTransformed,
                                 "event time: the admission's dischtime (diagnoses are coded at discharge)"},
                                {"seq_num", ColumnUse::kDropped, "dropped: billing priority"},
                                {"icd_code", ColumnUse::kKept, "event code ICD{icd_version}CM//{icd_code}"},
                                {"icd_version", ColumnUse::kKept, "9 or 10, in the code prefix"}}};

const TableSpec kProceduresSpec{
    "hosp/procedures_icd",
    {{"subject_id", ColumnUse::kTransformed, kSubjectRule},
     {"hadm_id", ColumnUse::kDropped, "dropped: chartdate gives the time"},
     {"seq_num", ColumnUse::kDropped, "dropped: billing priority"},
     {"chartdate", ColumnUse::kTransformed, "event time (00:00 of the date)"},
     {"icd_code", ColumnUse::kKept, "event code ICD10PCS//{icd_code} or ICD9PROC//{icd_code}"},
     {"icd_version", ColumnUse::kKept, "9 or 10, in the code prefix"}}};

const TableSpec kLabeventsSpec{
    "hosp/labevents",
    {{"labevent_id", ColumnUse::kDropped, "dropped: row identifier"},
     {"subject_id", ColumnUse::kTransformed, kSubjectRule},
     {"hadm_id", ColumnUse::kDropped, "dropped: admission identifier"},
     {"specimen_id", ColumnUse::kDropped, "dropped: specimen identifier"},
     {"itemid", ColumnUse::kKept, "event code LAB//{itemid}//{valueuom}"},
     {"order_provider_id", ColumnUse::kDropped, "dropped: provider identifier"},
     {"charttime", ColumnUse::kTransformed, "event time (specimen time)"},
     {"storetime", ColumnUse::kDropped, "dropped: result time (charttime used, see docs/data/mimic-iv.md)"},
     {"value", ColumnUse::kDropped, "dropped: text form of the value, may hold free text"},
     {"valuenum", ColumnUse::kKept, "numeric value (NaN when empty)"},
     {"valueuom", ColumnUse::kKept, "unit in the event code (UNK when empty)"},
     {"ref_range_lower", ColumnUse::kDropped, "dropped: reference range"},
     {"ref_range_upper", ColumnUse::kDropped, "dropped: reference range"},
     {"flag", ColumnUse::kDropped, "dropped: abnormal flag, derivable from the value"},
     {"priority", ColumnUse::kDropped, "dropped: order priority"},
     {"comments", ColumnUse::kDropped, "dropped: free text, may hold identifiers"}}};

const TableSpec kPrescriptionsSpec{
    "hosp/prescriptions",
    {{"subject_id", ColumnUse::kTransformed, kSubjectRule},
     {"hadm_id", ColumnUse::kDropped, "dropped: admission identifier"},
     {"pharmacy_id", ColumnUse::kDropped, "dropped: order identifier"},
     {"poe_id", ColumnUse::kDropped, "dropped: order identifier"},
     {"poe_seq", ColumnUse::kDropped, "dropped: order sequence"},
     {"order_provider_id", ColumnUse::kDropped, "dropped: provider identifier"},
     {"starttime", ColumnUse::kTransformed, "event time (rows without it are dropped)"},
     {"stoptime", ColumnUse::kDropped, "dropped: end of the order"},
     {"drug_type", ColumnUse::kDropped, "dropped: MAIN/BASE/ADDITIVE"},
     {"drug", ColumnUse::kTransformed, "event code RX//{DRUG} (upper-cased, trimmed)"},
     {"formulary_drug_cd", ColumnUse::kDropped, "dropped: hospital formulary code"},
     {"gsn", ColumnUse::kDropped, "dropped: drug product code"},
     {"ndc", ColumnUse::kDropped, "dropped: drug product code"},
     {"prod_strength", ColumnUse::kDropped, "dropped: product text"},
     {"form_rx", ColumnUse::kDropped, "dropped: dose form"},
     {"dose_val_rx", ColumnUse::kDropped, "dropped: dose (text, not always numeric)"},
     {"dose_unit_rx", ColumnUse::kDropped, "dropped: dose unit"},
     {"form_val_disp", ColumnUse::kDropped, "dropped: dispensed amount"},
     {"form_unit_disp", ColumnUse::kDropped, "dropped: dispensed unit"},
     {"doses_per_24_hrs", ColumnUse::kDropped, "dropped: frequency"},
     {"route", ColumnUse::kDropped, "dropped: route"}}};

const TableSpec kTransfersSpec{
    "hosp/transfers",
    {{"subject_id", ColumnUse::kTransformed, kSubjectRule},
     {"hadm_id", ColumnUse::kDropped, "dropped: admission identifier"},
     {"transfer_id", ColumnUse::kDropped, "dropped: row identifier"},
     {"eventtype", ColumnUse::kTransformed, "admit/transfer/ED become events; discharge rows are dropped"},
     {"careunit", ColumnUse::kKept, "event code TRANSFER//{careunit} (UNKNOWN if empty)"},
     {"intime", ColumnUse::kTransformed, "event time"},
     {"outtime", ColumnUse::kDropped, "dropped: the next transfer's intime"}}};

const TableSpec kIcustaysSpec{
    "icu/icustays",
    {{"subject_id", ColumnUse::kTransformed, kSubjectRule},
     {"hadm_id", ColumnUse::kDropped, "dropped: admission identifier"},
     {"stay_id", ColumnUse::kDropped, "dropped: stay identifier"},
     {"first_careunit", ColumnUse::kKept, "event code ICU_ADMISSION//{first_careunit}"},
     {"last_careunit", ColumnUse::kKept, "event code ICU_DISCHARGE//{last_careunit}"},
     {"intime", ColumnUse::kTransformed, "time of ICU_ADMISSION"},
     {"outtime", ColumnUse::kTransformed, "time of ICU_DISCHARGE (when present)"},
     {"los", ColumnUse::kDropped, "dropped: derivable from intime and outtime"}}};

std::string_view or_unknown(std::string_view text, std::string_view unknown = "UNKNOWN") {
  text = trim(text);
  return text.empty() ? unknown : text;
}

// The file of a table such as "hosp/labevents": .csv.gz first, then .csv; empty when neither exists.
std::string table_file(const fs::path& root, const std::string& table) {
  return importers::table_file(root, table, {".csv.gz", ".csv"});
}

// A subject_id that must be there; false (after bad_row) when empty.
bool has_subject(Table& table, std::string_view subject) {
  if (!subject.empty()) return true;
  table.bad_row("empty subject_id", "subject_id is empty");
  return false;
}

struct Admissions {
  std::unordered_map<int64_t, int64_t> discharge_time;  // hadm_id -> dischtime (s)
  std::unordered_map<std::string, int64_t> death_time;  // subject_id -> latest deathtime (s)
};

void import_admissions(const std::string& path, Admissions& admissions, const ImportOptions& options,
                       EventSink& sink, PrepAudit& audit) {
  Table t(path, kAdmissionsSpec, options, audit);
  const int subject_col = t.column("subject_id"), hadm_col = t.column("hadm_id");
  const int admit_col = t.column("admittime"), disch_col = t.column("dischtime");
  const int death_col = t.optional_column("deathtime");
  const int type_col = t.column("admission_type"), location_col = t.optional_column("discharge_location");
  const int ed_in_col = t.optional_column("edregtime"), ed_out_col = t.optional_column("edouttime");
  std::string code;
  while (t.next()) {
    const std::string_view subject = trim(t[subject_col]);
    int64_t hadm_id = 0, admit = 0, disch = 0, death = 0, ed_in = 0, ed_out = 0;
    bool has_death = false, has_ed_in = false, has_ed_out = false;
    if (!has_subject(t, subject)) continue;
    if (!parse_int64(trim(t[hadm_col]), &hadm_id)) {
      t.bad_row("unparsable hadm_id", "hadm_id is not an integer");
      continue;
    }
    if (!t.required_time(admit_col, "admittime", &admit) ||
        !t.required_time(disch_col, "dischtime", &disch) ||
        !t.optional_time(death_col, "deathtime", &death, &has_death) ||
        !t.optional_time(ed_in_col, "edregtime", &ed_in, &has_ed_in) ||
        !t.optional_time(ed_out_col, "edouttime", &ed_out, &has_ed_out)) {
      continue;
    }
    code.assign("HOSPITAL_ADMISSION//").append(or_unknown(t[type_col]));
    t.emit(sink, subject, admit, code);
    code.assign("HOSPITAL_DISCHARGE//").append(or_unknown(t[location_col]));
    t.emit(sink, subject, disch, code);
    if (has_ed_in) t.emit(sink, subject, ed_in, "ED_REGISTRATION");
    if (has_ed_out) t.emit(sink, subject, ed_out, "ED_OUT");
    admissions.discharge_time.emplace(hadm_id, disch);
    if (has_death) {
      auto [it, inserted] = admissions.death_time.emplace(std::string(subject), death);
      if (!inserted) it->second = std::max(it->second, death);
    }
  }
  t.finish();
}

void import_patients(const std::string& path, Admissions& admissions, const ImportOptions& options,
                     EventSink& sink, PrepAudit& audit) {
  Table t(path, kPatientsSpec, options, audit);
  const int subject_col = t.column("subject_id"), gender_col = t.column("gender");
  const int age_col = t.column("anchor_age"), year_col = t.column("anchor_year");
  const int dod_col = t.optional_column("dod");
  int64_t deaths_at_deathtime = 0, deaths_at_dod = 0;
  std::string code;
  while (t.next()) {
    const std::string_view subject = trim(t[subject_col]);
    int64_t anchor_age = 0, anchor_year = 0, dod = 0;
    bool has_dod = false;
    if (!has_subject(t, subject)) continue;
    if (!parse_int64(trim(t[age_col]), &anchor_age) || !parse_int64(trim(t[year_col]), &anchor_year) ||
        anchor_age < 0 || anchor_age > 150) {
      t.bad_row("unparsable anchor_age/anchor_year", "anchor_age or anchor_year is not a plausible integer");
      continue;
    }
    if (!t.optional_time(dod_col, "dod", &dod, &has_dod)) continue;
    sink.add_birth(subject, static_cast<int64_t>(days_from_civil(anchor_year - anchor_age, 1, 1) * 86400));
    t.count_event();
    const std::string_view gender = trim(t[gender_col]);
    if (!gender.empty()) {
      code.assign("GENDER//").append(gender);
      sink.add_static(subject, code);
      t.count_event();
    }
    const auto death = admissions.death_time.find(std::string(subject));
    if (death != admissions.death_time.end()) {
      t.emit(sink, subject, death->second, kDeathCode);
      ++deaths_at_deathtime;
    } else if (has_dod) {
      t.emit(sink, subject, dod, kDeathCode);
      ++deaths_at_dod;
    }
  }
  t.finish();
  audit.count("MIMIC-IV deaths placed at admissions.deathtime", deaths_at_deathtime);
  audit.count("MIMIC-IV deaths placed at patients.dod (00:00 of the date)", deaths_at_dod);
}

// "ICD{9|10}..." prefix from icd_version; false (after bad_row) for anything but 9 or 10.
bool icd_version(Table& t, std::string_view text, int64_t* version) {
  if (parse_int64(trim(text), version) && (*version == 9 || *version == 10)) return true;
  t.bad_row("icd_version not 9 or 10", "icd_version is not 9 or 10");
  return false;
}

void import_diagnoses(const std::string& path, Admissions& admissions, const ImportOptions& options,
                      EventSink& sink, PrepAudit& audit) {
  Table t(path, kDiagnosesSpec, options, audit);
  const int subject_col = t.column("subject_id"), hadm_col = t.column("hadm_id");
  const int code_col = t.column("icd_code"), version_col = t.column("icd_version");
  std::string code;
  while (t.next()) {
    const std::string_view subject = trim(t[subject_col]), icd = trim(t[code_col]);
    int64_t version = 0, hadm_id = 0;
    if (!has_subject(t, subject) || !icd_version(t, t[version_col], &version)) continue;
    if (icd.empty()) {
      t.drop("empty icd_code");
      continue;
    }
    const auto discharge = parse_int64(trim(t[hadm_col]), &hadm_id) ? admissions.discharge_time.find(hadm_id)
                                                                    : admissions.discharge_time.end();
    if (discharge == admissions.discharge_time.end()) {
      t.drop("hadm_id not in admissions (no discharge time to place the diagnosis at)");
      continue;
    }
    code.assign(version == 10 ? "ICD10CM//" : "ICD9CM//").append(icd);
    t.emit(sink, subject, discharge->second, code);
  }
  t.finish();
}

void import_procedures(const std::string& path, Admissions&, const ImportOptions& options, EventSink& sink,
                       PrepAudit& audit) {
  Table t(path, kProceduresSpec, options, audit);
  const int subject_col = t.column("subject_id"), date_col = t.column("chartdate");
  const int code_col = t.column("icd_code"), version_col = t.column("icd_version");
  std::string code;
  while (t.next()) {
    const std::string_view subject = trim(t[subject_col]), icd = trim(t[code_col]);
    int64_t version = 0, time_s = 0;
    if (!has_subject(t, subject) || !icd_version(t, t[version_col], &version) ||
        !t.required_time(date_col, "chartdate", &time_s)) {
      continue;
    }
    if (icd.empty()) {
      t.drop("empty icd_code");
      continue;
    }
    code.assign(version == 10 ? "ICD10PCS//" : "ICD9PROC//").append(icd);
    t.emit(sink, subject, time_s, code);
  }
  t.finish();
}

void import_labevents(const std::string& path, Admissions&, const ImportOptions& options, EventSink& sink,
                      PrepAudit& audit) {
  Table t(path, kLabeventsSpec, options, audit);
  const int subject_col = t.column("subject_id"), item_col = t.column("itemid");
  const int time_col = t.column("charttime"), value_col = t.column("valuenum");
  const int unit_col = t.optional_column("valueuom");
  std::string code;
  while (t.next()) {
    const std::string_view subject = trim(t[subject_col]), item = trim(t[item_col]);
    const std::string_view value_text = trim(t[value_col]);
    int64_t time_s = 0;
    double value = kNoValue;
    if (!has_subject(t, subject) || !t.required_time(time_col, "charttime", &time_s)) continue;
    if (item.empty()) {
      t.bad_row("empty itemid", "itemid is empty");
      continue;
    }
    if (!value_text.empty() && !parse_double(value_text, &value)) {
      t.bad_row("unparsable valuenum", "valuenum is not a number");
      continue;
    }
    code.assign("LAB//").append(item).append("//").append(or_unknown(t[unit_col], "UNK"));
    t.emit(sink, subject, time_s, code, value);
  }
  t.finish();
}

void import_prescriptions(const std::string& path, Admissions&, const ImportOptions& options, EventSink& sink,
                          PrepAudit& audit) {
  Table t(path, kPrescriptionsSpec, options, audit);
  const int subject_col = t.column("subject_id"), time_col = t.column("starttime");
  const int drug_col = t.column("drug");
  std::string code;
  while (t.next()) {
    const std::string_view subject = trim(t[subject_col]), drug = trim(t[drug_col]);
    int64_t time_s = 0;
    bool has_time = false;
    if (!has_subject(t, subject) || !t.optional_time(time_col, "starttime", &time_s, &has_time)) continue;
    if (!has_time) {
      t.drop("no starttime");
      continue;
    }
    if (drug.empty()) {
      t.drop("empty drug name");
      continue;
    }
    code.assign("RX//");
    for (const char c : drug) code += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    t.emit(sink, subject, time_s, code);
  }
  t.finish();
}

void import_transfers(const std::string& path, Admissions&, const ImportOptions& options, EventSink& sink,
                      PrepAudit& audit) {
  Table t(path, kTransfersSpec, options, audit);
  const int subject_col = t.column("subject_id"), type_col = t.column("eventtype");
  const int unit_col = t.column("careunit"), time_col = t.column("intime");
  std::string code;
  while (t.next()) {
    const std::string_view subject = trim(t[subject_col]), type = trim(t[type_col]);
    int64_t time_s = 0;
    if (!has_subject(t, subject)) continue;
    if (type == "discharge") {
      t.drop("discharge event (hosp/admissions gives the discharge)");
      continue;
    }
    if (type != "admit" && type != "transfer" && type != "ED") {
      t.drop("eventtype other than admit, transfer, ED or discharge");
      continue;
    }
    if (!t.required_time(time_col, "intime", &time_s)) continue;
    code.assign("TRANSFER//").append(or_unknown(t[unit_col]));
    t.emit(sink, subject, time_s, code);
  }
  t.finish();
}

void import_icustays(const std::string& path, Admissions&, const ImportOptions& options, EventSink& sink,
                     PrepAudit& audit) {
  Table t(path, kIcustaysSpec, options, audit);
  const int subject_col = t.column("subject_id"), first_col = t.column("first_careunit");
  const int last_col = t.column("last_careunit"), in_col = t.column("intime"), out_col = t.column("outtime");
  std::string code;
  while (t.next()) {
    const std::string_view subject = trim(t[subject_col]);
    int64_t in = 0, out = 0;
    bool has_out = false;
    if (!has_subject(t, subject) || !t.required_time(in_col, "intime", &in) ||
        !t.optional_time(out_col, "outtime", &out, &has_out)) {
      continue;
    }
    code.assign("ICU_ADMISSION//").append(or_unknown(t[first_col]));
    t.emit(sink, subject, in, code);
    if (has_out) {
      code.assign("ICU_DISCHARGE//").append(or_unknown(t[last_col]));
      t.emit(sink, subject, out, code);
    }
  }
  t.finish();
}

// One table this importer reads: its column rules (spec.table is its file under the root,
// without .csv.gz / .csv), whether an export must have it, and its import. `admissions` is
// filled by hosp/admissions and read by the tables after it.
struct MimicTable {
  const TableSpec& spec;
  bool required;
  void (*import)(const std::string& path, Admissions& admissions, const ImportOptions& options,
                 EventSink& sink, PrepAudit& audit);
};

// Every table this importer reads, in the order it reads them: hosp/admissions first, because
// patients need its in-hospital death times and diagnoses its discharge times.
const MimicTable kTables[] = {
    {kAdmissionsSpec, true, import_admissions}, {kPatientsSpec, true, import_patients},
    {kDiagnosesSpec, false, import_diagnoses},  {kProceduresSpec, false, import_procedures},
    {kLabeventsSpec, false, import_labevents},  {kPrescriptionsSpec, false, import_prescriptions},
    {kTransfersSpec, false, import_transfers},  {kIcustaysSpec, false, import_icustays},
};

// Tables of hosp/ and icu/ that this version does not read, so the audit shows they were seen.
void note_unread_tables(const fs::path& root, PrepAudit& audit) {
  std::set<std::string> read;
  for (const MimicTable& table : kTables) read.insert(table.spec.table);
  for (const char* folder : {"hosp", "icu"}) {
    for (const std::string& table : importers::csv_tables_in(root / folder, std::string(folder) + "/")) {
      if (read.count(table)) continue;
      const bool dictionary = table.find("/d_") != std::string::npos;
      audit.note_unread_table(table, dictionary ? "dictionary table (codes keep MIMIC's own ids)"
                                                : "not imported by this version of the MIMIC-IV importer");
    }
  }
}

}  // namespace

void import_mimic_iv(const ImportOptions& options, EventSink& sink, PrepAudit& audit) {
  const fs::path root(options.input);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw InputError(fmt::format("MIMIC-IV input '{}' is not a folder", options.input),
                     "give the MIMIC-IV root folder, the one that holds hosp/ and icu/");
  }
  // Every required table is looked for before anything is read.
  for (const MimicTable& table : kTables) {
    if (!table.required || !table_file(root, table.spec.table).empty()) continue;
    throw InputError(fmt::format("MIMIC-IV table {} is missing: neither {} nor {} exists", table.spec.table,
                                 (root / (table.spec.table + ".csv.gz")).string(),
                                 (root / (table.spec.table + ".csv")).string()),
                     "give the MIMIC-IV root folder, the one that holds hosp/ and icu/ (version 2.x)");
  }
  Admissions admissions;
  for (const MimicTable& table : kTables) {
    const std::string path = table_file(root, table.spec.table);
    if (path.empty()) {
      audit.note_missing_table(table.spec.table, "not in this export (optional)");
      continue;
    }
    table.import(path, admissions, options, sink, audit);
  }
  note_unread_tables(root, audit);
}

}  // namespace clinfm
