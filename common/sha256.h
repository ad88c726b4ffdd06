// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104). Used for config hashes, checksum manifests
// and keyed pseudonyms of subject ids. Self-contained so that common/ needs no crypto library.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace clinfm {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  std::array<uint8_t, 32> finish();

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string to_hex(const uint8_t* data, size_t size);
std::string sha256_hex(std::string_view data);
std::array<uint8_t, 32> hmac_sha256(std::string_view key, std::string_view message);

}  // namespace clinfm
