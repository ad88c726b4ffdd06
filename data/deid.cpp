#include "data/deid.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <unordered_set>

#include "common/check.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/sha256.h"

namespace clinfm {
namespace fs = std::filesystem;

std::string expand_home(const std::string& path) {
  if (path.rfind("~/", 0) != 0) return path;
  const char* home = std::getenv("HOME");
  if (!home || !*home)
    throw InputError(fmt::format("cannot expand '{}': HOME is not set", path), "give an absolute path");
  return std::string(home) + path.substr(1);
}

Salt load_or_create_salt(const std::string& given_path, const std::string& forbidden_dir) {
  const std::string path = expand_home(given_path);
  std::error_code ec;
  const fs::path absolute = fs::weakly_canonical(fs::absolute(path), ec);
  if (!forbidden_dir.empty()) {
    const fs::path forbidden = fs::weakly_canonical(fs::absolute(forbidden_dir), ec);
    const auto mismatch = std::mismatch(forbidden.begin(), forbidden.end(), absolute.begin(), absolute.end());
    if (mismatch.first == forbidden.end()) {
      throw InputError(
          fmt::format("the salt file '{}' lies inside the data set folder '{}'", path, forbidden_dir),
          "the salt is the secret behind the pseudonyms: keep it outside the data set "
          "(set data.salt_file)");
    }
  }
  if (!fs::exists(absolute, ec)) {
    if (absolute.has_parent_path() && !fs::exists(absolute.parent_path())) {
      fs::create_directories(absolute.parent_path(), ec);
      if (ec)
        throw InputError(
            fmt::format("cannot create the folder of the salt file '{}': {}", path, ec.message()));
      ::chmod(absolute.parent_path().c_str(), 0700);
    }
    std::string bytes(32, '\0');
    const int random = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    IO_CHECK(random >= 0, "/dev/urandom", "open");
    const ssize_t n = ::read(random, bytes.data(), bytes.size());
    ::close(random);
    CLINFM_CHECK(n == static_cast<ssize_t>(bytes.size()), "short read from /dev/urandom");
    const int fd = ::open(absolute.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    IO_CHECK(fd >= 0, path, "create the salt file");
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    const int synced = ::fsync(fd);
    ::close(fd);
    IO_CHECK(written == static_cast<ssize_t>(bytes.size()) && synced == 0, path, "write the salt file");
  }
  Salt salt;
  salt.bytes = read_file(absolute.string());
  if (salt.bytes.empty()) {
    throw InputError(fmt::format("the salt file '{}' is empty", path),
                     "delete it to have prep create a new one (pseudonyms will change), or restore it");
  }
  salt.id = sha256_hex(salt.bytes).substr(0, 16);
  return salt;
}

SubjectHash subject_hash(const Salt& salt, std::string_view raw_subject_id) {
  const auto digest = hmac_sha256(salt.bytes, raw_subject_id);
  SubjectHash hash;
  for (int i = 0; i < 8; ++i) hash.key = (hash.key << 8) | digest[i];
  for (int i = 8; i < 12; ++i) hash.check = (hash.check << 8) | digest[i];
  return hash;
}

uint64_t subject_key(const Salt& salt, std::string_view raw_subject_id) {
  return subject_hash(salt, raw_subject_id).key;
}

std::string subject_key_hex(uint64_t key) { return fmt::format("{:016x}", key); }

bool parse_subject_key_hex(std::string_view text, uint64_t* key) {
  if (text.size() != 16) return false;
  uint64_t v = 0;
  for (const char c : text) {
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= uint64_t(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= uint64_t(c - 'a' + 10);
    else
      return false;
  }
  *key = v;
  return true;
}

const char* split_name(Split split) {
  switch (split) {
    case Split::kTrain:
      return "train";
    case Split::kTuning:
      return "tuning";
    case Split::kHeldOut:
      return "held_out";
  }
  return "?";
}

Split assign_split(uint64_t key, double tuning_fraction, double held_out_fraction) {
  // The key's low bits are as uniform as its high bits (HMAC output); use a separate mix of
  // them so the split is independent of any key-ordered partitioning.
  const uint64_t z = mix64(key);
  const double u = static_cast<double>(z >> 11) * 0x1.0p-53;
  if (u < held_out_fraction) return Split::kHeldOut;
  if (u < held_out_fraction + tuning_fraction) return Split::kTuning;
  return Split::kTrain;
}

std::optional<std::string> parent_code(std::string_view code) {
  const size_t last = code.rfind("//");
  if (last == std::string_view::npos) return std::nullopt;
  const std::string_view head = code.substr(0, last);
  const std::string_view tail = code.substr(last + 2);
  const bool icd = head.rfind("ICD", 0) == 0 || head.find("//ICD") != std::string_view::npos;
  if (icd && tail.size() > 3) {
    std::string shorter(code.substr(0, code.size() - 1));
    if (!shorter.empty() && shorter.back() == '.') shorter.pop_back();  // I25.1 -> I25
    return shorter;
  }
  return std::string(head);
}

void CodeHierarchy::set_parent(const std::string& code, const std::string& parent,
                               const std::string& source) {
  // Walk up from the new parent: meeting `code` again would make suppression loop forever.
  std::optional<std::string> current = parent;
  std::unordered_set<std::string> seen;
  while (current) {
    if (*current == code || !seen.insert(*current).second) {
      throw InputError(fmt::format("{}: code '{}' has parent '{}', which leads back to '{}' (a cycle)",
                                   source, code, parent, code),
                       "a code's parent_codes must lead to coarser codes: fix the code metadata");
    }
    current = this->parent(*current);
  }
  parents_[code] = parent;
}

std::vector<std::pair<std::string, std::string>> CodeHierarchy::stated() const {
  std::vector<std::pair<std::string, std::string>> out(parents_.begin(), parents_.end());
  std::sort(out.begin(), out.end());
  return out;
}

void CodeHierarchy::set_parents(const std::vector<std::pair<std::string, std::string>>& parents,
                                const std::string& source) {
  for (const auto& [code, parent] : parents) parents_[code] = parent;
  for (const auto& [code, parent] : parents) {
    std::unordered_set<std::string> seen{code};
    for (std::optional<std::string> current = parent; current; current = this->parent(*current)) {
      if (!seen.insert(*current).second) {
        throw InputError(fmt::format("{}: code '{}' has parent '{}', which leads back to '{}' (a cycle)",
                                     source, code, parent, *current),
                         "a code's parent_codes must lead to coarser codes: fix the code metadata");
      }
    }
  }
}

std::optional<std::string> CodeHierarchy::parent(std::string_view code) const {
  const auto it = parents_.find(std::string(code));
  if (it != parents_.end()) return it->second;
  return parent_code(code);
}

}  // namespace clinfm
