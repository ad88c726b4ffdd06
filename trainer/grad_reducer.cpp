#include "trainer/grad_reducer.h"

#include <chrono>
#include <cstring>

#include "common/check.h"

namespace clinfm {

GradReducer::GradReducer(const std::vector<torch::Tensor>& params, Communicator& comm, double bucket_mb,
                         bool overlap)
    : params_(params), slot_(params.size()), arrived_(params.size(), false), comm_(comm), overlap_(overlap) {
  const int64_t bucket_elements = std::max<int64_t>(1, static_cast<int64_t>(bucket_mb * 1024 * 1024 / 4));
  Bucket current;
  int64_t filled = 0;
  for (size_t i = params_.size(); i-- > 0;) {
    CLINFM_CHECK(params_[i].scalar_type() == torch::kFloat32, "gradient buckets hold float32 parameters");
    const int64_t n = params_[i].numel();
    if (filled > 0 && filled + n > bucket_elements) {
      current.flat = torch::zeros({filled}, params_[i].options());  // the parameters' device
      buckets_.push_back(std::move(current));
      current = Bucket();
      filled = 0;
    }
    slot_[i] = {static_cast<int>(buckets_.size()), filled};
    current.members.push_back(i);
    current.offsets.push_back(filled);
    filled += n;
  }
  if (filled > 0) {
    current.flat = torch::zeros({filled}, params_.front().options());
    buckets_.push_back(std::move(current));
  }
  if (overlap_) {
    for (size_t i = 0; i < params_.size(); ++i) {
      params_[i].register_hook([this, i](torch::Tensor grad) {
        if (armed_) on_gradient(i, grad);
        return grad;
      });
    }
  }
}

GradReducer::~GradReducer() {
  for (auto& b : buckets_)
    if (b.work) b.work->wait();
}

void GradReducer::begin_micro_step(bool final_micro_step) {
  armed_ = final_micro_step && overlap_;
  if (final_micro_step) {
    std::fill(arrived_.begin(), arrived_.end(), false);
    for (auto& b : buckets_) b.ready = 0;
  }
}

void GradReducer::on_gradient(size_t i, const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  const auto [b, offset] = slot_[i];
  Bucket& bucket = buckets_[static_cast<size_t>(b)];
  auto view = bucket.flat.narrow(0, offset, params_[i].numel());
  const torch::Tensor& earlier = params_[i].grad();  // earlier micro-steps of this step
  if (earlier.defined()) {
    torch::add_out(view, earlier.reshape({-1}), grad.reshape({-1}));
  } else {
    view.copy_(grad.reshape({-1}));
  }
  if (!arrived_[i]) {
    arrived_[i] = true;
    if (++bucket.ready == static_cast<int>(bucket.members.size())) launch(bucket);
  }
}

void GradReducer::launch(Bucket& bucket) {
  bucket.work = comm_.all_reduce_async(bucket.flat, ReduceOp::kSum);
}

double GradReducer::finish() {
  torch::NoGradGuard no_grad;
  const auto started = std::chrono::steady_clock::now();
  for (auto& bucket : buckets_) {
    if (bucket.work) continue;
    // Overlap off, or parameters that got no gradient this step: fill from .grad (or zeros).
    for (size_t k = 0; k < bucket.members.size(); ++k) {
      const size_t i = bucket.members[k];
      if (arrived_[i] && overlap_) continue;
      auto view = bucket.flat.narrow(0, bucket.offsets[k], params_[i].numel());
      if (params_[i].grad().defined())
        view.copy_(params_[i].grad().reshape({-1}));
      else
        view.zero_();
    }
    launch(bucket);
  }
  for (auto& bucket : buckets_) {
    bucket.work->wait();
    bucket.work.reset();
  }
  const double waited =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  for (auto& bucket : buckets_) {
    for (size_t k = 0; k < bucket.members.size(); ++k) {
      torch::Tensor& p = params_[bucket.members[k]];
      const auto summed = bucket.flat.narrow(0, bucket.offsets[k], p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(summed);
      else
        p.mutable_grad() = summed.clone();
    }
  }
  armed_ = false;
  return waited;
}

void broadcast_parameters(const std::vector<torch::Tensor>& params, Communicator& comm) {
  torch::NoGradGuard no_grad;
  for (const auto& p : params) {
    torch::Tensor data = p.detach();
    comm.broadcast(data, 0);
  }
}

bool parameters_agree(const std::vector<torch::Tensor>& params, Communicator& comm,
                      std::vector<int64_t>* checksums) {
  torch::NoGradGuard no_grad;
  // FNV-1a over the raw bytes: any bitwise difference changes it (a float sum could cancel).
  uint64_t hash = 1469598103934665603ULL;
  for (const auto& p : params) {
    const auto bytes = p.detach().to(torch::kCPU).contiguous();  // hashed on the host
    const auto* data = static_cast<const uint8_t*>(bytes.data_ptr());
    for (int64_t k = 0; k < bytes.numel() * static_cast<int64_t>(bytes.element_size()); ++k) {
      hash = (hash ^ data[k]) * 1099511628211ULL;
    }
  }
  int64_t mine = 0;
  std::memcpy(&mine, &hash, sizeof(mine));
  auto local = torch::full({1}, mine, torch::kInt64);
  auto all = torch::zeros({comm.size()}, torch::kInt64);
  comm.all_gather(local, all);
  checksums->assign(all.data_ptr<int64_t>(), all.data_ptr<int64_t>() + comm.size());
  for (const int64_t c : *checksums)
    if (c != checksums->front()) return false;
  return true;
}

}  // namespace clinfm
