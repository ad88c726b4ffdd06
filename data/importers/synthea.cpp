// Synthea CSV importer (exporter.csv.export = true; Synthea 2.x and 3.x headers): patients.csv
// (required) with encounters, conditions, observations, medications, procedures and
// immunizations (optional), as .csv or .csv.gz. docs/data/synthea.md gives every mapping and why.
//
// Synthea's patients.csv carries (fake) direct identifiers: names, SSN, driver's licence,
// passport, address, coordinates. They are declared and dropped, never read into memory beyond
// the current record. It deliberately does not read allergies, care plans, devices, imaging,
// supplies, claims or the organisation/provider/payer reference tables. Memory is one record.
#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <limits>
#include <set>

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

constexpr const char* kPatientRule = "keyed hash (HMAC-SHA256 with the secret salt): pseudonymous key";
constexpr const char* kDirectIdentifier = "dropped: direct identifier";

const TableSpec kPatientsSpec{
    "patients",
    {{"Id", ColumnUse::kTransformed, kPatientRule},
     {"BIRTHDATE", ColumnUse::kTransformed,
      "birth time (00:00 of the date); the date itself never reaches the data set"},
     {"DEATHDATE", ColumnUse::kTransformed, "MEDS_DEATH at this date (00:00)"},
     {"SSN", ColumnUse::kDropped, kDirectIdentifier},
     {"DRIVERS", ColumnUse::kDropped, kDirectIdentifier},
     {"PASSPORT", ColumnUse::kDropped, kDirectIdentifier},
     {"PREFIX", ColumnUse::kDropped, "dropped: part of the name"},
     {"FIRST", ColumnUse::kDropped, kDirectIdentifier},
     {"MIDDLE", ColumnUse::kDropped, kDirectIdentifier},
     {"LAST", ColumnUse::kDropped, kDirectIdentifier},
     {"SUFFIX", ColumnUse::kDropped, "dropped: part of the name"},
     {"MAIDEN", ColumnUse::kDropped, kDirectIdentifier},
     {"MARITAL", ColumnUse::kDropped, "dropped: quasi-identifier"},
     {"RACE", ColumnUse::kDropped, "dropped: quasi-identifier (sensitive attribute)"},
     {"ETHNICITY", ColumnUse::kDropped, "dropped: quasi-identifier (sensitive attribute)"},
     {"GENDER", ColumnUse::kTransformed, "static code GENDER//{GENDER}"},
     {"BIRTHPLACE", ColumnUse::kDropped, kDirectIdentifier},
     {"ADDRESS", ColumnUse::kDropped, kDirectIdentifier},
     {"CITY", ColumnUse::kDropped, "dropped: geographic subdivision smaller than a state"},
     {"STATE", ColumnUse::kDropped, "dropped: geography"},
     {"COUNTY", ColumnUse::kDropped, "dropped: geographic subdivision smaller than a state"},
     {"FIPS", ColumnUse::kDropped, "dropped: county code (geographic subdivision)"},
     {"ZIP", ColumnUse::kDropped, kDirectIdentifier},
     {"LAT", ColumnUse::kDropped, "dropped: home coordinates (direct identifier)"},
     {"LON", ColumnUse::kDropped, "dropped: home coordinates (direct identifier)"},
     {"HEALTHCARE_EXPENSES", ColumnUse::kDropped,
      "dropped: lifetime total at the end of the simulation (future)"},
     {"HEALTHCARE_COVERAGE", ColumnUse::kDropped,
      "dropped: lifetime total at the end of the simulation (future)"},
     {"INCOME", ColumnUse::kDropped, "dropped: quasi-identifier"}}};

const TableSpec kEncountersSpec{
    "encounters",
    {{"Id", ColumnUse::kDropped, "dropped: encounter identifier"},
     {"START", ColumnUse::kTransformed, "event time"},
     {"STOP", ColumnUse::kDropped, "dropped: end of the encounter"},
     {"PATIENT", ColumnUse::kTransformed, kPatientRule},
     {"ORGANIZATION", ColumnUse::kDropped, "dropped: organisation identifier"},
     {"PROVIDER", ColumnUse::kDropped, "dropped: provider identifier"},
     {"PAYER", ColumnUse::kDropped, "dropped: payer identifier"},
     {"ENCOUNTERCLASS", ColumnUse::kKept, "event code ENCOUNTER//{ENCOUNTERCLASS} (UNKNOWN if empty)"},
     {"CODE", ColumnUse::kDropped, "dropped: encounter type (ENCOUNTERCLASS kept)"},
     {"SYSTEM", ColumnUse::kDropped, "dropped: system of the encounter type code"},
     {"DESCRIPTION", ColumnUse::kDropped, "dropped: free text"},
     {"BASE_ENCOUNTER_COST", ColumnUse::kDropped, "dropped: cost"},
     {"TOTAL_CLAIM_COST", ColumnUse::kDropped, "dropped: cost"},
     {"PAYER_COVERAGE", ColumnUse::kDropped, "dropped: cost"},
     {"REASONCODE", ColumnUse::kDropped, "dropped: the reason is a condition, also in conditions.csv"},
     {"REASONDESCRIPTION", ColumnUse::kDropped, "dropped: free text"}}};

const TableSpec kConditionsSpec{
    "conditions",
    {{"START", ColumnUse::kTransformed, "event time"},
     {"STOP", ColumnUse::kDropped, "dropped: resolution date"},
     {"PATIENT", ColumnUse::kTransformed, kPatientRule},
     {"ENCOUNTER", ColumnUse::kDropped, "dropped: encounter identifier"},
     {"SYSTEM", ColumnUse::kTransformed, "code prefix (SNOMED when absent or empty)"},
     {"CODE", ColumnUse::kKept, "event code SNOMED//{CODE}"},
     {"DESCRIPTION", ColumnUse::kDropped, "dropped: free text"}}};

const TableSpec kObservationsSpec{
    "observations",
    {{"DATE", ColumnUse::kTransformed, "event time"},
     {"PATIENT", ColumnUse::kTransformed, kPatientRule},
     {"ENCOUNTER", ColumnUse::kDropped, "dropped: encounter identifier"},
     {"CATEGORY", ColumnUse::kDropped, "dropped: category (vital-signs, laboratory, survey, ...)"},
     {"SYSTEM", ColumnUse::kTransformed, "code prefix (LOINC when absent or empty)"},
     {"CODE", ColumnUse::kKept, "event code LOINC//{CODE}"},
     {"DESCRIPTION", ColumnUse::kDropped, "dropped: free text"},
     {"VALUE", ColumnUse::kTransformed,
      "numeric value when TYPE is numeric; text values dropped (free text)"},
     {"UNITS", ColumnUse::kDropped, "dropped: implied by the LOINC code"},
     {"TYPE", ColumnUse::kTransformed, "numeric or text: whether VALUE is kept"}}};

const TableSpec kMedicationsSpec{
    "medications",
    {{"START", ColumnUse::kTransformed, "event time"},
     {"STOP", ColumnUse::kDropped, "dropped: end of the prescription"},
     {"PATIENT", ColumnUse::kTransformed, kPatientRule},
     {"PAYER", ColumnUse::kDropped, "dropped: payer identifier"},
     {"ENCOUNTER", ColumnUse::kDropped, "dropped: encounter identifier"},
     {"SYSTEM", ColumnUse::kTransformed, "code prefix (RXNORM when absent or empty)"},
     {"CODE", ColumnUse::kKept, "event code RXNORM//{CODE}"},
     {"DESCRIPTION", ColumnUse::kDropped, "dropped: free text"},
     {"BASE_COST", ColumnUse::kDropped, "dropped: cost"},
     {"PAYER_COVERAGE", ColumnUse::kDropped, "dropped: cost"},
     {"DISPENSES", ColumnUse::kDropped,
      "dropped: count of dispenses up to the end of the simulation (future)"},
     {"TOTALCOST", ColumnUse::kDropped, "dropped: cost"},
     {"REASONCODE", ColumnUse::kDropped, "dropped: the reason is a condition, also in conditions.csv"},
     {"REASONDESCRIPTION", ColumnUse::kDropped, "dropped: free text"}}};

const TableSpec kProceduresSpec{
    "procedures",
    {{"START", ColumnUse::kTransformed, "event time (Synthea 3.x)"},
     {"DATE", ColumnUse::kTransformed, "event time (Synthea 2.x, instead of START)"},
     {"STOP", ColumnUse::kDropped, "dropped: end of the procedure"},
     {"PATIENT", ColumnUse::kTransformed, kPatientRule},
     {"ENCOUNTER", ColumnUse::kDropped, "dropped: encounter identifier"},
     {"SYSTEM", ColumnUse::kTransformed, "code prefix (SNOMED when absent or empty)"},
     {"CODE", ColumnUse::kKept, "event code SNOMED//{CODE}"},
     {"DESCRIPTION", ColumnUse::kDropped, "dropped: free text"},
     {"BASE_COST", ColumnUse::kDropped, "dropped: cost"},
     {"REASONCODE", ColumnUse::kDropped, "dropped: the reason is a condition, also in conditions.csv"},
     {"REASONDESCRIPTION", ColumnUse::kDropped, "dropped: free text"}}};

const TableSpec kImmunizationsSpec{
    "immunizations",
    {{"DATE", ColumnUse::kTransformed, "event time"},
     {"PATIENT", ColumnUse::kTransformed, kPatientRule},
     {"ENCOUNTER", ColumnUse::kDropped, "dropped: encounter identifier"},
     {"SYSTEM", ColumnUse::kTransformed, "code prefix (CVX when absent or empty)"},
     {"CODE", ColumnUse::kKept, "event code CVX//{CODE}"},
     {"DESCRIPTION", ColumnUse::kDropped, "dropped: free text"},
     {"BASE_COST", ColumnUse::kDropped, "dropped: cost"}}};

// A coded table: one event per row, `{prefix}//{CODE}` at the time column.
struct CodedTable {
  const TableSpec* spec;
  const char* default_prefix;  // when the export has no SYSTEM column or it is empty
  const char* time_column;     // "START" or "DATE"
};

const CodedTable kCodedTables[] = {{&kConditionsSpec, "SNOMED", "START"},
                                   {&kObservationsSpec, "LOINC", "DATE"},
                                   {&kMedicationsSpec, "RXNORM", "START"},
                                   {&kProceduresSpec, "SNOMED", "START"},
                                   {&kImmunizationsSpec, "CVX", "DATE"}};

// Code prefix for a SYSTEM value ("http://snomed.info/sct", "SNOMED-CT", "RxNorm", ...); empty
// when the system is not one this importer knows.
std::string_view prefix_of_system(std::string_view system, std::string_view default_prefix) {
  system = trim(system);
  if (system.empty()) return default_prefix;
  std::string lower(system);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto has = [&](const char* part) { return lower.find(part) != std::string::npos; };
  if (has("snomed")) return "SNOMED";
  if (has("loinc")) return "LOINC";
  if (has("rxnorm")) return "RXNORM";
  if (has("cvx")) return "CVX";
  if (has("icd-10-cm") || has("icd10cm")) return "ICD10CM";
  if (has("icd-10") || has("icd10")) return "ICD10";
  if (has("icd-9-cm") || has("icd9cm")) return "ICD9CM";
  return {};
}

// The file of a table such as "patients": .csv first, then .csv.gz; empty when neither exists.
std::string table_file(const fs::path& root, const std::string& table) {
  return importers::table_file(root, table, {".csv", ".csv.gz"});
}

void import_patients(const std::string& path, const ImportOptions& options, EventSink& sink,
                     PrepAudit& audit) {
  Table t(path, kPatientsSpec, options, audit);
  const int id_col = t.column("Id"), birth_col = t.column("BIRTHDATE");
  const int death_col = t.optional_column("DEATHDATE"), gender_col = t.optional_column("GENDER");
  std::string code;
  while (t.next()) {
    const std::string_view patient = trim(t[id_col]);
    int64_t birth = 0, death = 0;
    bool has_death = false;
    if (!t.has_patient(patient) || !t.required_time(birth_col, "BIRTHDATE", &birth) ||
        !t.optional_time(death_col, "DEATHDATE", &death, &has_death)) {
      continue;
    }
    sink.add_birth(patient, birth);
    t.count_event();
    const std::string_view gender = trim(t[gender_col]);
    if (!gender.empty()) {
      code.assign("GENDER//").append(gender);
      sink.add_static(patient, code);
      t.count_event();
    }
    if (has_death) t.emit(sink, patient, death, kDeathCode);
  }
  t.finish();
}

void import_encounters(const std::string& path, const ImportOptions& options, EventSink& sink,
                       PrepAudit& audit) {
  Table t(path, kEncountersSpec, options, audit);
  const int patient_col = t.column("PATIENT"), start_col = t.column("START");
  const int class_col = t.column("ENCOUNTERCLASS");
  std::string code;
  while (t.next()) {
    const std::string_view patient = trim(t[patient_col]), encounter_class = trim(t[class_col]);
    int64_t time_s = 0;
    if (!t.has_patient(patient) || !t.required_time(start_col, "START", &time_s)) continue;
    code.assign("ENCOUNTER//").append(encounter_class.empty() ? "UNKNOWN" : encounter_class);
    t.emit(sink, patient, time_s, code);
  }
  t.finish();
}

void import_coded(const std::string& path, const CodedTable& table, const ImportOptions& options,
                  EventSink& sink, PrepAudit& audit) {
  Table t(path, *table.spec, options, audit);
  const int patient_col = t.column("PATIENT"), code_col = t.column("CODE");
  const int system_col = t.optional_column("SYSTEM");
  int time_col = t.optional_column(table.time_column);
  const char* time_name = table.time_column;
  if (time_col < 0 && table.spec == &kProceduresSpec) {  // Synthea 2.x procedures have DATE, 3.x START
    time_col = t.optional_column("DATE");
    time_name = "DATE";
  }
  if (time_col < 0) time_col = t.column(table.time_column);  // throws, naming the missing column
  const int value_col = table.spec == &kObservationsSpec ? t.optional_column("VALUE") : -1;
  const int type_col = table.spec == &kObservationsSpec ? t.optional_column("TYPE") : -1;
  std::string code;
  while (t.next()) {
    const std::string_view patient = trim(t[patient_col]), source_code = trim(t[code_col]);
    int64_t time_s = 0;
    if (!t.has_patient(patient) || !t.required_time(time_col, time_name, &time_s)) continue;
    double value = kNoValue;
    const std::string_view value_text = trim(t[value_col]);
    // Without a TYPE column (older exports) a value is numeric when it reads as a number.
    const bool numeric = type_col >= 0 ? trim(t[type_col]) == "numeric" : parse_double(value_text, &value);
    if (type_col >= 0 && numeric && !value_text.empty() && !parse_double(value_text, &value)) {
      t.bad_row("unparsable numeric VALUE", "VALUE of a numeric observation is not a number");
      continue;
    }
    if (source_code.empty()) {
      t.drop("empty CODE");
      continue;
    }
    const std::string_view prefix = prefix_of_system(t[system_col], table.default_prefix);
    if (prefix.empty()) {
      t.drop("unknown code SYSTEM (not SNOMED, LOINC, RxNorm, CVX or ICD)");
      continue;
    }
    code.assign(prefix).append("//").append(source_code);
    t.emit(sink, patient, time_s, code, value);
  }
  t.finish();
}

// Tables of the export that this version does not read, so the audit shows they were seen.
void note_unread_tables(const fs::path& root, PrepAudit& audit) {
  std::set<std::string> read = {"patients", "encounters"};
  for (const auto& table : kCodedTables) read.insert(table.spec->table);
  const std::set<std::string> reference = {"organizations", "providers", "payers"};
  for (const std::string& table : importers::csv_tables_in(root, "")) {
    if (read.count(table)) continue;
    audit.note_unread_table(table, reference.count(table)
                                       ? "reference table (names, addresses, phone numbers)"
                                       : "not imported by this version of the Synthea importer");
  }
}

}  // namespace

void import_synthea(const ImportOptions& options, EventSink& sink, PrepAudit& audit) {
  const fs::path root(options.input);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw InputError(fmt::format("Synthea input '{}' is not a folder", options.input),
                     "give the folder of a Synthea CSV export (output/csv, the one holding patients.csv)");
  }
  const std::string patients = table_file(root, "patients");
  if (patients.empty()) {
    throw InputError(fmt::format("Synthea table patients.csv is missing: {} does not exist",
                                 (root / "patients.csv").string()),
                     "give the folder of a Synthea CSV export (output/csv, the one holding patients.csv)");
  }
  import_patients(patients, options, sink, audit);
  const std::string encounters = table_file(root, "encounters");
  if (encounters.empty()) {
    audit.note_missing_table("encounters", "not in this export (optional)");
  } else {
    import_encounters(encounters, options, sink, audit);
  }
  for (const auto& table : kCodedTables) {
    const std::string path = table_file(root, table.spec->table);
    if (path.empty()) {
      audit.note_missing_table(table.spec->table, "not in this export (optional)");
      continue;
    }
    import_coded(path, table, options, sink, audit);
  }
  note_unread_tables(root, audit);
}

}  // namespace clinfm
