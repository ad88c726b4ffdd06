// One synthetic patient's timeline, from birth to death or the end of follow-up, appended as
// MEDS CSV rows and truth rows to text buffers. A patient depends only on (seed, subject_id),
// so patients can be generated in any order and on any thread. Files, threads and compression
// live in synth_cohort.cpp; the hazards and lab values in synth_model.cpp; the optional
// background codes (`--codes`) in synth_background.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace clinfm::synth {

class BackgroundCodes;

struct PatientCounts {
  int64_t events = 0;             // CSV rows
  int64_t background_events = 0;  // of which background codes
  int64_t deaths = 0;
  int64_t truth_rows = 0;
};

// Reusable per-thread buffers; one object generates any number of patients.
class PatientWriter {
 public:
  // `background` (may be null: none) must outlive the writer.
  explicit PatientWriter(const BackgroundCodes* background = nullptr) : background_(background) {}

  // Appends subject `subject_id` (>= 1) to `cohort_csv` (no header) and `truth_csv`.
  void write(uint64_t seed, int64_t subject_id, std::string& cohort_csv, std::string& truth_csv,
             PatientCounts& counts);

  struct Row {
    int64_t time;      // seconds since 1970
    uint32_t order;    // emission order, breaks ties of time
    int32_t decimals;  // -1: no numeric value
    const char* code;
    double value;
  };

 private:
  const BackgroundCodes* background_;
  std::vector<Row> rows_;
};

// "YYYY-MM-DD HH:MM:SS" of seconds since 1970 (UTC).
void append_timestamp(std::string& out, int64_t seconds);

}  // namespace clinfm::synth
