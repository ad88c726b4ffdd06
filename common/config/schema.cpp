#include "common/config/schema.h"

#include <fmt/format.h>

#include <type_traits>

namespace clinfm {
namespace {

template <typename T>
constexpr FieldType type_of() {
  if constexpr (std::is_same_v<T, bool>)
    return FieldType::kBool;
  else if constexpr (std::is_same_v<T, int64_t>)
    return FieldType::kInt;
  else if constexpr (std::is_same_v<T, double>)
    return FieldType::kDouble;
  else if constexpr (std::is_same_v<T, std::string>)
    return FieldType::kString;
  else {
    static_assert(std::is_same_v<T, std::vector<std::string>>, "unsupported config field type");
    return FieldType::kStringList;
  }
}

template <typename Section, typename T>
FieldSpec field(const char* section, Section Config::*owner, T Section::*member, const char* key,
                const char* doc) {
  FieldSpec spec;
  spec.section = section;
  spec.key = key;
  spec.type = type_of<T>();
  spec.doc = doc;
  spec.get = [owner, member](const Config& c) { return ConfigValue((c.*owner).*member); };
  spec.set = [owner, member](Config& c, const ConfigValue& v) { (c.*owner).*member = std::get<T>(v); };
  return spec;
}

Schema build_schema() {
  Schema s;
  auto section = [&](const char* name, const char* doc) { s.sections.push_back({name, doc}); };
  auto add = [&](FieldSpec spec) { s.fields.push_back(std::move(spec)); };

  section("run", "Identity of the run, where it writes, seeds and threads.");
  add(field("run", &Config::run, &RunConfig::name, "name", "Name of the run, shown in logs and reports."));
  add(field("run", &Config::run, &RunConfig::out_dir, "out_dir",
            "Run folder: resolved config, metrics.jsonl and checkpoints are written here."));
  add(field("run", &Config::run, &RunConfig::seed, "seed",
            "Seed of every random stream (initialisation, sampling, dropout).")
          .at_least(0));
  add(field("run", &Config::run, &RunConfig::device, "device",
            "Where the model runs; auto picks cuda when a GPU is visible.")
          .one_of({"auto", "cpu", "cuda"}));
  add(field("run", &Config::run, &RunConfig::threads, "threads",
            "LibTorch intra-op threads per rank; 0 = cores on the node / ranks on the node.")
          .at_least(0)
          .at_most(1024));
  add(field("run", &Config::run, &RunConfig::lock_stale_s, "lock_stale_s",
            "How long a job waits for another job's lock on the run folder (RUN/run.lock) before exiting 2; "
            "a lock from another host whose heartbeat is this old counts as a dead job's and is taken over "
            "(on this host, the holder's PID is checked).")
          .at_least(1)
          .at_most(86400));

  section("data", "The prepared data set and how training windows are cut from it.");
  add(field("data", &Config::data, &DataConfig::dataset, "dataset",
            "Data set folder written by `clinfm prep`.")
          .must_be_set());
  add(field("data", &Config::data, &DataConfig::seq_len, "seq_len",
            "Events per training window; longer timelines are windowed, shorter ones padded.")
          .at_least(2)
          .at_most(1 << 20));
  add(field("data", &Config::data, &DataConfig::prefetch_batches, "prefetch_batches",
            "Batches the background loader keeps ready; 0 loads in the training thread.")
          .at_least(0)
          .at_most(1024));

  add(field("data", &Config::data, &DataConfig::salt_file, "salt_file",
            "prep: secret salt of the keyed-hash subject pseudonyms; created (mode 0600) when missing. "
            "Keep it outside the data set and reuse it to get the same keys."));
  add(field("data", &Config::data, &DataConfig::min_patients_per_code, "min_patients_per_code",
            "prep: codes seen in fewer distinct training patients are suppressed to a parent code or <unk>.")
          .at_least(1));
  add(field("data", &Config::data, &DataConfig::max_age_years, "max_age_years",
            "prep: ages above this are top-coded to max_age_years + 1 (HIPAA Safe Harbor: 89).")
          .at_least(1)
          .at_most(150));
  add(field("data", &Config::data, &DataConfig::value_bins, "value_bins",
            "prep: quantile bins per code for numeric values, fitted on the training split only.")
          .at_least(1)
          .at_most(100));
  add(field("data", &Config::data, &DataConfig::split_tuning, "split_tuning",
            "prep: fraction of patients in the tuning split (by keyed hash).")
          .at_least(0)
          .below(1));
  add(field("data", &Config::data, &DataConfig::split_held_out, "split_held_out",
            "prep: fraction of patients in the held_out split; train gets the rest.")
          .at_least(0)
          .below(1));
  add(field("data", &Config::data, &DataConfig::shard_patients, "shard_patients",
            "prep: patients per shard file.")
          .at_least(1));
  add(field("data", &Config::data, &DataConfig::shard_compression, "shard_compression",
            "prep: which event columns are deflate-compressed. integers: token and value_bin (fast); "
            "all: also age_days and value (~45% smaller data set, prep ~1.7x slower); none.")
          .one_of({"integers", "all", "none"}));
  add(field(
          "data", &Config::data, &DataConfig::canaries, "canaries",
          "prep: synthetic canary patients (random, unique code sequences from the vocabulary) inserted into "
          "the training split for the privacy audit (docs/privacy.md); 0: none. Which patients they are is "
          "kept only in data.canary_file.")
          .at_least(0)
          .at_most(1000000));
  add(field("data", &Config::data, &DataConfig::canary_copies, "canary_copies",
            "prep: times each canary is inserted (under different keys): repeated secrets are memorised "
            "sooner.")
          .at_least(1)
          .at_most(1000));
  add(field("data", &Config::data, &DataConfig::canary_events, "canary_events",
            "prep: random events per canary (its secret), after a birth and sex like a real patient's.")
          .at_least(2)
          .at_most(4096));
  add(field("data", &Config::data, &DataConfig::reference_canaries, "reference_canaries",
            "prep: canaries drawn the same way but never written to the data set; a canary's exposure is its "
            "rank among them (at most log2(reference_canaries + 1) bits).")
          .at_least(1)
          .at_most(10000000));
  add(field("data", &Config::data, &DataConfig::canary_file, "canary_file",
            "prep: the secret file (mode 0600) naming the canaries; default: beside data.salt_file, "
            "<salt folder>/<data set folder name>.canaries.json. Keep it outside the data set; pass it to "
            "`clinfm eval --canaries`."));
  add(field("data", &Config::data, &DataConfig::train_split, "train_split",
            "train: the split training reads. tuning: only to train a reference model for a privacy audit, "
            "one that has seen no patient of train or held_out (docs/privacy.md).")
          .one_of({"train", "tuning"}));

  section("model", "The transformer: a named preset, any dimension of which can be overridden.");
  add(field("model", &Config::model, &ModelConfig::preset, "preset",
            "Named size: tiny (~1M parameters), small (~25M), base (~125M), large (~350M).")
          .one_of({"tiny", "small", "base", "large"}));
  add(field("model", &Config::model, &ModelConfig::n_layers, "n_layers",
            "Transformer blocks; 0 = the preset's value.")
          .at_least(0)
          .at_most(256));
  add(field("model", &Config::model, &ModelConfig::n_heads, "n_heads",
            "Attention heads; 0 = the preset's value.")
          .at_least(0)
          .at_most(256));
  add(field("model", &Config::model, &ModelConfig::d_model, "d_model",
            "Width of the residual stream; 0 = the preset's value.")
          .at_least(0)
          .at_most(65536));
  add(field("model", &Config::model, &ModelConfig::d_ff, "d_ff",
            "Hidden width of the SwiGLU MLP; 0 = the preset's value.")
          .at_least(0)
          .at_most(262144));
  add(field("model", &Config::model, &ModelConfig::dropout, "dropout",
            "Dropout probability on attention and MLP outputs.")
          .at_least(0)
          .below(1));
  add(field("model", &Config::model, &ModelConfig::token_loss_weight, "token_loss_weight",
            "Weight of the next-event cross-entropy; 0 turns the head off.")
          .at_least(0));
  add(field("model", &Config::model, &ModelConfig::time_loss_weight, "time_loss_weight",
            "Weight of the time-to-next-event (exponential waiting time) loss; 0 turns it off.")
          .at_least(0));
  add(field("model", &Config::model, &ModelConfig::attention, "attention",
            "Attention kernel: explicit (causal softmax in LibTorch ops), fused (clinfm's CPU kernel: "
            "fp32 CPU only, elsewhere it runs the explicit math), sdpa (scaled_dot_product_attention, "
            "flash / memory-efficient kernels on CUDA), or auto (fused on fp32 CPU tensors where the BLAS "
            "sgemm is found, measured faster than LibTorch 2.11's SDPA there; sdpa elsewhere).")
          .one_of({"auto", "explicit", "fused", "sdpa"}));

  section("optim", "AdamW and the learning-rate schedule (linear warmup, cosine decay to min_lr).");
  add(field("optim", &Config::optim, &OptimConfig::lr, "lr", "Peak learning rate.").above(0).at_most(10));
  add(field("optim", &Config::optim, &OptimConfig::min_lr, "min_lr",
            "Learning rate at the end of the cosine decay.")
          .at_least(0)
          .at_most(10));
  add(field("optim", &Config::optim, &OptimConfig::weight_decay, "weight_decay", "Decoupled weight decay.")
          .at_least(0)
          .at_most(10));
  add(field("optim", &Config::optim, &OptimConfig::beta1, "beta1", "AdamW beta1.").at_least(0).below(1));
  add(field("optim", &Config::optim, &OptimConfig::beta2, "beta2", "AdamW beta2.").at_least(0).below(1));
  add(field("optim", &Config::optim, &OptimConfig::eps, "eps", "AdamW epsilon.").above(0).at_most(1));
  add(field("optim", &Config::optim, &OptimConfig::warmup_steps, "warmup_steps",
            "Steps of linear warmup from 0 to lr.")
          .at_least(0));
  add(field("optim", &Config::optim, &OptimConfig::grad_clip, "grad_clip",
            "Clip the global gradient norm to this value; 0 turns clipping off.")
          .at_least(0));
  add(field("optim", &Config::optim, &OptimConfig::decay_embeddings_and_norms, "decay_embeddings_and_norms",
            "Apply weight decay to embeddings, norms and biases too."));

  section("train", "Length of the run, batch sizes, precision and periodic validation.");
  add(field("train", &Config::train, &TrainConfig::max_steps, "max_steps", "Optimizer steps of the run.")
          .at_least(1));
  add(field("train", &Config::train, &TrainConfig::global_batch_size, "global_batch_size",
            "Windows per optimizer step over all ranks.")
          .at_least(1));
  add(field("train", &Config::train, &TrainConfig::micro_batch_size, "micro_batch_size",
            "Windows per forward/backward on one rank; accumulation = global / (micro x ranks).")
          .at_least(1));
  add(field("train", &Config::train, &TrainConfig::precision, "precision",
            "fp32 everywhere, or bf16 autocast with fp32 master weights (CUDA only).")
          .one_of({"fp32", "bf16"}));
  add(field("train", &Config::train, &TrainConfig::tf32, "tf32",
            "TF32 tensor cores for the float32 matmuls on CUDA (faster, ~10 mantissa bits)."));
  add(field("train", &Config::train, &TrainConfig::validation_every, "validation_every",
            "Validation (loss on the tuning split) every N steps; 0 turns it off.")
          .at_least(0));
  add(field("train", &Config::train, &TrainConfig::validation_batches, "validation_batches",
            "Batches of the tuning split per validation.")
          .at_least(1));
  add(field("train", &Config::train, &TrainConfig::max_consecutive_bad_steps, "max_consecutive_bad_steps",
            "Stop after this many consecutive steps with a NaN/Inf loss or gradient.")
          .at_least(1));

  add(field("train", &Config::train, &TrainConfig::ignore_target_codes, "ignore_target_codes",
            "Codes that are inputs but never targets of the next-event loss (<pad> never is)."));
  add(field("train", &Config::train, &TrainConfig::peak_tflops, "peak_tflops",
            "Peak TFLOP/s for MFU; 0 measures the fp32 matmul rate of this machine at start.")
          .at_least(0));

  section("dist", "Data-parallel training over MPI ranks.");
  add(field("dist", &Config::dist, &DistConfig::backend, "backend",
            "Gradient communication: nccl for CUDA tensors, mpi for CPU tensors, auto picks (none in a "
            "world of one; an explicit mpi or nccl is used even there).")
          .one_of({"auto", "mpi", "nccl"}));
  add(field("dist", &Config::dist, &DistConfig::bucket_mb, "bucket_mb", "Size of a gradient bucket in MB.")
          .above(0)
          .at_most(4096));
  add(field("dist", &Config::dist, &DistConfig::overlap, "overlap",
            "Start each bucket's all-reduce during backward as soon as it is ready."));
  add(field("dist", &Config::dist, &DistConfig::zero1, "zero1",
            "Shard the optimizer state across ranks (ZeRO stage 1)."));
  add(field("dist", &Config::dist, &DistConfig::checksum_every, "checksum_every",
            "Compare a parameter checksum across ranks every N steps; 0 turns it off.")
          .at_least(0));
  add(field("dist", &Config::dist, &DistConfig::timeout_s, "timeout_s",
            "Abort the job when a collective has not finished after this many seconds.")
          .above(0));

  section("checkpoint", "Full training-state checkpoints under RUN/checkpoints/.");
  add(field("checkpoint", &Config::checkpoint, &CheckpointConfig::every, "every",
            "Save every N steps; 0 saves only at the end and on preemption.")
          .at_least(0));
  add(field("checkpoint", &Config::checkpoint, &CheckpointConfig::keep_last, "keep_last",
            "Keep the newest N checkpoints.")
          .at_least(1));
  add(field("checkpoint", &Config::checkpoint, &CheckpointConfig::keep_every, "keep_every",
            "Also keep every checkpoint whose step is a multiple of N; 0 keeps none extra.")
          .at_least(0));
  add(field("checkpoint", &Config::checkpoint, &CheckpointConfig::keep_best, "keep_best",
            "Also keep the checkpoint with the lowest tuning loss (validation at its step; set every to a "
            "multiple of train.validation_every). Delphi's and nanoGPT's train.py keep only that one."));
  add(field("checkpoint", &Config::checkpoint, &CheckpointConfig::async, "async",
            "Copy the state, then write it from a background thread."));

  section("eval", "Statistics of `clinfm eval`.");
  add(field("eval", &Config::eval, &EvalConfig::bootstrap_samples, "bootstrap_samples",
            "Bootstrap resamples for the 95% intervals; 0 turns intervals off.")
          .at_least(0)
          .at_most(1000000));
  add(field("eval", &Config::eval, &EvalConfig::bootstrap_seed, "bootstrap_seed",
            "Seed of the bootstrap resampling.")
          .at_least(0));
  add(field("eval", &Config::eval, &EvalConfig::min_subgroup_size, "min_subgroup_size",
            "Subgroups with fewer patients report n and no metric.")
          .at_least(1));
  add(field("eval", &Config::eval, &EvalConfig::subgroups, "subgroups",
            "Patient attributes to break metrics down by."));

  section("log", "Console and metrics logging.");
  add(field("log", &Config::log, &LogConfig::level, "level", "Lowest level printed.")
          .one_of({"debug", "info", "warn", "error"}));
  add(field("log", &Config::log, &LogConfig::every, "every",
            "Print a training line every N steps; also where the steps' losses are read back from the "
            "device (their metrics.jsonl lines written, NaN/Inf steps counted): between log steps "
            "a training step does not wait for the device.")
          .at_least(1));
  add(field("log", &Config::log, &LogConfig::all_ranks, "all_ranks",
            "Print informational lines on every rank, not only rank 0."));
  add(field("log", &Config::log, &LogConfig::jsonl, "jsonl", "Write metrics.jsonl in the run folder."));
  // clinfm 0.1 called validation "eval", like the eval/ module: the old keys go in 0.2.
  s.renamed = {{"train.eval_every", "train.validation_every"},
               {"train.eval_batches", "train.validation_batches"}};
  return s;
}

std::string number_text(double v) {
  std::string text = fmt::format("{}", v);
  return text;
}

}  // namespace

const char* field_type_name(FieldType type) {
  switch (type) {
    case FieldType::kBool:
      return "bool";
    case FieldType::kInt:
      return "integer";
    case FieldType::kDouble:
      return "number";
    case FieldType::kString:
      return "string";
    case FieldType::kChoice:
      return "choice";
    case FieldType::kStringList:
      return "list of strings";
  }
  return "?";
}

std::string FieldSpec::describe_constraint() const {
  if (!choices.empty()) {
    std::string text = "one of: ";
    for (size_t i = 0; i < choices.size(); ++i) text += (i ? ", " : "") + choices[i];
    return text;
  }
  if (min && max) {
    return fmt::format("{}{}, {}{}", min_exclusive ? "(" : "[", number_text(*min), number_text(*max),
                       max_exclusive ? ")" : "]");
  }
  if (min) return fmt::format("{} {}", min_exclusive ? ">" : ">=", number_text(*min));
  if (max) return fmt::format("{} {}", max_exclusive ? "<" : "<=", number_text(*max));
  return {};
}

const SectionSpec* Schema::find_section(const std::string& name) const {
  for (const auto& s : sections)
    if (s.name == name) return &s;
  return nullptr;
}

const std::string* Schema::renamed_to(const std::string& old_path) const {
  const auto found = renamed.find(old_path);
  return found == renamed.end() ? nullptr : &found->second;
}

const FieldSpec* Schema::find_field(const std::string& path) const {
  for (const auto& f : fields)
    if (f.path() == path) return &f;
  return nullptr;
}

std::vector<std::string> Schema::keys_of(const std::string& section) const {
  std::vector<std::string> keys;
  for (const auto& f : fields)
    if (f.section == section) keys.push_back(f.key);
  return keys;
}

std::vector<std::string> Schema::all_paths() const {
  std::vector<std::string> paths;
  for (const auto& f : fields) paths.push_back(f.path());
  return paths;
}

const Schema& config_schema() {
  static const Schema schema = build_schema();
  return schema;
}

std::vector<CrossFieldProblem> check_cross_field(const Config& c) {
  std::vector<CrossFieldProblem> problems;
  if (c.optim.min_lr > c.optim.lr) {
    problems.push_back(
        {{"optim.min_lr", "optim.lr"},
         fmt::format("optim.min_lr ({}) must not exceed optim.lr ({})", c.optim.min_lr, c.optim.lr)});
  }
  if (c.train.global_batch_size % c.train.micro_batch_size != 0) {
    problems.push_back({{"train.micro_batch_size", "train.global_batch_size"},
                        fmt::format("train.global_batch_size ({}) must be a multiple of "
                                    "train.micro_batch_size ({})",
                                    c.train.global_batch_size, c.train.micro_batch_size)});
  }
  if (c.model.d_model > 0 && c.model.n_heads > 0 && c.model.d_model % c.model.n_heads != 0) {
    problems.push_back({{"model.n_heads", "model.d_model"},
                        fmt::format("model.d_model ({}) must be divisible by "
                                    "model.n_heads ({})",
                                    c.model.d_model, c.model.n_heads)});
  }
  if (c.checkpoint.keep_best && c.train.validation_every <= 0) {
    problems.push_back({{"checkpoint.keep_best", "train.validation_every"},
                        "checkpoint.keep_best needs validations (train.validation_every > 0): it keeps the "
                        "checkpoint with the lowest tuning loss"});
  }
  if (c.data.split_tuning + c.data.split_held_out >= 1.0) {
    problems.push_back({{"data.split_held_out", "data.split_tuning"},
                        fmt::format("data.split_tuning ({}) + data.split_held_out ({}) must leave patients "
                                    "for training (sum < 1)",
                                    c.data.split_tuning, c.data.split_held_out)});
  }
  return problems;
}

}  // namespace clinfm
