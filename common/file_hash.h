// SHA-256 of files (checkpoints, data set shards) through OpenSSL's libcrypto: it uses the CPU's
// SHA extensions (measured here: ~900 MB/s, ~9x common/sha256.h's portable code, which made
// hashing half of a checkpoint save and 10 s of a 1 GB data set's verification).
// The same digest as common/sha256.h (a test checks it), so checksums.sha256 stays what
// `sha256sum -c` reads. Files are hashed in chunks: a multi-GB checkpoint is never read whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace clinfm {

std::string fast_sha256_hex(std::string_view bytes);
// Throws clinfm::Error naming the file when it cannot be read.
std::string file_sha256_hex(const std::string& path);

// Writes a new file as its bytes arrive and hashes them on the way, so that a large file is
// never held whole in memory nor read back to be hashed. Every `flush_bytes` written, the kernel
// is asked to start writing the dirty pages (sync_file_range), so that the disk works while the
// caller produces the next bytes and finish()'s fsync has little left to wait for. Errors are
// clinfm::Error naming the file; a writer destroyed before finish() removes its file.
class HashingFileWriter {
 public:
  explicit HashingFileWriter(std::string path, int64_t flush_bytes = int64_t(64) << 20);
  ~HashingFileWriter();
  HashingFileWriter(const HashingFileWriter&) = delete;
  HashingFileWriter& operator=(const HashingFileWriter&) = delete;
  void write(const void* data, size_t size);
  // fsyncs and closes the file; returns the SHA-256 of everything written (hex).
  std::string finish();
  int64_t bytes_written() const { return written_; }

 private:
  struct Digest;
  std::string path_;
  int fd_ = -1;
  std::unique_ptr<Digest> digest_;
  int64_t written_ = 0, flushed_ = 0, flush_bytes_;
};

}  // namespace clinfm
