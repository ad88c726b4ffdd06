#include "trainer/checkpoint/state_io.h"

#include <ATen/Context.h>
#include <fmt/format.h>

#include <mutex>
#include <sstream>

#include "common/error.h"
#include "models/archive.h"

namespace clinfm {
namespace {

std::string archive_bytes(torch::serialize::OutputArchive& archive) {
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

int64_t read_int(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toInt();
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += n + "\n";
  return out;
}

}  // namespace

void write_optimizer_range(const OptimizerRange& r, const std::function<size_t(const void*, size_t)>& out) {
  Archive archive;
  archive.write("format", c10::IValue(std::string("clinfm-optimizer-range")));
  archive.write("begin", c10::IValue(r.begin));
  archive.write("end", c10::IValue(r.end));
  archive.write("total", c10::IValue(r.total));
  archive.write("updates", c10::IValue(r.updates));
  archive.write("names", c10::IValue(join_names(r.names)));
  archive.write("numels", torch::tensor(r.numels, torch::kInt64));
  archive.write("exp_avg", r.exp_avg);
  archive.write("exp_avg_sq", r.exp_avg_sq);
  archive.save_to(out);
}

OptimizerRange read_optimizer_range_file(const std::string& path) {
  OptimizerRange r;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    c10::IValue text;
    archive.read("format", text);
    if (text.toStringRef() != "clinfm-optimizer-range") throw std::runtime_error("wrong format tag");
    r.begin = read_int(archive, "begin");
    r.end = read_int(archive, "end");
    r.total = read_int(archive, "total");
    r.updates = read_int(archive, "updates");
    archive.read("names", text);
    std::istringstream names(text.toStringRef());
    for (std::string line; std::getline(names, line);) r.names.push_back(line);
    torch::Tensor numels;
    archive.read("numels", numels);
    for (int64_t i = 0; i < numels.numel(); ++i) r.numels.push_back(numels[i].item<int64_t>());
    archive.read("exp_avg", r.exp_avg);
    archive.read("exp_avg_sq", r.exp_avg_sq);
  } catch (const std::exception& e) {
    throw InputError(fmt::format("{}: not a readable optimizer state file: {}", path,
                                 std::string(e.what()).substr(0, 300)));
  }
  if (r.exp_avg.numel() != r.end - r.begin || r.exp_avg_sq.numel() != r.end - r.begin)
    throw InputError(fmt::format("{}: optimizer state holds {} elements for the range [{}, {})", path,
                                 r.exp_avg.numel(), r.begin, r.end));
  return r;
}

OptimizerRange read_optimizer_range(const std::vector<std::string>& files, int64_t begin, int64_t end,
                                    const std::vector<std::string>& names, const std::vector<int64_t>& numels,
                                    const std::string& checkpoint) {
  OptimizerRange out;
  out.begin = begin;
  out.end = end;
  out.names = names;
  out.numels = numels;
  for (int64_t n : numels) out.total += n;
  out.exp_avg = torch::zeros({end - begin});
  out.exp_avg_sq = torch::zeros({end - begin});
  int64_t covered = 0;
  bool first = true;
  for (const auto& path : files) {
    const OptimizerRange r = read_optimizer_range_file(path);
    if (r.names != names || r.numels != numels) {
      throw InputError(fmt::format("{}: its optimizer state is for other parameters than this model's "
                                   "({} parameters of {} elements there, {} of {} here)",
                                   checkpoint, r.names.size(), r.total, names.size(), out.total),
                       "resume with the model config the checkpoint was written with");
    }
    if (first) out.updates = r.updates;
    if (r.updates != out.updates)
      throw InputError(fmt::format("{}: optimizer shards disagree on the step count", checkpoint));
    first = false;
    const int64_t lo = std::max(begin, r.begin), hi = std::min(end, r.end);
    if (lo >= hi) continue;
    out.exp_avg.narrow(0, lo - begin, hi - lo).copy_(r.exp_avg.narrow(0, lo - r.begin, hi - lo));
    out.exp_avg_sq.narrow(0, lo - begin, hi - lo).copy_(r.exp_avg_sq.narrow(0, lo - r.begin, hi - lo));
    covered += hi - lo;
  }
  if (covered != end - begin) {
    throw InputError(fmt::format("{}: the optimizer state files cover {} of the {} elements needed",
                                 checkpoint, covered, end - begin),
                     "a shard file of the checkpoint is missing");
  }
  return out;
}

namespace {

at::Generator default_generator(const torch::Device& device) {
  return at::globalContext().defaultGenerator(
      device.is_cuda() && !device.has_index() ? torch::Device(torch::kCUDA, 0) : device);
}

torch::Tensor copy_state(at::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void restore_state(at::Generator generator, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

}  // namespace

GeneratorStates generator_states(const torch::Device& device) {
  GeneratorStates states;
  states.cpu = copy_state(default_generator(torch::kCPU));
  if (device.is_cuda()) states.cuda = copy_state(default_generator(device));
  return states;
}

bool set_generator_states(const GeneratorStates& states, const torch::Device& device) {
  restore_state(default_generator(torch::kCPU), states.cpu);
  if (!device.is_cuda()) return true;  // a CUDA state from a GPU run has nothing to restore here
  if (!states.cuda.defined()) return false;
  restore_state(default_generator(device), states.cuda);
  return true;
}

void reseed_generator(const torch::Device& device, uint64_t seed) {
  at::Generator generator = default_generator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(seed);
}

std::string generator_states_bytes(const GeneratorStates& states) {
  torch::serialize::OutputArchive archive;
  archive.write("cpu", states.cpu);
  if (states.cuda.defined()) archive.write("cuda", states.cuda);
  return archive_bytes(archive);
}

GeneratorStates read_generator_states_file(const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    GeneratorStates states;
    archive.read("cpu", states.cpu);
    torch::Tensor cuda;
    if (archive.try_read("cuda", cuda)) states.cuda = cuda;
    return states;
  } catch (const std::exception& e) {
    throw InputError(fmt::format("{}: not a readable generator state file: {}", path,
                                 std::string(e.what()).substr(0, 300)));
  }
}

}  // namespace clinfm
