#include "models/cpu/fused_ops.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "models/cpu/row_kernels.h"
#include "models/cpu/tensor.h"

namespace clinfm {
namespace {

// Rows per task for the norm, and its weight-gradient blocks (fixed, so the sum order is too).
constexpr int64_t kNormRows = 64;

struct FusedRmsNorm : torch::autograd::Function<FusedRmsNorm> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& weight_in, double eps) {
    const auto x = x_in.contiguous(), weight = weight_in.contiguous();
    const int64_t C = x.size(-1), N = x.numel() / C;
    auto y = torch::empty_like(x);
    auto inv_rms = torch::empty({N}, x.options());  // [N]
    const float *xp = x.data_ptr<float>(), *wp = weight.data_ptr<float>();
    float *yp = y.data_ptr<float>(), *rp = inv_rms.data_ptr<float>();
    at::parallel_for(0, N, kNormRows, [&](int64_t begin, int64_t end) {
      rms_norm_rows(xp, wp, float(eps), C, begin, end, yp, rp);
    });
    ctx->save_for_backward({x, weight, inv_rms});
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &inv_rms = saved[2];
    const auto dy = grads[0].contiguous();
    const int64_t C = x.size(-1), N = x.numel() / C;
    const int64_t blocks = (N + kNormRows - 1) / kNormRows;
    auto dx = torch::empty_like(x);
    std::vector<float> partial(size_t(blocks * C), 0.0f);  // [blocks, C] weight-gradient partial sums
    const float *xp = x.data_ptr<float>(), *wp = weight.data_ptr<float>(), *rp = inv_rms.data_ptr<float>(),
                *gp = dy.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b)
        rms_norm_backward_rows(xp, wp, rp, gp, C, b * kNormRows, std::min(N, (b + 1) * kNormRows), dxp,
                               partial.data() + b * C);
    });
    auto dweight = torch::zeros({C}, weight.options());
    float* dwp = dweight.data_ptr<float>();
    for (int64_t b = 0; b < blocks; ++b)
      for (int64_t j = 0; j < C; ++j) dwp[j] += partial[size_t(b * C + j)];
    return {dx, dweight, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  TORCH_CHECK(is_cpu_float32(x) && is_cpu_float32(weight), "fused RMSNorm takes float32 CPU tensors, got ",
              x.options(), " and ", weight.options());
  TORCH_CHECK(x.dim() >= 1 && weight.dim() == 1 && weight.size(0) == x.size(-1),
              "fused RMSNorm: weight must be [C] for x [.., C], got ", weight.sizes(), " and ", x.sizes());
  return FusedRmsNorm::apply(x, weight, eps);
}

}  // namespace clinfm
