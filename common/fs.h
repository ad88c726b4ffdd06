// File helpers with clear errors. write_file_atomic is how every output that must never be
// seen half-written (resolved configs, manifests, checkpoint pointers) reaches the disk.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace clinfm {

// Whole file as bytes; throws clinfm::Error naming the path and the OS error.
std::string read_file(const std::string& path);
// Reads `path` in chunks of up to `chunk_bytes`, handing each to `take`; errors as read_file.
void read_file_chunks(const std::string& path, size_t chunk_bytes,
                      const std::function<void(const char* data, size_t size)>& take);
// write(2) of every byte (short writes and EINTR retried); 0, or the errno of the failure.
int write_all(int fd, const void* data, size_t size);
// Writes `bytes` to a temporary file beside `path`, fsyncs it, renames it over `path` and
// fsyncs the folder: a reader sees the old content or the new one, never a mix. On any
// failure the temporary file is removed, `path` is untouched, and clinfm::Error is thrown.
void write_file_atomic(const std::string& path, const std::string& bytes);
// fsync of a folder, so that a rename inside it survives a crash.
void fsync_directory(const std::string& dir);

}  // namespace clinfm
