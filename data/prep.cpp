#include "data/prep.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
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

void import(const PrepOptions& o, EventSink& sink, PrepAudit& audit, CodeHierarchy& hierarchy) {
  const ImportOptions import_options{o.input, o.skip_bad_rows, o.no_event_years, !o.resplit, &hierarchy};
  if (o.format == "meds") return import_meds(import_options, sink, audit);
  if (o.format == "mimic-iv") return import_mimic_iv(import_options, sink, audit);
  if (o.format == "synthea") return import_synthea(import_options, sink, audit);
  if (o.format == "delphi") return import_delphi(import_options, sink, audit);
  throw InputError(fmt::format("unknown --format '{}'", o.format),
                   "use one of: mimic-iv, meds, synthea, delphi");
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
int choose_partitions(const PrepOptions& o) {
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
  log_info("prep: {} partitions for {:.1f} MB of input", partitions, double(bytes) / 1e6);
  return partitions;
}

void check_interrupted() {
  if (g_prep_interrupted) throw Error("prep was interrupted", "nothing was written to the output folder");
}

// Rolls shard files of one split: a new file every `shard_patients` patients.
class SplitShards {
 public:
  SplitShards(fs::path dir, std::string split, int64_t shard_patients, ShardCompression compression)
      : dir_(std::move(dir)),
        split_(std::move(split)),
        shard_patients_(shard_patients),
        compression_(compression) {}
  void append(const PatientTimeline& patient) {
    if (!writer_ || writer_->patients() >= shard_patients_) close_current();
    if (!writer_) {
      const std::string name = fmt::format("shard-{:05d}.h5", files_.size());
      writer_ = std::make_unique<ShardWriter>((dir_ / name).string(), split_,
                                              static_cast<int64_t>(files_.size()), compression_);
    }
    writer_->append(patient);
  }
  void close_current() {
    if (!writer_) return;
    writer_->close();
    files_.push_back({fs::path(writer_->path()).filename().string(), writer_->patients(), writer_->events()});
    writer_.reset();
  }
  struct File {
    std::string name;
    int64_t patients, events;
  };
  const std::vector<File>& files() const { return files_; }

 private:
  fs::path dir_;
  std::string split_;
  int64_t shard_patients_;
  ShardCompression compression_;
  std::unique_ptr<ShardWriter> writer_;
  std::vector<File> files_;
};

}  // namespace

PrepSummary run_prep(const PrepOptions& o) {
  const auto started = std::chrono::steady_clock::now();
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
  const Salt salt = load_or_create_salt(o.data.salt_file, output.string());
  const bool with_canaries = o.data.canaries > 0;
  const std::string canary_file =
      o.data.canary_file.empty() ? default_canary_file(o.data.salt_file, output.string())
                                 : fs::absolute(expand_home(o.data.canary_file)).lexically_normal().string();
  if (with_canaries && (canary_file + "/").rfind(output.string() + "/", 0) == 0) {
    throw InputError(
        fmt::format("data.canary_file '{}' lies inside the data set '{}'", canary_file, o.output),
        "keep the canary file (a secret, like the salt) outside the data set: set data.canary_file");
  }
  const fs::path temp = output.string() + fmt::format(".tmp-{}", ::getpid());
  fs::remove_all(temp, ec);
  TemporaryFolder temp_guard(temp);
  InterruptGuard interrupt_guard;
  fs::create_directories(temp / "_partitions");

  // Pass 1: import into partitions.
  PrepAudit audit;
  audit.set_source(o.format, o.input);
  PartitionWriter partitions((temp / "_partitions").string(), choose_partitions(o), salt);
  Progress import_progress(fmt::format("prep: import {}", o.format), "events");
  partitions.set_progress([&](int64_t n) { import_progress.update(n); });
  CodeHierarchy hierarchy;  // the export's own code parents, if it states any
  import(o, partitions, audit, hierarchy);
  partitions.finish();
  import_progress.update(partitions.records());
  import_progress.finish();
  summary.input_records = partitions.records();
  summary.import_seconds = import_progress.seconds();

  const TimelineRules rules{o.data.max_age_years, o.data.split_tuning, o.data.split_held_out};
  CanaryDrawer canaries(
      salt, {o.data.canaries, o.data.canary_copies, o.data.canary_events, o.data.reference_canaries},
      o.data.split_tuning, o.data.split_held_out, partitions.partitions());
  // Pass 2: what the training split says about codes and values.
  CodeStats stats(std::move(hierarchy));
  TimelineCounts counts;
  Progress stats_progress("prep: vocabulary", "partitions", partitions.partitions());
  std::vector<uint32_t> stats_id(partitions.codes().size());
  for (size_t c = 0; c < stats_id.size(); ++c) stats_id[c] = stats.id(partitions.codes()[c]);
  std::vector<uint32_t> patient_codes;
  for (int i = 0; i < partitions.partitions(); ++i) {
    check_interrupted();
    auto records = read_partition(partitions.partition_path(i));
    for (const auto& p : group_timelines(records, partitions.codes(), rules, &counts)) {
      if (p.split != Split::kTrain) continue;
      if (with_canaries && !p.events.empty()) {  // the patient's start: birth and statics at birth
        std::vector<uint32_t> start;
        for (const auto& e : p.events) {
          if (e.age_days != p.events.front().age_days) break;
          start.push_back(e.code);
        }
        canaries.offer_template(p.sex, std::move(start));
      }
      patient_codes.clear();
      for (const auto& e : p.events) {
        patient_codes.push_back(stats_id[e.code]);
        stats.add_value_id(stats_id[e.code], e.value);
      }
      stats.add_patient_ids(patient_codes);
    }
    stats_progress.update(i + 1);
  }
  stats_progress.finish();
  const Vocabulary vocab = Vocabulary::build(stats, partitions.codes(), o.data.min_patients_per_code,
                                             static_cast<int>(o.data.value_bins));
  summary.vocabulary_size = vocab.size();
  std::vector<int32_t> token_of(partitions.codes().size());
  int64_t codes_to_parent = 0, codes_to_unk = 0;
  for (size_t c = 0; c < token_of.size(); ++c) {
    token_of[c] = vocab.map_code(partitions.codes()[c]);
    if (token_of[c] == kUnkToken)
      ++codes_to_unk;
    else if (vocab.token(token_of[c]).code != partitions.codes()[c])
      ++codes_to_parent;
  }

  const std::string vocab_text = vocab.to_json().dump(1) + "\n";
  if (with_canaries) canaries.draw(vocab, token_of, o.data.max_age_years, salt.id, sha256_hex(vocab_text));

  // Pass 3: timelines -> shards (canaries merged into the training split by key).
  const std::vector<std::string> split_names = {"train", "tuning", "held_out"};
  std::vector<SplitShards> shards;
  for (const auto& name : split_names) {
    fs::create_directories(temp / name);
    shards.emplace_back(temp / name, name, o.data.shard_patients, compression);
  }
  int64_t events_to_parent = 0, events_to_unk = 0;
  Progress shard_progress("prep: write shards", "partitions", partitions.partitions());
  PatientTimeline timeline;
  for (int i = 0; i < partitions.partitions(); ++i) {
    check_interrupted();
    auto records = read_partition(partitions.partition_path(i));
    TimelineCounts ignored;
    const std::vector<GroupedPatient> grouped = group_timelines(records, partitions.codes(), rules, &ignored);
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
        else if (vocab.token(token).code != partitions.codes()[e.code])
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
    shard_progress.update(i + 1);
  }
  for (auto& s : shards) s.close_current();
  shard_progress.finish();
  fs::remove_all(temp / "_partitions");

  // Audit counters.
  audit.count("patients without a birth record (dropped)", counts.patients_without_birth);
  audit.count("events of patients without a birth record (dropped)", counts.events_of_patients_without_birth);
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
    audit.count("patients the export put in two splits (held out)", counts.patients_with_conflicting_splits);
  audit.count("distinct codes in the export", static_cast<int64_t>(partitions.codes().size()));
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
  for (size_t s = 0; s < shards.size(); ++s) {
    for (const auto& f : shards[s].files()) {
      const std::string relative = split_names[s] + "/" + f.name;
      shard_list.push_back({{"split", split_names[s]},
                            {"file", relative},
                            {"patients", f.patients},
                            {"events", f.events},
                            {"bytes", fs::file_size(temp / relative)},
                            {"sha256", file_sha256_hex((temp / relative).string())}});
      ++summary.shards;
    }
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
  temp_guard.release();
  fsync_directory(output.parent_path().string());
  summary.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace clinfm
