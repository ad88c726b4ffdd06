// Which implementation of each model operation runs: clinfm's CPU kernel on float32 CPU tensors,
// LibTorch's op (or composite of ops) otherwise. The LibTorch forms here are the reference the
// kernels are tested against; their op order is the model's numerics on CUDA, so keep it.
// Does not own parameters or state (the attention mask cache belongs to the caller).
#include "models/cpu/dispatch.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "models/cpu/attention.h"
#include "models/cpu/cross_entropy.h"
#include "models/cpu/fused_ops.h"
#include "models/cpu/tensor.h"

namespace clinfm {
namespace {

// softmax(scale Q K^T + causal mask) V by LibTorch's matmuls, with dropout on the weights.
// query, key, value: [B, H, T, D]. Returns [B, H, T, D].
torch::Tensor explicit_attention(const torch::Tensor& query, const torch::Tensor& key,
                                 const torch::Tensor& value, double dropout_p, torch::Tensor& causal_mask) {
  const int64_t steps = query.size(2), head_dim = query.size(3);
  auto scores =
      torch::matmul(query, key.transpose(-2, -1)) * (1.0 / std::sqrt(double(head_dim)));  // [B, H, T, T]
  if (!causal_mask.defined() || causal_mask.size(0) != steps || causal_mask.device() != query.device()) {
    causal_mask =
        torch::ones({steps, steps}, torch::TensorOptions().dtype(torch::kBool).device(query.device()))
            .tril()
            .logical_not();
  }
  // In place: `scores` is a fresh product that no backward formula needs.
  scores.masked_fill_(causal_mask, -std::numeric_limits<float>::infinity());
  auto weights = torch::softmax(scores, -1);  // [B, H, T, T]
  if (dropout_p > 0) weights = torch::dropout(weights, dropout_p, /*train=*/true);
  return torch::matmul(weights, value);
}

torch::Tensor sdpa_attention(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                             double dropout_p) {
  return at::scaled_dot_product_attention(query, key, value, {}, dropout_p, /*is_causal=*/true);
}

}  // namespace

namespace {

// CLINFM_CPU_KERNELS_OFF=rms_norm,token_nll (either or both): those take LibTorch's op,
// to measure each kernel against it in the same binary (bench/cpu_kernels_bench.sh). Read once.
bool kernel_on(const char* name) {
  static const std::string off = [] {
    const char* value = std::getenv("CLINFM_CPU_KERNELS_OFF");
    return "," + std::string(value ? value : "") + ",";
  }();
  return off.find("," + std::string(name) + ",") == std::string::npos;
}

}  // namespace

AttentionKernel attention_kernel_named(const std::string& name) {
  if (name == "sdpa") return AttentionKernel::kSdpa;
  if (name == "fused") return AttentionKernel::kFused;
  if (name == "auto") return AttentionKernel::kAuto;
  return AttentionKernel::kExplicit;
}

// LibTorch's ops alone: clinfm's own threaded linear and fused SwiGLU kernels no longer paid on
// LibTorch 2.11 (0.98-1.00x and 0.98-1.02x of the whole step, bench/cpu_kernels_bench.sh) and
// were removed.
torch::Tensor linear_no_bias(const torch::Tensor& x, const torch::Tensor& weight) {
  return torch::nn::functional::linear(x, weight);  // exactly torch::nn::Linear's forward
}

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  if (kernel_on("rms_norm") && is_cpu_float32(x) && is_cpu_float32(weight))
    return fused_rms_norm(x, weight, eps);
  const auto x32 = x.to(torch::kFloat32);
  const auto normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (normed * weight).to(x.scalar_type());
}

torch::Tensor causal_attention(const torch::Tensor& qkv, int64_t n_heads, double dropout_p,
                               AttentionKernel kernel, torch::Tensor& causal_mask) {
  if (kernel == AttentionKernel::kAuto)
    kernel =
        is_cpu_float32(qkv) && fused_attention_available() ? AttentionKernel::kFused : AttentionKernel::kSdpa;
  // The fused kernel takes fp32 CPU tensors; anything else (CUDA, bf16) takes the explicit math.
  if (kernel == AttentionKernel::kFused && is_cpu_float32(qkv))
    return fused_causal_attention(qkv, n_heads, dropout_p);
  const int64_t batch = qkv.size(0), steps = qkv.size(1), channels = qkv.size(2) / 3;
  const auto split =
      qkv.view({batch, steps, 3, n_heads, channels / n_heads}).permute({2, 0, 3, 1, 4});  // [3, B, H, T, D]
  const auto query = split[0], key = split[1], value = split[2];                          // [B, H, T, D]
  const auto heads = kernel == AttentionKernel::kSdpa
                         ? sdpa_attention(query, key, value, dropout_p)
                         : explicit_attention(query, key, value, dropout_p, causal_mask);  // [B, H, T, D]
  return heads.transpose(1, 2).reshape({batch, steps, channels});
}

torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up) { return torch::silu(gate) * up; }

torch::Tensor tied_logits(const torch::Tensor& hidden, const torch::Tensor& embedding) {
  return torch::matmul(hidden, embedding.t());
}

torch::Tensor token_nll(const torch::Tensor& logits, const torch::Tensor& targets) {
  if (kernel_on("token_nll") && is_cpu_float32(logits)) return fused_token_nll(logits, targets);
  return -torch::log_softmax(logits, -1).gather(1, targets.view({-1, 1})).view({-1});
}

}  // namespace clinfm
