#include "models/cpu/linear.h"

#include <ATen/Parallel.h>

#include "models/cpu/blas.h"
#include "models/cpu/tensor.h"

namespace clinfm {
namespace {

// Rows per share: below this a thread's product is too small to be worth a task.
constexpr int64_t kRowGrain = 128;
constexpr int64_t kOutputRowGrain = 32;

struct CpuLinear : torch::autograd::Function<CpuLinear> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& weight_in) {
    const auto x = x_in.contiguous(), weight = weight_in.contiguous();
    const int64_t in = weight.size(1), out = weight.size(0), N = x.numel() / in;
    auto sizes = x.sizes().vec();
    sizes.back() = out;
    auto y = torch::empty(sizes, x.options());  // [.., out]
    const float *xp = x.data_ptr<float>(), *wp = weight.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    at::parallel_for(0, N, kRowGrain, [&](int64_t begin, int64_t end) {
      gemm_row_major(false, true, end - begin, out, in, 1.0f, xp + begin * in, in, wp, in, 0.0f,
                     yp + begin * out, out);
    });
    ctx->save_for_backward({x, weight});
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1];
    const auto dy = grads[0].contiguous();  // [.., out]
    const int64_t in = weight.size(1), out = weight.size(0), N = x.numel() / in;
    const float *xp = x.data_ptr<float>(), *wp = weight.data_ptr<float>(), *gp = dy.data_ptr<float>();
    torch::Tensor dx, dweight;
    if (ctx->needs_input_grad(0)) {
      dx = torch::empty_like(x);  // [.., in] = dY W
      float* dxp = dx.data_ptr<float>();
      at::parallel_for(0, N, kRowGrain, [&](int64_t begin, int64_t end) {
        gemm_row_major(false, false, end - begin, in, out, 1.0f, gp + begin * out, out, wp, in, 0.0f,
                       dxp + begin * in, in);
      });
    }
    if (ctx->needs_input_grad(1)) {
      dweight = torch::empty_like(weight);  // [out, in] = dY^T X, split by output rows
      float* dwp = dweight.data_ptr<float>();
      at::parallel_for(0, out, kOutputRowGrain, [&](int64_t begin, int64_t end) {
        gemm_row_major(true, false, end - begin, in, N, 1.0f, gp + begin, out, xp, in, 0.0f, dwp + begin * in,
                       in);
      });
    }
    return {dx, dweight};
  }
};

}  // namespace

bool cpu_linear_available() { return cpu_sgemm_available(); }

torch::Tensor cpu_linear(const torch::Tensor& x, const torch::Tensor& weight) {
  TORCH_CHECK(cpu_sgemm_available(), "cpu_linear: no BLAS sgemm in this process");
  TORCH_CHECK(is_cpu_float32(x) && is_cpu_float32(weight), "cpu_linear takes float32 CPU tensors, got ",
              x.options(), " and ", weight.options());
  TORCH_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), "cpu_linear: x ", x.sizes(),
              " does not fit weight ", weight.sizes());
  return CpuLinear::apply(x, weight);
}

}  // namespace clinfm
