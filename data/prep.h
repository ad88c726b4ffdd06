// `clinfm prep`: export -> de-identified, sharded HDF5 data set.
//   pass 1  the importer streams the export into P partition files by pseudonymous key
//   pass 2  per partition: group timelines, count codes and sample values of training patients
//           -> vocabulary (suppression, value bins)
//   pass 3  per partition: map codes to tokens and values to bins, append to the shard of the
//           patient's split
// Everything is written into OUTPUT.tmp-<pid> and renamed to OUTPUT at the very end, so an
// interrupted or failed prep leaves no half data set (the temporary folder is removed).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/config/config.h"

namespace clinfm {

struct PrepOptions {
  std::string format;  // mimic-iv | meds | synthea | delphi
  std::string input;
  std::string output;
  bool overwrite = false;
  bool skip_bad_rows = false;
  double no_event_years = 5.0;  // --format delphi: "No event" tokens every N years (0: none)
  bool resplit = false;         // --resplit: ignore the export's splits, draw every split from the key
  DataConfig data;              // salt_file, min_patients_per_code, max_age_years, value_bins, splits, shards
  std::string command_line;     // recorded in the manifest
  int partitions = 0;  // pass 1's partition files; 0: from the input's size (partitions_for_input_bytes)
};

struct PrepSummary {
  std::map<std::string, int64_t> patients;  // per split
  std::map<std::string, int64_t> events;    // per split
  int64_t input_records = 0;                // events the importer produced
  int64_t vocabulary_size = 0;
  int64_t shards = 0;
  double import_seconds = 0, total_seconds = 0;
  std::string canary_file;  // the secret canary file written (data.canaries > 0), else empty
};

PrepSummary run_prep(const PrepOptions& options);

}  // namespace clinfm
