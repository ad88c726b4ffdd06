#include "trainer/checkpoint/writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "common/check.h"
#include "common/error.h"
#include "common/file_hash.h"
#include "common/fs.h"
#include "common/log.h"
#include "trainer/checkpoint/layout.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

// Test-only fault injection: CLINFM_FAULT_CHECKPOINT_WRITE="STEP" or "STEP:RANK" makes the
// second file (the only one, when there is one) of that rank's part of the checkpoint of STEP
// fail as a full disk would, after the first was written.
bool injected_write_fault(int64_t step, int rank) {
  const char* spec = std::getenv("CLINFM_FAULT_CHECKPOINT_WRITE");
  if (spec == nullptr || *spec == '\0') return false;
  char* end = nullptr;
  const long long fault_step = std::strtoll(spec, &end, 10);
  const int fault_rank = (end && *end == ':') ? std::atoi(end + 1) : 0;
  return fault_step == step && fault_rank == rank;
}

int64_t agree_sum(Communicator& comm, int64_t value) {
  auto sum = torch::tensor({value}, torch::kInt64);
  comm.all_reduce(sum, ReduceOp::kSum);
  return sum.item<int64_t>();
}

}  // namespace

CheckpointFile bytes_file(std::string name, std::string bytes) {
  auto shared = std::make_shared<const std::string>(std::move(bytes));
  return {std::move(name), [shared](const ByteWriter& out) { out(shared->data(), shared->size()); }};
}

CheckpointWriter::CheckpointWriter(std::string run_dir, const CheckpointConfig& config, Communicator& comm)
    : run_dir_(std::move(run_dir)), config_(config), comm_(comm), rank_(comm.rank()) {}

CheckpointWriter::~CheckpointWriter() {
  if (thread_.joinable()) thread_.join();
}

void CheckpointWriter::write_part(const std::string& dir, int64_t step,
                                  const std::vector<CheckpointFile>& files) {
  const auto started = std::chrono::steady_clock::now();
  try {
    // The files are written at once, one thread each (a rank's part is its weights, optimizer
    // state and small files): serialising and hashing the weights overlaps with the optimizer
    // state's. The listing keeps the files' order.
    std::vector<std::string> digests(files.size()), errors(files.size());
    const size_t fault_index = std::min<size_t>(1, files.size() - 1);
    const bool fault = !files.empty() && injected_write_fault(step, rank_);
    auto write_one = [&](size_t index) {
      const CheckpointFile& file = files[index];
      const std::string path = (fs::path(dir) / file.name).string();
      try {
        if (fault && index == fault_index) {
          errno = ENOSPC;
          IO_CHECK(false, path, "write (fault injected by CLINFM_FAULT_CHECKPOINT_WRITE)");
        }
        HashingFileWriter out(path);
        file.write([&out](const void* data, size_t size) {
          out.write(data, size);
          return size;
        });
        digests[index] = out.finish();
      } catch (const std::exception& e) {
        errors[index] = e.what();
        if (errors[index].empty()) errors[index] = "unknown error writing " + path;
      }
    };
    std::vector<std::thread> threads;
    for (size_t index = 1; index < files.size(); ++index) threads.emplace_back(write_one, index);
    if (!files.empty()) write_one(0);
    for (auto& thread : threads) thread.join();
    std::string listing;
    for (size_t index = 0; index < files.size(); ++index) {
      if (!errors[index].empty()) throw Error(errors[index]);
      listing += fmt::format("{}  {}\n", digests[index], files[index].name);
    }
    write_file_atomic((fs::path(dir) / fmt::format("checksums-rank-{:05d}.part", rank_)).string(), listing);
    error_.clear();
  } catch (const std::exception& e) {
    error_ = e.what();
    if (error_.empty()) error_ = "unknown error";
  }
  last_write_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
}

void CheckpointWriter::save(int64_t step, std::vector<CheckpointFile> files) {
  if (pending_) finish();
  const std::string tmp = (fs::path(checkpoints_dir(run_dir_)) / (".tmp-" + checkpoint_name(step))).string();
  int64_t setup_failed = 0;
  std::string setup_error;
  if (rank_ == 0) {
    try {
      std::error_code ec;
      fs::remove_all(tmp, ec);  // left by a crash during an earlier save of the same step
      fs::create_directories(tmp);
    } catch (const std::exception& e) {
      setup_failed = 1;
      setup_error = e.what();
    }
  }
  if (agree_sum(comm_, setup_failed) > 0) {
    throw Error(fmt::format("checkpoint of step {}: cannot create {}: {}", step, tmp,
                            setup_error.empty() ? "failed on rank 0" : setup_error),
                "check that the run folder is writable and has free space");
  }
  pending_ = true;
  pending_step_ = step;
  pending_dir_ = tmp;
  done_ = false;
  if (!config_.async) {
    write_part(tmp, step, files);
    done_ = true;
    publish();
    return;
  }
  thread_ = std::thread([this, tmp, step, files = std::move(files)] {
    write_part(tmp, step, files);
    done_ = true;
  });
}

void CheckpointWriter::publish_if_done(bool busy_on_any_rank) {
  if (pending_ && !busy_on_any_rank) finish();
}

void CheckpointWriter::finish() {
  if (!pending_) return;
  if (thread_.joinable()) thread_.join();
  publish();
}

void CheckpointWriter::publish() {
  const int64_t step = pending_step_;
  const std::string tmp = pending_dir_;
  pending_ = false;
  const int64_t failed = agree_sum(comm_, error_.empty() ? 0 : 1);
  const std::string final_dir = (fs::path(checkpoints_dir(run_dir_)) / checkpoint_name(step)).string();
  const std::string hint =
      "free disk space or fix the run folder's file system; the previous checkpoint is intact and still "
      "`latest`";
  if (failed > 0) {
    if (rank_ == 0) {
      std::error_code ec;
      fs::remove_all(tmp, ec);
    }
    throw Error(fmt::format("checkpoint of step {} could not be written ({} of the ranks failed){}", step,
                            failed, error_.empty() ? std::string() : ": " + error_),
                hint);
  }
  std::string publish_error;
  if (rank_ == 0) {
    try {
      std::string listing;
      std::vector<fs::path> parts;
      for (const auto& entry : fs::directory_iterator(tmp)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("checksums-rank-", 0) == 0) parts.push_back(entry.path());
      }
      std::sort(parts.begin(), parts.end());
      for (const auto& part : parts) listing += read_file(part.string());
      write_file_atomic((fs::path(tmp) / kChecksumFile).string(), listing);
      for (const auto& part : parts) fs::remove(part);
      fsync_directory(tmp);
      std::error_code ec;
      if (fs::exists(final_dir, ec)) fs::remove_all(final_dir);  // a damaged copy of the same step
      fs::rename(tmp, final_dir);
      fsync_directory(checkpoints_dir(run_dir_));
      write_file_atomic((fs::path(checkpoints_dir(run_dir_)) / "latest").string(),
                        checkpoint_name(step) + "\n");
      apply_retention(step);
    } catch (const std::exception& e) {
      publish_error = e.what();
      std::error_code ec;
      fs::remove_all(tmp, ec);
    }
  }
  if (agree_sum(comm_, publish_error.empty() ? 0 : 1) > 0) {
    throw Error(fmt::format("checkpoint of step {} could not be published{}", step,
                            publish_error.empty() ? " (failed on rank 0)" : ": " + publish_error),
                hint);
  }
  last_published_ = step;
  log_info("checkpoint {} written", final_dir);
}

void CheckpointWriter::apply_retention(int64_t published_step) {
  // The run's own checkpoints, newest first (an unreadable one is not provably this run's).
  std::vector<std::pair<std::string, CheckpointMeta>> lineage;
  for (const std::string& dir : list_checkpoints(run_dir_)) {
    try {
      CheckpointMeta meta = read_checkpoint_meta(dir);
      if (!meta.run_id.empty() && meta.run_id == run_id_) lineage.emplace_back(dir, std::move(meta));
    } catch (const std::exception&) {
    }
  }
  int64_t best_step = -1;  // the lowest tuning loss (checkpoint.keep_best); the earlier on a tie
  double best_loss = 0;
  for (const auto& [dir, meta] : lineage) {
    if (config_.keep_best && meta.validation_loss && (best_step < 0 || *meta.validation_loss <= best_loss)) {
      best_step = meta.step;
      best_loss = *meta.validation_loss;
    }
  }
  if (best_step >= 0 && best_step != best_step_logged_) {
    log_info("checkpoint {} has the lowest tuning loss so far ({:.4f}): kept (checkpoint.keep_best)",
             checkpoint_name(best_step), best_loss);
    best_step_logged_ = best_step;
  }
  int64_t rank_in_lineage = 0;
  for (const auto& [dir, meta] : lineage) {
    const int64_t step = parse_checkpoint_name(fs::path(dir).filename().string());
    const bool recent = config_.keep_last <= 0 || rank_in_lineage++ < config_.keep_last;
    const bool milestone = config_.keep_every > 0 && step % config_.keep_every == 0;
    if (recent || milestone || step == published_step || step == best_step) continue;
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) log_warn("retention: cannot remove {}: {}", dir, ec.message());
  }
}

}  // namespace clinfm
