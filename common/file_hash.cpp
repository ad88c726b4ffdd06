#include "common/file_hash.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <thread>
#include <vector>

#include "common/check.h"
#include "common/fs.h"
#include "common/sha256.h"

namespace clinfm {
namespace {

struct DigestContext {
  DigestContext() : ctx(EVP_MD_CTX_new()) {
    CLINFM_CHECK(ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1,
                 "OpenSSL SHA-256 init failed");
  }
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
  void update(const void* data, size_t size) {
    CLINFM_CHECK(EVP_DigestUpdate(ctx, data, size) == 1, "OpenSSL SHA-256 update failed");
  }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    CLINFM_CHECK(EVP_DigestFinal_ex(ctx, digest, &size) == 1, "OpenSSL SHA-256 final failed");
    return to_hex(digest, size);
  }
  EVP_MD_CTX* ctx;
};

}  // namespace

struct HashingFileWriter::Digest : DigestContext {};

HashingFileWriter::HashingFileWriter(std::string path, int64_t flush_bytes)
    : path_(std::move(path)), digest_(std::make_unique<Digest>()), flush_bytes_(flush_bytes) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  IO_CHECK(fd_ >= 0, path_, "create");
}

HashingFileWriter::~HashingFileWriter() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(path_.c_str());
}

void HashingFileWriter::write(const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  int error = 0;
  if (size >= (size_t(4) << 20)) {
    // A large block (a tensor's data): the copy into the page cache runs on a second thread
    // while this one hashes the same (unchanging) bytes.
    std::thread writer([&] { error = write_all(fd_, bytes, size); });
    digest_->update(data, size);
    writer.join();
  } else {
    digest_->update(data, size);
    error = write_all(fd_, bytes, size);
  }
  errno = error;
  IO_CHECK(error == 0, path_, "write");
  written_ += int64_t(size);
  if (written_ - flushed_ >= flush_bytes_) {
    // Start writing back what is dirty; do not wait for it (finish() waits once, at the end).
    ::sync_file_range(fd_, flushed_, written_ - flushed_, SYNC_FILE_RANGE_WRITE);
    flushed_ = written_;
  }
}

std::string HashingFileWriter::finish() {
  IO_CHECK(::fsync(fd_) == 0, path_, "fsync");
  const int fd = fd_;
  fd_ = -1;
  IO_CHECK(::close(fd) == 0, path_, "close");
  return digest_->hex();
}

std::string fast_sha256_hex(std::string_view bytes) {
  DigestContext d;
  d.update(bytes.data(), bytes.size());
  return d.hex();
}

std::string file_sha256_hex(const std::string& path) {
  DigestContext d;
  read_file_chunks(path, size_t(8) << 20, [&d](const char* data, size_t size) { d.update(data, size); });
  return d.hex();
}

}  // namespace clinfm
