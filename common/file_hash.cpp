#include "trainer/checkpoint/file_hash.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "common/check.h"
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

std::string fast_sha256_hex(std::string_view bytes) {
  DigestContext d;
  d.update(bytes.data(), bytes.size());
  return d.hex();
}

std::string file_sha256_hex(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  IO_CHECK(fd >= 0, path, "open for reading");
  DigestContext d;
  std::vector<char> chunk(size_t(8) << 20);
  for (;;) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      errno = saved;
      IO_CHECK(false, path, "read");
    }
    if (n == 0) break;
    d.update(chunk.data(), size_t(n));
  }
  ::close(fd);
  return d.hex();
}

}  // namespace clinfm
