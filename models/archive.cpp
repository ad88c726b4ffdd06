#include "models/archive.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>

namespace clinfm {

// The same module OutputArchive builds (its output-archive.cpp): attributes, parameters (buffers
// flagged) and submodules of a "__torch__.Module".
Archive::Archive()
    : unit_(std::make_shared<torch::jit::CompilationUnit>()), module_("__torch__.Module", unit_) {}

// A nested archive's class name is mangled in the shared unit, as OutputArchive(unit) does.
Archive::Archive(std::shared_ptr<torch::jit::CompilationUnit> unit)
    : unit_(std::move(unit)), module_("__torch__.Module", unit_, /*shouldMangle=*/true) {}

void Archive::write(const std::string& key, const c10::IValue& value) {
  module_.register_attribute(key, value.type(), value);
}

void Archive::write(const std::string& key, const torch::Tensor& tensor, bool is_buffer) {
  module_.register_parameter(key, tensor, is_buffer);
}

void Archive::write(const std::string& key, Archive& nested) { module_.register_module(key, nested.module_); }

// torch::jit::ExportModule(module, writer_func) with the writer's CRC-32 made optional.
void Archive::save_to(const std::function<size_t(const void*, size_t)>& out, bool crc32) {
  caffe2::serialize::PyTorchStreamWriter writer(out, crc32);
  torch::jit::ScriptModuleSerializer serializer(writer);
  serializer.serialize(module_, torch::jit::ExtraFilesMap(), /*bytecode_format=*/false,
                       /*save_mobile_debug_info=*/false);
}

}  // namespace clinfm
