// SHA-256 for checkpoint files, through OpenSSL's libcrypto: it uses the CPU's SHA extensions
// (measured here: ~10x common/sha256.h's portable code, which made hashing half of a save).
// The same digest as common/sha256.h (a test checks it), so checksums.sha256 stays what
// `sha256sum -c` reads. Files are hashed in chunks: a multi-GB checkpoint is never read whole.
#pragma once

#include <string>
#include <string_view>

namespace clinfm {

std::string fast_sha256_hex(std::string_view bytes);
// Throws clinfm::Error naming the file when it cannot be read.
std::string file_sha256_hex(const std::string& path);

}  // namespace clinfm
