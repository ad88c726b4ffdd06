#include "data/prep.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <exception>
#include <filesystem>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "common/check.h"
#include "common/file_hash.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/sha256.h"
#include "data/canaries.h"
#include "data/dataset.h"
#include "data/partition.h"
#include "data/prep_ranks.h"
#include "data/prep_shards.h"
#include "data/shard.h"
#include "data/source.h"
#include "data/timeline_builder.h"
#include "data/vocab.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

// Removes the temporary output folder unless the prep completed.
class TemporaryFolder {
 public:
  explicit TemporaryFolder(fs::path path) : path_(std::move(path)) {}
  ~TemporaryFolder() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// SIGINT/SIGTERM during prep: stop the import at the next check, clean up, exit non-zero.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_prep_interrupted = false;
    previous_int_ = std::signal(SIGINT, handle);
    previous_term_ = std::signal(SIGTERM, handle);
  }
  ~InterruptGuard() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }

 private:
  static void handle(int) { g_prep_interrupted = true; }
  void (*previous_int_)(int) = SIG_DFL;
  void (*previous_term_)(int) = SIG_DFL;
};

void import(const std::string& format, const ImportOptions& options, EventSink& sink, PrepAudit& audit) {
  if (format == "meds") return import_meds(options, sink, audit);
  if (format == "mimic-iv") return import_mimic_iv(options, sink, audit);
  if (format == "synthea") return import_synthea(options, sink, audit);
  if (format == "delphi") return import_delphi(options, sink, audit);
  throw InputError(fmt::format("unknown --format '{}'", format),
                   "use one of: mimic-iv, meds, synthea, delphi");
}

nlohmann::json counts_to_json(const TimelineCounts& c) {
  return {c.patients_without_birth,    c.events_of_patients_without_birth,
          c.split_only_subjects,       c.extra_birth_records,
          c.events_before_birth,       c.events_top_coded,
          c.patients_with_fixed_split, c.patients_with_conflicting_splits};
}
void add_counts(TimelineCounts& c, const nlohmann::json& j) {
  int64_t* fields[] = {&c.patients_without_birth,    &c.events_of_patients_without_birth,
                       &c.split_only_subjects,       &c.extra_birth_records,
                       &c.events_before_birth,       &c.events_top_coded,
                       &c.patients_with_fixed_split, &c.patients_with_conflicting_splits};
  for (size_t i = 0; i < std::size(fields); ++i) *fields[i] += j.at(i).get<int64_t>();
}

// Bytes of the regular files at or under `input`.
uint64_t input_bytes(const std::string& input) {
  std::error_code ec;
  if (!fs::is_directory(input, ec)) return fs::file_size(input, ec);
  uint64_t bytes = 0;
  for (auto it = fs::recursive_directory_iterator(input, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) bytes += it->file_size(ec);
  }
  return bytes;
}

// The partition count: the option, else from the input's size; never more than the open-file
// limit allows beside what prep keeps open otherwise.
int choose_partitions(const PrepOptions& o, bool report) {
  const uint64_t bytes = input_bytes(o.input);
  int partitions = o.partitions > 0 ? o.partitions : partitions_for_input_bytes(bytes);
  const uint64_t reserve = 64;
  const uint64_t limit = raise_open_file_limit(uint64_t(partitions) + reserve);
  if (limit < uint64_t(partitions) + reserve) {
    const int allowed = static_cast<int>(std::max<uint64_t>(limit, reserve + 1) - reserve);
    log_warn(
        "prep: the open-file limit ({}) allows {} partition files, not {}: each holds more, so prep "
        "needs more memory (raise `ulimit -n`)",
        limit, allowed, partitions);
    partitions = allowed;
  }
  if (report) log_info("prep: {} partitions for {:.1f} MB of input", partitions, double(bytes) / 1e6);
  return partitions;
}

// Runs `close` when the scope is left by an exception (files closed before the folder goes).
class CloseOnFailure {
 public:
  explicit CloseOnFailure(std::function<void()> close) : close_(std::move(close)) {}
  ~CloseOnFailure() {
    if (std::uncaught_exceptions() > entered_) close_();
  }

 private:
  std::function<void()> close_;
  int entered_ = std::uncaught_exceptions();
};

void check_interrupted() {
  if (g_prep_interrupted) throw Error("prep was interrupted", "nothing was written to the output folder");
}

// A value's priority in the vocabulary's sample (CodeStats): from the patient's key and the
// event's place in the timeline, so that it does not depend on which rank sees the patient.
uint64_t event_priority(uint64_t key, size_t event) {
  return mix64(key + 0x9e3779b97f4a7c15ULL * uint64_t(event));
}

}  // namespace

PrepSummary run_prep(const PrepOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  const PrepRanks& ranks = o.ranks;
  const bool root = ranks.rank == 0;
  PrepSummary summary;
  const fs::path output = fs::absolute(o.output).lexically_normal();
  std::error_code ec;
  if (!fs::exists(o.input, ec)) {
    throw InputError(fmt::format("input '{}' does not exist", o.input), "check --input");
  }
  if (fs::exists(output, ec) && !o.overwrite) {
    throw InputError(fmt::format("output '{}' already exists", o.output),
                     "choose another --output, or pass --overwrite to replace it (the old data set is "
                     "kept until the new one is complete)");
  }
  if (!fs::is_directory(output.parent_path(), ec)) {
    throw InputError(fmt::format("the folder of --output '{}' does not exist", o.output), "create it first");
  }
  const ShardCompression compression = parse_shard_compression(o.data.shard_compression);
  const bool with_canaries = o.data.canaries > 0;
  const std::string canary_file =
      o.data.canary_file.empty() ? default_canary_file(o.data.salt_file, output.string())
                                 : fs::absolute(expand_home(o.data.canary_file)).lexically_normal().string();
  if (with_canaries && (canary_file + "/").rfind(output.string() + "/", 0) == 0) {
    throw InputError(
        fmt::format("data.canary_file '{}' lies inside the data set '{}'", canary_file, o.output),
        "keep the canary file (a secret, like the salt) outside the data set: set data.canary_file");
  }
  // Rank 0 reads (or creates) the salt and makes the temporary folder; the others get both from
  // it, so that a salt file that is not on a shared file system is still one salt.
  Phases phases(ranks);
  Salt salt;
  fs::path temp;
  phases.run([&] {
    if (!root) return;
    salt = load_or_create_salt(o.data.salt_file, output.string());
    temp = output.string() + fmt::format(".tmp-{}", ::getpid());
    fs::remove_all(temp, ec);
    TemporaryFolder made(temp);
    fs::create_directories(temp / "_partitions");
    made.release();
  });
  salt.bytes = ranks.broadcast(salt.bytes);
  salt.id = ranks.broadcast(salt.id);
  temp = ranks.broadcast(temp.string());
  phases.set_temporary(temp);
  TemporaryFolder temp_guard(root ? temp : fs::path());
  InterruptGuard interrupt_guard;

  // Pass 1: import into partitions; each rank writes its own files of them.
  PrepAudit audit;
  audit.set_source(o.format, o.input);
  CodeHierarchy hierarchy;  // the export's own code parents, if it states any
  std::unique_ptr<PartitionWriter> partitions;
  const int count = -ranks.max(-choose_partitions(o, root));  // the fewest any rank's file limit allows
  phases.run([&] {
    const fs::path dir = temp / "_partitions" / fmt::format("rank-{:05d}", ranks.rank);
    fs::create_directories(dir);
    partitions = std::make_unique<PartitionWriter>(dir.string(), count, salt);
    CloseOnFailure close_partitions([&] { partitions.reset(); });  // before rank 0 removes the folder
    std::optional<Progress> progress;
    if (root) {
      progress.emplace(fmt::format("prep: import {}", o.format), "events");
      partitions->set_progress([&](int64_t n) { progress->update(n); });
    }
    const bool split_import = import_splits_over_ranks(o.format);
    if (root || split_import) {
      ImportOptions import_options{o.input, o.skip_bad_rows, o.no_event_years, !o.resplit, &hierarchy};
      if (split_import) {
        import_options.part = ranks.rank;
        import_options.parts = ranks.size;
      }
      import(o.format, import_options, *partitions, audit);
    }
    partitions->finish();
    if (progress) {
      progress->update(partitions->records());
      progress->finish();
      summary.import_seconds = progress->seconds();
    }
  });
  const int partition_count = partitions->partitions();

  // The global code table: every rank's codes in rank order, each where it first appears (the
  // order one process reading the ranks' files in turn would have interned them in); the
  // export's parents; the audit and the record count on rank 0.
  std::vector<std::string> codes;
  std::vector<std::vector<uint32_t>> global_code;
  {
    nlohmann::json table = {{"codes", nlohmann::json::array()},
                            {"parents", nlohmann::json::array()},
                            {"maps", nlohmann::json::array()}};
    std::unordered_map<std::string, uint32_t> index;
    std::vector<int64_t> imported;
    const nlohmann::json mine = {{"codes", partitions->codes()},
                                 {"parents", hierarchy.stated()},
                                 {"records", partitions->records()},
                                 {"audit", audit.state()}};
    GatherGuard guard;
    ranks.gather(to_bytes(mine), guard.wrap([&](int r, std::string bytes) {
      const nlohmann::json theirs = from_bytes(bytes);
      std::vector<uint32_t> map;
      for (const auto& code : theirs.at("codes")) {
        const auto [it, added] = index.emplace(code.get<std::string>(), uint32_t(index.size()));
        if (added) table["codes"].push_back(code);
        map.push_back(it->second);
      }
      table["maps"].push_back(map);
      for (const auto& parent : theirs.at("parents")) table["parents"].push_back(parent);
      imported.push_back(theirs.at("records").get<int64_t>());
      summary.input_records += imported.back();
      if (r > 0) audit.merge_state(theirs.at("audit"));
    }));
    phases.run([&] { guard.rethrow(); });
    if (ranks.size > 1)
      log_info("prep: events imported by rank 0..{}: {}{}", ranks.size - 1, fmt::join(imported, ", "),
               import_splits_over_ranks(o.format)
                   ? ""
                   : fmt::format(" (--format {} imports on rank 0 alone)", o.format));
    const std::string sent = ranks.broadcast(root ? to_bytes(table) : std::string());
    phases.run([&] {
      table = from_bytes(sent);
      codes = table.at("codes").get<std::vector<std::string>>();
      global_code = table.at("maps").get<std::vector<std::vector<uint32_t>>>();
      hierarchy.set_parents(table.at("parents").get<std::vector<std::pair<std::string, std::string>>>(),
                            "metadata/codes.parquet");
    });
  }
  partitions.reset();
  const fs::path partition_dir = temp / "_partitions";
  const int run_begin = partition_run_start(ranks.rank, ranks.size, partition_count);
  const int run_end = partition_run_start(ranks.rank + 1, ranks.size, partition_count);

  const TimelineRules rules{o.data.max_age_years, o.data.split_tuning, o.data.split_held_out};
  CanaryDrawer canaries(
      salt, {o.data.canaries, o.data.canary_copies, o.data.canary_events, o.data.reference_canaries},
      o.data.split_tuning, o.data.split_held_out, partition_count);
  // Pass 2: what the training split says about codes and values (each rank its run of the
  // partitions; rank 0 merges and builds the vocabulary, which every rank then reads).
  CodeStats stats(std::move(hierarchy));
  TimelineCounts counts;
  std::vector<std::array<int64_t, 3>> split_patients(size_t(partition_count), {0, 0, 0});
  std::string vocab_text;
  phases.run([&] {
    std::optional<Progress> progress;
    if (root) progress.emplace("prep: vocabulary", "partitions", run_end - run_begin);
    std::vector<uint32_t> stats_id(codes.size());
    for (size_t c = 0; c < stats_id.size(); ++c) stats_id[c] = stats.id(codes[c]);
    std::vector<uint32_t> patient_codes;
    for (int i = run_begin; i < run_end; ++i) {
      check_interrupted();
      auto records = read_partition_of_ranks(partition_dir, i, global_code);
      for (const auto& p : group_timelines(records, codes, rules, &counts)) {
        ++split_patients[size_t(i)][size_t(p.split)];
        if (p.split != Split::kTrain) continue;
        if (with_canaries && !p.events.empty()) {  // the patient's start: birth and statics at birth
          std::vector<uint32_t> start;
          for (const auto& e : p.events) {
            if (e.age_days != p.events.front().age_days) break;
            start.push_back(e.code);
          }
          canaries.offer_template(p.key, p.sex, std::move(start));
        }
        patient_codes.clear();
        for (size_t j = 0; j < p.events.size(); ++j) {
          const auto& e = p.events[j];
          patient_codes.push_back(stats_id[e.code]);
          stats.add_value_id(stats_id[e.code], e.value, event_priority(p.key, j));
        }
        stats.add_patient_ids(patient_codes);
      }
      if (progress) progress->update(i + 1 - run_begin);
    }
    if (progress) progress->finish();
  });
  {
    // The other ranks send theirs to rank 0 (whose own are these: it sends nothing).
    std::string mine;
    if (!root) {
      nlohmann::json rows = nlohmann::json::array();
      for (int i = run_begin; i < run_end; ++i) rows.push_back(split_patients[size_t(i)]);
      mine = to_bytes({{"templates", canaries.serialize_templates()},
                       {"counts", counts_to_json(counts)},
                       {"split_patients", rows}},
                      stats.serialize());
    }
    GatherGuard guard;
    ranks.gather(mine, guard.wrap([&](int r, std::string bytes) {
      if (r == 0) return;
      std::string_view stats_bytes;
      const nlohmann::json theirs = from_bytes(bytes, &stats_bytes);
      stats.merge_serialized(stats_bytes);
      canaries.merge_templates(theirs.at("templates").get<std::string>());
      add_counts(counts, theirs.at("counts"));
      int i = partition_run_start(r, ranks.size, partition_count);
      for (const auto& row : theirs.at("split_patients")) split_patients[size_t(i++)] = row;
    }));
    std::string merged;
    phases.run([&] {
      guard.rethrow();
      if (!root) return;
      const Vocabulary built =
          Vocabulary::build(stats, codes, o.data.min_patients_per_code, static_cast<int>(o.data.value_bins));
      merged = to_bytes({{"vocab", built.to_json().dump(1) + "\n"},
                         {"templates", canaries.serialize_templates()},
                         {"split_patients", split_patients}});
    });
    merged = ranks.broadcast(merged);
    phases.run([&] {
      const nlohmann::json got = from_bytes(merged);
      vocab_text = got.at("vocab").get<std::string>();
      canaries.merge_templates(got.at("templates").get<std::string>());
      split_patients = got.at("split_patients").get<std::vector<std::array<int64_t, 3>>>();
    });
  }
  const Vocabulary vocab = Vocabulary::from_json(nlohmann::json::parse(vocab_text), "vocab.json");
  summary.vocabulary_size = vocab.size();
  std::vector<int32_t> token_of(codes.size());
  int64_t codes_to_parent = 0, codes_to_unk = 0;
  for (size_t c = 0; c < token_of.size(); ++c) {
    token_of[c] = vocab.map_code(codes[c]);
    if (token_of[c] == kUnkToken)
      ++codes_to_unk;
    else if (vocab.token(token_of[c]).code != codes[c])
      ++codes_to_parent;
  }
  phases.run([&] {
    if (with_canaries) canaries.draw(vocab, token_of, o.data.max_age_years, salt.id, sha256_hex(vocab_text));
  });

  // Pass 3: timelines -> shards (canaries merged into the training split by key). Each rank
  // writes its run of each split's patients at their global positions (prep_shards.h).
  const std::vector<std::string> split_names = {"train", "tuning", "held_out"};
  std::vector<SplitShards> shards;
  std::vector<std::vector<int64_t>> starts(split_names.size());  // by split: each rank's first patient
  for (size_t s = 0; s < split_names.size(); ++s) {
    starts[s].assign(size_t(ranks.size) + 1, 0);
    for (int r = 0; r < ranks.size; ++r) {
      int64_t n = 0;
      for (int i = partition_run_start(r, ranks.size, partition_count);
           i < partition_run_start(r + 1, ranks.size, partition_count); ++i)
        n += split_patients[size_t(i)][s] + (s == size_t(Split::kTrain) ? canaries.partition_count(i) : 0);
      starts[s][size_t(r) + 1] = starts[s][size_t(r)] + n;
    }
  }
  int64_t events_to_parent = 0, events_to_unk = 0;
  std::vector<ShardFile> shard_files;
  phases.run([&] {
    CloseOnFailure close_shards([&] { shards.clear(); });
    for (size_t s = 0; s < split_names.size(); ++s) {
      fs::create_directories(temp / split_names[s]);
      shards.emplace_back(temp / split_names[s], split_names[s], o.data.shard_patients, compression,
                          starts[s][size_t(ranks.rank)], starts[s][size_t(ranks.rank) + 1], starts[s].back(),
                          ranks.rank);
    }
    std::optional<Progress> progress;
    if (root) progress.emplace("prep: write shards", "partitions", run_end - run_begin);
    PatientTimeline timeline;
    for (int i = run_begin; i < run_end; ++i) {
      check_interrupted();
      auto records = read_partition_of_ranks(partition_dir, i, global_code);
      TimelineCounts ignored;
      const std::vector<GroupedPatient> grouped = group_timelines(records, codes, rules, &ignored);
      std::vector<PatientTimeline> canary_patients;
      if (with_canaries) {
        std::unordered_set<uint64_t> real_keys;
        for (const auto& p : grouped) real_keys.insert(p.key);
        canary_patients = canaries.partition_patients(i, real_keys);
      }
      size_t next_canary = 0;
      auto append_canaries_before = [&](uint64_t key, bool rest = false) {
        for (; next_canary < canary_patients.size() && (rest || canary_patients[next_canary].key < key);
             ++next_canary) {
          shards[size_t(Split::kTrain)].append(canary_patients[next_canary]);
          summary.patients["train"] += 1;
          summary.events["train"] += static_cast<int64_t>(canary_patients[next_canary].size());
        }
      };
      for (const auto& p : grouped) {
        append_canaries_before(p.key);
        timeline.key = p.key;
        timeline.sex = p.sex;
        timeline.tokens.clear();
        timeline.age_days.clear();
        timeline.values.clear();
        timeline.value_bins.clear();
        for (const auto& e : p.events) {
          const int32_t token = token_of[e.code];
          if (token == kUnkToken)
            ++events_to_unk;
          else if (vocab.token(token).code != codes[e.code])
            ++events_to_parent;
          timeline.tokens.push_back(token);
          timeline.age_days.push_back(e.age_days);
          timeline.values.push_back(e.value);
          timeline.value_bins.push_back(vocab.value_bin(token, e.value));
        }
        const size_t split = static_cast<size_t>(p.split);
        shards[split].append(timeline);
        summary.patients[split_names[split]] += 1;
        summary.events[split_names[split]] += static_cast<int64_t>(timeline.size());
      }
      append_canaries_before(0, /*rest=*/true);
      if (progress) progress->update(i + 1 - run_begin);
    }
    for (auto& split : shards) {
      split.close();
      shard_files.insert(shard_files.end(), split.files().begin(), split.files().end());
    }
    if (progress) progress->finish();
  });
  // Shards that straddle ranks: joined by the rank that holds their first patient.
  phases.run([&] {
    for (size_t s = 0; s < split_names.size(); ++s) {
      for (auto& f : join_pieces(temp / split_names[s], split_names[s], o.data.shard_patients, compression,
                                 starts[s], ranks.rank))
        shard_files.push_back(std::move(f));
    }
  });
  // Rank 0 learns every rank's shards, counts and canary keys drawn again.
  {
    nlohmann::json mine = {{"files", nlohmann::json::array()}, {"patients", summary.patients},
                           {"events", summary.events},         {"events_to_parent", events_to_parent},
                           {"events_to_unk", events_to_unk},   {"redrawn", canaries.redrawn_keys()}};
    for (const auto& f : shard_files)
      mine["files"].push_back({f.split, f.index, f.name, f.patients, f.events, f.bytes, f.sha256});
    GatherGuard guard;
    ranks.gather(to_bytes(mine), guard.wrap([&](int r, std::string bytes) {
      if (r == 0) return;
      const nlohmann::json theirs = from_bytes(bytes);
      for (const auto& f : theirs.at("files"))
        shard_files.push_back({f.at(0), f.at(1), f.at(2), f.at(3), f.at(4), f.at(5), f.at(6)});
      for (const auto& [split, n] : theirs.at("patients").items())
        summary.patients[split] += n.get<int64_t>();
      for (const auto& [split, n] : theirs.at("events").items()) summary.events[split] += n.get<int64_t>();
      events_to_parent += theirs.at("events_to_parent").get<int64_t>();
      events_to_unk += theirs.at("events_to_unk").get<int64_t>();
      canaries.apply_redrawn_keys(theirs.at("redrawn").get<std::vector<std::pair<uint64_t, uint64_t>>>());
    }));
    phases.run([&] { guard.rethrow(); });
  }
  if (!root) {
    phases.run([] {});  // rank 0 publishes the data set
    return summary;
  }
  std::sort(shard_files.begin(), shard_files.end(), [&](const ShardFile& a, const ShardFile& b) {
    const auto split_of = [&](const std::string& name) {
      return std::find(split_names.begin(), split_names.end(), name) - split_names.begin();
    };
    return std::make_pair(split_of(a.split), a.index) < std::make_pair(split_of(b.split), b.index);
  });
  phases.run([&] {
    fs::remove_all(temp / "_partitions");

    // Audit counters.
    audit.count("patients without a birth record (dropped)", counts.patients_without_birth);
    audit.count("events of patients without a birth record (dropped)",
                counts.events_of_patients_without_birth);
    if (counts.split_only_subjects > 0)
      audit.count("subjects in the export's split list without any event (ignored)",
                  counts.split_only_subjects);
    audit.count("extra birth records ignored (the earliest is kept)", counts.extra_birth_records);
    audit.count("events before birth (moved to birth)", counts.events_before_birth);
    audit.count(fmt::format("events at ages above {} years (top-coded)", o.data.max_age_years),
                counts.events_top_coded);
    if (counts.patients_with_fixed_split > 0)
      audit.count("patients placed in the split the export fixed (not drawn from the key)",
                  counts.patients_with_fixed_split);
    if (counts.patients_with_conflicting_splits > 0)
      audit.count("patients the export put in two splits (held out)",
                  counts.patients_with_conflicting_splits);
    audit.count("distinct codes in the export", static_cast<int64_t>(codes.size()));
    audit.count(fmt::format("codes in fewer than {} training patients, suppressed to a parent code",
                            o.data.min_patients_per_code),
                codes_to_parent);
    audit.count(fmt::format("codes in fewer than {} training patients, suppressed to <unk>",
                            o.data.min_patients_per_code),
                codes_to_unk);
    audit.count("events suppressed to a parent code (kept)", events_to_parent);
    audit.count("events suppressed to <unk> (kept)", events_to_unk);
    int64_t written = 0;
    for (const auto& [split, n] : summary.events) written += n;
    audit.count("events written", written);
    audit.count("events produced by the importer", summary.input_records);
    const int64_t canary_events = canaries.events_written();
    if (with_canaries) {
      audit.count("canary patients written to the training split (data.canaries x data.canary_copies)",
                  o.data.canaries * o.data.canary_copies);
      audit.count("canary events written", canary_events);
    }
    int64_t rows = 0, dropped_by_importer = 0;
    for (const auto& [name, table] : audit.tables()) {
      rows += table.rows;
      for (const auto& [reason, n] : table.dropped) dropped_by_importer += n;
    }
    audit.set_accounting({
        {"input rows (all tables)", rows},
        {"rows dropped by the importer (reasons per table below)", dropped_by_importer},
        {"events produced by the importer", summary.input_records},
        {"events dropped by prep: patient without a birth record", counts.events_of_patients_without_birth},
        {"events dropped by prep: extra birth records", counts.extra_birth_records},
        {"events written, code kept", written - canary_events - events_to_parent - events_to_unk},
        {"events written, code suppressed to a parent code", events_to_parent},
        {"events written, code suppressed to <unk>", events_to_unk},
    });
    if (with_canaries)
      audit.add_accounting_line("events written, canaries (not from the input; docs/privacy.md)",
                                canary_events);

    // Manifest, vocabulary, audit.
    write_file_atomic((temp / "vocab.json").string(), vocab_text);
    nlohmann::json shard_list = nlohmann::json::array();
    for (const auto& f : shard_files) {
      shard_list.push_back({{"split", f.split},
                            {"file", f.split + "/" + f.name},
                            {"patients", f.patients},
                            {"events", f.events},
                            {"bytes", f.bytes},
                            {"sha256", f.sha256}});
      ++summary.shards;
    }
    nlohmann::json source = {{"format", o.format}};
    if (!audit.source_metadata().empty()) source["metadata"] = audit.source_metadata();
    nlohmann::json manifest = {
        {"format", kDatasetFormat},
        {"schema_version", kDatasetSchemaVersion},
        {"shard_schema_version", kShardSchemaVersion},
        {"created_by", std::string("clinfm ") + CLINFM_DATA_VERSION},
        {"command", o.command_line},
        {"source", source},
        {"deidentification",
         {{"subject_keys", "first 8 bytes of HMAC-SHA256(secret salt, subject id), hex"},
          {"salt_id", salt.id},
          {"time_axis", "age in days since birth; absolute dates are not stored"},
          {"max_age_years", o.data.max_age_years},
          {"min_patients_per_code", o.data.min_patients_per_code},
          {"events_top_coded", counts.events_top_coded},
          {"codes_suppressed_to_parent", codes_to_parent},
          {"codes_suppressed_to_unk", codes_to_unk},
          {"free_text", "dropped"}}},
        {"splits",
         {{"fractions",
           {{"train", 1.0 - o.data.split_tuning - o.data.split_held_out},
            {"tuning", o.data.split_tuning},
            {"held_out", o.data.split_held_out}}},
          {"assignment", counts.patients_with_fixed_split == 0
                             ? std::string("uniform number drawn from the subject key")
                             : fmt::format("the export's own split for {} patients (MEDS subject_splits, "
                                           "Delphi's train.bin/val.bin; a development split is divided into "
                                           "train and tuning by the key), the others by a uniform number "
                                           "drawn from the subject key",
                                           counts.patients_with_fixed_split)},
          {"patients", summary.patients},
          {"events", summary.events}}},
        {"vocabulary",
         {{"file", "vocab.json"},
          {"size", vocab.size()},
          {"value_bins", o.data.value_bins},
          {"sha256", sha256_hex(vocab_text)}}},
        {"privacy_audit",
         {{"canaries", o.data.canaries},
          {"canary_copies", with_canaries ? o.data.canary_copies : 0},
          {"canary_events", with_canaries ? o.data.canary_events : 0},
          {"note", with_canaries ? "canary patients are in the training split; which ones is "
                                   "kept only in the secret canary file"
                                 : "no canaries"}}},
        {"shard_compression", o.data.shard_compression},
        {"shards", shard_list}};
    write_file_atomic((temp / "manifest.json").string(), manifest.dump(1) + "\n");
    write_file_atomic((temp / "audit.json").string(), audit.to_json().dump(1) + "\n");
    write_file_atomic((temp / "audit.md").string(), audit.to_markdown());

    // The canary file first: a data set with canaries is never published without it.
    if (with_canaries) write_canary_file(canaries.canaries(), canary_file);
    summary.canary_file = with_canaries ? canary_file : "";

    // Publish: the old data set (with --overwrite) is removed only after the new one is in place.
    check_interrupted();
    fsync_directory(temp.string());
    if (fs::exists(output)) {
      const fs::path old = output.string() + fmt::format(".old-{}", ::getpid());
      fs::rename(output, old);
      fs::rename(temp, output);
      fs::remove_all(old, ec);
    } else {
      fs::rename(temp, output);
    }
  });
  temp_guard.release();
  fsync_directory(output.parent_path().string());
  summary.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace clinfm
