// write_synthetic_cohort: checks the options, generates blocks of patients on worker threads,
// and writes the blocks in order to temporary files that are renamed into place at the end.
// Blocks have a fixed size, so the bytes never depend on the number of threads. For .gz output
// each block is compressed on its worker as one gzip member (level 1): compression then runs in
// parallel, and a file of concatenated members is one valid gzip stream for zlib, gzip and
// Python. The clinical model is in synth_model.cpp and synth_patient.cpp, the background codes
// in synth_background.cpp.
#include "data/synth/synth_cohort.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/check.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/progress.h"
#include "data/synth/synth_background.h"
#include "data/synth/synth_patient.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

// Fixed: block boundaries (and gzip members) must not depend on the number of threads.
constexpr int64_t kPatientsPerBlock = 1000;
constexpr char kCohortHeader[] = "subject_id,time,code,numeric_value,text_value\n";
constexpr char kTruthHeader[] = "subject_id,prediction_time,outcome,horizon_days,probability\n";

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string parent_folder(const std::string& path) {
  const fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

// One complete gzip member. The header's OS byte is fixed so that the bytes are the same on
// every platform.
std::string gzip_member(const std::string& text) {
  z_stream z{};
  CLINFM_CHECK(deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
               "zlib deflateInit2 failed");
  gz_header header{};
  header.os = 255;
  deflateSetHeader(&z, &header);
  std::string out(deflateBound(&z, text.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  CLINFM_CHECK(rc == Z_STREAM_END, "zlib deflate of a {}-byte block failed (code {})", text.size(), rc);
  return out;
}

// A file created beside its final path and renamed over it by commit(); removed when the
// object dies uncommitted, so an interrupted run leaves no half-written output.
class TempOutput {
 public:
  explicit TempOutput(const std::string& path) : path_(path) {
    const fs::path target(path);
    temp_ = (fs::path(parent_folder(path)) / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
    fd_ = ::mkstemp(temp_.data());
    if (fd_ < 0) {
      throw InputError(fmt::format("cannot create a file in '{}' for '{}': {}", parent_folder(path), path,
                                   std::strerror(errno)),
                       "choose an output path in a folder you can write to");
    }
  }
  ~TempOutput() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }
  TempOutput(const TempOutput&) = delete;
  TempOutput& operator=(const TempOutput&) = delete;

  void write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      IO_CHECK(n > 0, temp_, "write");
      done += static_cast<size_t>(n);
    }
  }

  void commit() {
    IO_CHECK(::fchmod(fd_, 0644) == 0, temp_, "set permissions of");  // mkstemp makes it 0600
    IO_CHECK(::fsync(fd_) == 0, temp_, "fsync");
    const int rc = ::close(fd_);
    fd_ = -1;
    IO_CHECK(rc == 0, temp_, "close");
    IO_CHECK(::rename(temp_.c_str(), path_.c_str()) == 0, path_, "rename the finished temporary file to");
    committed_ = true;
  }

 private:
  std::string path_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

struct Block {
  std::string cohort, truth;  // cohort bytes are gzip when the output is .gz
  synth::PatientCounts counts;
  bool ready = false;
};

void validate(const SynthOptions& o) {
  if (o.patients < 1) {
    throw InputError(fmt::format("the number of patients must be at least 1 (got {})", o.patients),
                     "pass e.g. --patients 1000");
  }
  if (o.threads < 0) {
    throw InputError(fmt::format("the number of threads must be 0 (all cores) or more (got {})", o.threads));
  }
  if (o.codes < 0 || o.codes > synth::kMaxBackgroundCodes) {
    throw InputError(
        fmt::format("the number of background codes (--codes) must be between 0 and {} (got {}): "
                    "three in five are diagnoses, and the synthetic diagnosis names "
                    "A00.0-Z99.99 number {}",
                    synth::kMaxBackgroundCodes, o.codes, synth::kDiagnosisNames),
        "pass e.g. --codes 20000, or 0 for the clinical codes alone");
  }
  if (o.out.empty()) {
    throw InputError("no output path for the synthetic cohort", "pass --out FILE.csv or --out FILE.csv.gz");
  }
  std::error_code ec;
  if (fs::is_directory(o.out, ec)) {
    throw InputError(fmt::format("output path '{}' is a folder", o.out),
                     "name a file, e.g. " + o.out + "/cohort.csv.gz");
  }
  if (!fs::is_directory(parent_folder(o.out), ec)) {
    throw InputError(fmt::format("the folder of output path '{}' does not exist", o.out),
                     fmt::format("create it first: mkdir -p {}", parent_folder(o.out)));
  }
}

void generate_block(uint64_t seed, int64_t block, int64_t patients, bool gzip, synth::PatientWriter& writer,
                    Block& out) {
  const int64_t first = block * kPatientsPerBlock + 1;
  const int64_t last = std::min(patients, first + kPatientsPerBlock - 1);
  std::string text, truth;
  text.reserve(static_cast<size_t>(last - first + 1) * 3000);
  if (block == 0) {
    text += kCohortHeader;
    truth += kTruthHeader;
  }
  synth::PatientCounts counts;
  for (int64_t subject = first; subject <= last; ++subject) writer.write(seed, subject, text, truth, counts);
  out.cohort = gzip ? gzip_member(text) : std::move(text);
  out.truth = std::move(truth);
  out.counts = counts;
}

}  // namespace

std::string synth_truth_path(const std::string& out) {
  std::string stem = out;
  if (ends_with(stem, ".gz")) stem.resize(stem.size() - 3);
  if (ends_with(stem, ".csv")) stem.resize(stem.size() - 4);
  return stem + ".truth.csv";
}

SynthSummary write_synthetic_cohort(const SynthOptions& options) {
  validate(options);
  const bool gzip = ends_with(options.out, ".gz");
  const int64_t blocks = (options.patients + kPatientsPerBlock - 1) / kPatientsPerBlock;
  const int hardware = std::max(1u, std::thread::hardware_concurrency());
  const int threads =
      static_cast<int>(std::min<int64_t>(options.threads > 0 ? options.threads : hardware, blocks));
  const int64_t window = 2 * threads + 2;  // blocks held in memory at most

  // Shared, read-only, by the workers; built before any file is created.
  std::unique_ptr<const synth::BackgroundCodes> background;
  if (options.codes > 0) background = std::make_unique<const synth::BackgroundCodes>(options.codes);

  SynthSummary summary;
  summary.patients = options.patients;
  summary.out = options.out;
  summary.truth_path = synth_truth_path(options.out);
  TempOutput cohort_file(summary.out), truth_file(summary.truth_path);

  std::vector<Block> ring(static_cast<size_t>(window));
  std::mutex mutex;
  std::condition_variable block_ready, space_free;
  int64_t next_block = 0, written = 0;
  bool stop = false;
  std::exception_ptr failure;

  auto work = [&] {
    synth::PatientWriter writer(background.get());
    for (;;) {
      int64_t block;
      {
        std::unique_lock<std::mutex> lock(mutex);
        space_free.wait(lock, [&] { return stop || next_block >= blocks || next_block < written + window; });
        if (stop || next_block >= blocks) return;
        block = next_block++;
      }
      Block result;
      try {
        generate_block(options.seed, block, options.patients, gzip, writer, result);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        stop = true;
        block_ready.notify_all();
        space_free.notify_all();
        return;
      }
      std::lock_guard<std::mutex> lock(mutex);
      result.ready = true;
      ring[static_cast<size_t>(block % window)] = std::move(result);
      block_ready.notify_all();
    }
  };
  Progress progress("synth", "patients", options.patients);
  std::vector<std::thread> workers;
  auto stop_workers = [&] {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    space_free.notify_all();
    for (auto& w : workers) w.join();
  };

  try {
    for (int i = 0; i < threads; ++i) workers.emplace_back(work);
    for (int64_t b = 0; b < blocks; ++b) {
      Block block;
      {
        std::unique_lock<std::mutex> lock(mutex);
        Block& slot = ring[static_cast<size_t>(b % window)];
        block_ready.wait(lock, [&] { return slot.ready || failure; });
        if (!slot.ready) break;  // a worker failed; rethrown below
        block = std::move(slot);
        slot = Block{};
        written = b + 1;
      }
      space_free.notify_all();
      cohort_file.write(block.cohort);
      truth_file.write(block.truth);
      summary.events += block.counts.events;
      summary.background_events += block.counts.background_events;
      summary.deaths += block.counts.deaths;
      summary.truth_rows += block.counts.truth_rows;
      progress.update(std::min(options.patients, (b + 1) * kPatientsPerBlock));
    }
  } catch (...) {
    stop_workers();
    throw;
  }
  stop_workers();
  if (failure) std::rethrow_exception(failure);
  progress.finish();

  truth_file.commit();
  cohort_file.commit();
  fsync_directory(parent_folder(summary.out));
  return summary;
}

}  // namespace clinfm
