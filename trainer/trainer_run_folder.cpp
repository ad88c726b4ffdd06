// The Trainer's hold on its run folder (trainer/checkpoint/run_folder.h): rank 0 takes the lock
// and every rank proves it sees it; a run that does not continue the folder's own checkpoints
// claims the folder; the lock is checked at every step boundary; the shards training reads are
// verified once per run (RUN/verified-shards.json). Decisions are taken on rank 0 and agreed: an
// error there is thrown on every rank, so no rank is left waiting.
#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "trainer/checkpoint/layout.h"
#include "trainer/checkpoint/run_folder.h"
#include "trainer/comm/launch.h"
#include "trainer/trainer.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

constexpr char kSeparator = '\x1f';

// Whether `checkpoint` is a folder directly under RUN/checkpoints.
bool inside_run(const std::string& checkpoint, const std::string& run_dir) {
  std::error_code ec;
  const fs::path parent = fs::weakly_canonical(fs::path(checkpoint), ec).parent_path();
  return !ec && parent == fs::weakly_canonical(fs::path(checkpoints_dir(run_dir)), ec);
}

// "size:mtime_ns" of a file: what verified-shards.json compares to skip a shard hashed before.
std::string file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  return fmt::format("{}:{}", int64_t(st.st_size),
                     int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
}

}  // namespace

void Trainer::run_on_rank0(const std::function<void()>& action) {
  std::exception_ptr failure;
  std::string verdict;
  if (world().rank == 0) {
    try {
      action();
    } catch (const Error& e) {
      failure = std::current_exception();
      verdict = std::string(e.exit_code() == 2 ? "I" : "E") + e.what() + kSeparator + e.hint();
    } catch (const std::exception& e) {
      failure = std::current_exception();
      verdict = std::string("E") + e.what() + kSeparator;
    }
  }
  verdict = broadcast_text_from_rank0(verdict);
  if (verdict.empty()) return;
  if (failure) std::rethrow_exception(failure);
  const size_t cut = verdict.find(kSeparator);
  const std::string message = "rank 0: " + verdict.substr(1, cut - 1), hint = verdict.substr(cut + 1);
  if (verdict[0] == 'I') throw InputError(message, hint);
  throw Error(message, hint);
}

void Trainer::lock_run_folder() {
  const std::string& dir = config_.run.out_dir;
  run_on_rank0([&] { lock_.acquire(dir, double(config_.run.lock_stale_s)); });
  if (world().world_size == 1) return;
  // Checkpoints need every rank to see the same run folder: each reads rank 0's token.
  const std::string token = broadcast_text_from_rank0(lock_.token());
  LockHolder holder;
  const bool sees =
      read_lock_holder((fs::path(dir) / kRunLockFile).string(), &holder) && holder.token == token;
  auto blind = torch::zeros({world().world_size}, torch::kInt64);
  blind[world().rank] = sees ? 0 : 1;
  control_->all_reduce(blind, ReduceOp::kSum);
  std::vector<int> ranks;
  for (int rank = 0; rank < world().world_size; ++rank)
    if (blind[rank].item<int64_t>() > 0) ranks.push_back(rank);
  if (ranks.empty()) return;
  throw InputError(
      fmt::format("rank(s) {} do not see the run folder {} that rank 0 writes (its {} is missing or another "
                  "job's there): the run folder must be on a file system shared by every rank",
                  fmt::join(ranks, ", "), dir, kRunLockFile),
      "point run.out_dir at a shared file system (and an absolute path, the same on every node)");
}

// A run that does not continue this folder's own checkpoints (a fresh start, or a resume from
// another run's checkpoint) must not overwrite or mix with a run already there.
void Trainer::claim_run_folder_if_new(const std::string& resumed_from, bool overwrite) {
  if (!resumed_from.empty() && inside_run(resumed_from, config_.run.out_dir)) return;
  run_on_rank0([&] { claim_run_folder(config_.run.out_dir, overwrite); });
}

// Training reads the train and tuning shards. Each rank hashes its share of those not verified
// by an earlier start of this run (RUN/verified-shards.json holds each verified shard's SHA-256
// with its size and modification time then); a damaged shard stops the run, naming every one.
void Trainer::verify_shards_once() {
  const auto started = std::chrono::steady_clock::now();
  const fs::path record_path = fs::path(config_.run.out_dir) / "verified-shards.json";
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(read_file(record_path.string()));
    if (record.value("manifest_sha256", "") != manifest_sha256_) record = nlohmann::json();
  } catch (const std::exception&) {
    record = nlohmann::json();  // none yet, or unreadable: verify everything
  }
  if (!record.is_object() || !record.contains("shards") || !record["shards"].is_object())
    record = {{"shards", nlohmann::json::object()}};  // none, or not what this code writes: verify all
  record["manifest_sha256"] = manifest_sha256_;
  std::vector<ShardEntry> todo;
  for (const ShardEntry& entry : dataset_->shards()) {
    if (entry.split != "train" && entry.split != "tuning") continue;
    const std::string stamp = file_stamp((fs::path(config_.data.dataset) / entry.file).string());
    const nlohmann::json known = record["shards"].value(entry.file, nlohmann::json());
    const auto text = [&known](const char* key) {
      return known.is_object() && known.contains(key) && known[key].is_string()
                 ? known[key].get<std::string>()
                 : std::string();
    };
    if (text("sha256") == entry.sha256 && text("stamp") == stamp) continue;
    todo.push_back(entry);
  }
  const int world_size = world().world_size, rank = world().rank;
  auto bad = torch::zeros({int64_t(todo.size()) + 1}, torch::kInt64);
  int64_t bytes = 0;
  for (size_t i = size_t(rank); i < todo.size(); i += size_t(world_size)) {
    bad[int64_t(i)] = dataset_->check_shard(todo[i]).empty() ? 0 : 1;
    bytes += std::max<int64_t>(0, todo[i].bytes);
  }
  bad[int64_t(todo.size())] = bytes;
  control_->all_reduce(bad, ReduceOp::kSum);
  run_on_rank0([&] {
    std::vector<std::pair<std::string, std::string>> damaged;
    for (size_t i = 0; i < todo.size(); ++i) {
      if (bad[int64_t(i)].item<int64_t>() == 0) {
        record["shards"][todo[i].file] = {
            {"sha256", todo[i].sha256},
            {"stamp", file_stamp((fs::path(config_.data.dataset) / todo[i].file).string())}};
        continue;
      }
      damaged.emplace_back(todo[i].file, dataset_->check_shard(todo[i]));  // again, for its message
    }
    if (!damaged.empty()) dataset_->throw_damaged(damaged, todo.size());
    if (!todo.empty()) write_file_atomic(record_path.string(), record.dump(1) + "\n");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (todo.empty())
      log_info("data: the train/tuning shards were verified earlier in this run ({}): not hashed again",
               record_path.string());
    else
      log_info(
          "data: {} train/tuning shard(s) ({:.1f} MB) match the manifest's SHA-256, checked in {:.1f} s "
          "over {} rank(s)",
          todo.size(), double(bad[int64_t(todo.size())].item<int64_t>()) / 1e6, seconds, world_size);
  });
}

// Called when the lock's heartbeat thread (rank 0) found the lock gone or another job's.
void Trainer::stop_for_lost_lock() {
  run_on_rank0([&] {
    throw Error(
        fmt::format("the run folder's lock was lost ({}): this job stops and writes nothing more there",
                    lock_.lost_reason()),
        "another job may be writing " + config_.run.out_dir +
            "; check it, then resume this run with --resume auto once it has stopped");
  });
  throw Error("the run folder's lock was lost");  // not reached: rank 0 always throws
}

}  // namespace clinfm
