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
#include <functional>
#include <map>
#include <string>

#include "common/config/config.h"

namespace clinfm {

// The processes of one prep (`mpirun -np N clinfm prep ...`; docs/data/prep.md). data/ uses no
// MPI itself: the command line fills these from trainer/comm/launch.h. The default is a world of
// one. Every call is collective: every rank makes it, in the same order.
struct PrepRanks {
  int rank = 0, size = 1;
  // Rank 0's `text` on every rank.
  std::function<std::string(const std::string&)> broadcast = [](const std::string& t) { return t; };
  // Every rank's `text`, handed to `receive(rank, text)` on rank 0 in rank order; no-op elsewhere.
  std::function<void(const std::string&, const std::function<void(int, std::string)>&)> gather =
      [](const std::string& t, const std::function<void(int, std::string)>& receive) { receive(0, t); };
  // The largest `value` over the ranks.
  std::function<int(int)> max = [](int v) { return v; };
};

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
  PrepRanks ranks;     // a world of one unless started under mpirun/srun
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
