// LibTorch's archive format (what torch::serialize::OutputArchive and torch::nn::Module::save
// write and torch::serialize::InputArchive reads), written without the zip's CRC-32 of each
// record, as torch.save does after torch.serialization.set_crc32_options(False). PyTorch's
// reader does not check these CRCs, and every file clinfm writes into a checkpoint carries a
// SHA-256 that is checked at every load (checksums.sha256), so computing both spent a third of a
// checkpoint's CPU time on a check no reader makes (bench/checkpoint_bench.sh). Python's
// zipfile, which does check them, is not a reader of these files.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

namespace clinfm {

class Archive {
 public:
  Archive();
  // A nested archive shares its parent's compilation unit.
  explicit Archive(std::shared_ptr<torch::jit::CompilationUnit> unit);
  std::shared_ptr<torch::jit::CompilationUnit> compilation_unit() const { return unit_; }

  void write(const std::string& key, const c10::IValue& value);
  void write(const std::string& key, const torch::Tensor& tensor, bool is_buffer = false);
  void write(const std::string& key, Archive& nested);

  // Streams the archive into `out` (which returns the bytes it took). With crc32, the records'
  // CRC-32s are computed: the bytes are then exactly OutputArchive::save_to's (a test checks it).
  void save_to(const std::function<size_t(const void*, size_t)>& out, bool crc32 = false);

 private:
  std::shared_ptr<torch::jit::CompilationUnit> unit_;
  torch::jit::Module module_;
};

}  // namespace clinfm
