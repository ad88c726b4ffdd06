#include "models/cpu/cross_entropy.h"

#include <ATen/Parallel.h>

#include "models/cpu/row_kernels.h"
#include "models/cpu/tensor.h"

namespace clinfm {
namespace {

// Rows per task: a few hundred KB of logits, enough to amortise a task, small enough to split.
constexpr int64_t kRowGrain = 16;

struct FusedTokenNll : torch::autograd::Function<FusedTokenNll> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& logits_in,
                               const torch::Tensor& targets_in) {
    const auto logits = logits_in.contiguous();
    const auto targets = targets_in.contiguous();
    const int64_t N = logits.size(0), V = logits.size(1);
    auto lse = torch::empty({N}, logits.options());  // [N]
    const float* x = logits.data_ptr<float>();
    float* l = lse.data_ptr<float>();
    at::parallel_for(0, N, kRowGrain,
                     [&](int64_t begin, int64_t end) { logsumexp_rows(x, V, begin, end, l); });
    ctx->save_for_backward({logits, targets, lse});
    return lse - logits.gather(1, targets.view({N, 1})).view({N});
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &logits = saved[0], &targets = saved[1], &lse = saved[2];
    const int64_t N = logits.size(0), V = logits.size(1);
    const auto scale = grads[0].to(torch::kFloat32).contiguous();  // [N]
    auto grad = torch::empty_like(logits);                         // [N, V]
    const float *x = logits.data_ptr<float>(), *l = lse.data_ptr<float>(), *s = scale.data_ptr<float>();
    const int64_t* t = targets.data_ptr<int64_t>();
    float* g = grad.data_ptr<float>();
    at::parallel_for(0, N, kRowGrain, [&](int64_t begin, int64_t end) {
      softmax_minus_onehot_rows(x, l, t, s, V, begin, end, g);
    });
    return {grad, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor fused_token_nll(const torch::Tensor& logits, const torch::Tensor& targets) {
  TORCH_CHECK(logits.dim() == 2 && is_cpu_float32(logits),
              "fused token NLL takes [N, V] float32 CPU logits, got ", logits.sizes(), " ", logits.options());
  TORCH_CHECK(
      targets.dim() == 1 && targets.size(0) == logits.size(0) && targets.scalar_type() == torch::kInt64,
      "fused token NLL: targets must be [N] int64, got ", targets.sizes(), " ", targets.options());
  // Targets out of range are refused by the gather in forward, with the index and the size.
  return FusedTokenNll::apply(logits, targets);
}

}  // namespace clinfm
