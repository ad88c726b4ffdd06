#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "common/check.h"

namespace clinfm {
namespace fs = std::filesystem;

void read_file_chunks(const std::string& path, size_t chunk_bytes,
                      const std::function<void(const char* data, size_t size)>& take) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  IO_CHECK(fd >= 0, path, "open for reading");
  std::vector<char> chunk(chunk_bytes);
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
    take(chunk.data(), static_cast<size_t>(n));
  }
  ::close(fd);
}

std::string read_file(const std::string& path) {
  std::string bytes;
  read_file_chunks(path, size_t(1) << 16,
                   [&bytes](const char* data, size_t size) { bytes.append(data, size); });
  return bytes;
}

int write_all(int fd, const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, bytes + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    done += size_t(n);
  }
  return 0;
}

void fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  IO_CHECK(fd >= 0, dir, "open folder for fsync");
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  IO_CHECK(rc == 0, dir, "fsync folder");
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const fs::path target(path);
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : std::string(".");
  std::string temp = (fs::path(dir) / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());
  IO_CHECK(fd >= 0, path, "create a temporary file beside");
  auto fail = [&](const char* action) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    errno = saved;
    IO_CHECK(false, path, action);
  };
  if (const int error = write_all(fd, bytes.data(), bytes.size()); error != 0) {
    errno = error;
    fail("write");
  }
  if (::fchmod(fd, 0644) != 0) fail("set permissions of");
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    errno = saved;
    IO_CHECK(false, path, "close");
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    errno = saved;
    IO_CHECK(false, path, "rename the temporary file onto");
  }
  fsync_directory(dir);
}

}  // namespace clinfm
