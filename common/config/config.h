// The typed configuration of a clinfm run. Defaults live here, in code; documentation, types,
// ranges and choices live in one place, the schema (config/schema.cpp), from which the loader,
// `clinfm config show` and `clinfm config doc` are all driven. A field added here and not
// registered in the schema is caught by a unit test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace clinfm {

struct RunConfig {
  std::string name = "default";
  std::string out_dir = "runs/default";
  int64_t seed = 1234;
  std::string device = "auto";  // auto | cpu | cuda
  int64_t threads = 0;          // 0: cores on the node / ranks on the node
  int64_t lock_stale_s = 120;   // run.lock heartbeat age after which its job counts as gone
};

struct DataConfig {
  std::string dataset;  // required: folder written by `clinfm prep`
  int64_t seq_len = 256;
  int64_t prefetch_batches = 4;
  // Used by `clinfm prep`:
  std::string salt_file = "~/.clinfm/salt";  // secret key of the subject pseudonyms
  int64_t min_patients_per_code = 10;        // k of small-cell suppression
  double max_age_years = 89.0;               // ages above are top-coded
  int64_t value_bins = 10;
  double split_tuning = 0.1;
  double split_held_out = 0.1;
  int64_t shard_patients = 50000;
  std::string shard_compression = "integers";  // integers | all | none
  // Privacy audit (docs/privacy.md): canaries inserted by prep into the training split.
  int64_t canaries = 0;
  int64_t canary_copies = 1;
  int64_t canary_events = 16;
  int64_t reference_canaries = 1000;
  std::string canary_file;            // default: beside the salt, named after the data set
  std::string train_split = "train";  // train | tuning (a reference model of a privacy audit)
};

struct ModelConfig {
  std::string preset = "tiny";  // tiny | small | base | large
  // 0 takes the preset's value; anything else overrides it.
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t d_model = 0;
  int64_t d_ff = 0;
  double dropout = 0.0;
  double token_loss_weight = 1.0;
  double time_loss_weight = 1.0;
  std::string attention = "auto";  // auto | explicit | fused | sdpa
};

struct OptimConfig {
  double lr = 3e-4;
  double min_lr = 3e-5;
  double weight_decay = 0.1;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  int64_t warmup_steps = 100;
  double grad_clip = 1.0;
  bool decay_embeddings_and_norms = false;
};

struct TrainConfig {
  int64_t max_steps = 1000;
  int64_t global_batch_size = 32;
  int64_t micro_batch_size = 8;
  std::string precision = "fp32";  // fp32 | bf16
  bool tf32 = false;               // TF32 tensor cores for CUDA float32 matmuls
  int64_t validation_every = 200;  // the tuning-split loss during training ("validation")
  int64_t validation_batches = 20;
  int64_t max_consecutive_bad_steps = 5;
  std::vector<std::string> ignore_target_codes;  // codes never predicted (loss mask 0)
  double peak_tflops = 0.0;                      // 0: measure the CPU's fp32 matmul peak
};

struct DistConfig {
  std::string backend = "auto";  // auto | mpi | nccl
  double bucket_mb = 25.0;
  bool overlap = true;
  bool zero1 = false;
  int64_t checksum_every = 100;
  double timeout_s = 300.0;
};

struct CheckpointConfig {
  int64_t every = 500;
  int64_t keep_last = 3;
  int64_t keep_every = 0;
  bool keep_best = false;
  bool async = false;
};

struct EvalConfig {
  int64_t bootstrap_samples = 1000;
  int64_t bootstrap_seed = 1234;
  int64_t min_subgroup_size = 30;
  std::vector<std::string> subgroups = {"sex", "age_band"};
};

struct LogConfig {
  std::string level = "info";  // debug | info | warn | error
  int64_t every = 10;
  bool all_ranks = false;
  bool jsonl = true;
};

struct Config {
  RunConfig run;
  DataConfig data;
  ModelConfig model;
  OptimConfig optim;
  TrainConfig train;
  DistConfig dist;
  CheckpointConfig checkpoint;
  EvalConfig eval;
  LogConfig log;
};

}  // namespace clinfm
