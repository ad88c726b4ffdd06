#!/usr/bin/env python3
"""Eager PyTorch training throughput of clinfm's clinical transformer, the Python peer of clinfm's
own training loop on a GPU: tokens/s and MFU for named presets at a given sequence length.

The model is tests/models/reference_model.py's ReferenceTransformer (imported, not copied: the
independent reference of models/transformer.{h,cpp}), with its attention switched to fused
scaled_dot_product_attention(is_causal=True) where this torch has it (clinfm's attention=sdpa);
RMSNorm statistics stay in fp32 under autocast, as in clinfm. Per step: forward under bf16 autocast
(CUDA), token NLL + exponential waiting-time NLL, backward, global-norm clipping at 1.0, AdamW
(fused where available; weight decay on matrices only, as clinfm). Fixed random batches (no data
loading). Timed with CUDA events after warm-up steps; the median step gives tokens/s.

MFU = clinfm's FLOP count per token (models/model_dims.cpp, training_flops_per_token: 6 x matmul
parameters + 12 L T C for attention) x tokens/s / peak, where peak is measured in the same run: the
median of timed bf16 N x N x N matmuls on random data (N=8192 on CUDA; fp32 on CPU).

Runs on CPU too (Debian's torch 1.13: no SDPA, no fused AdamW, fp32), for a smoke check:
    /usr/bin/python3 bench/gpu/train_eager.py --presets tiny --seq 64 --batch 2 --steps 2 --warmup 1
On the GPU machine (scripts/gpu/device_check.sh):
    python3 bench/gpu/train_eager.py --presets base,large --seq 1024 --json-out OUT.json
Prints a table, then one line `JSON: [...]`.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
import reference_model as ref  # noqa: E402  (ReferenceTransformer, Attention, loss_terms)

# layers, heads, d_model, d_ff: models/model_dims.cpp (model_presets)
PRESETS = {"tiny": (4, 4, 128, 384), "small": (8, 8, 512, 1408), "base": (12, 12, 768, 3072),
           "large": (24, 16, 1024, 2816)}
VALUE_BINS = 11
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


def sdpa_forward(self, x):
    """ref.Attention.forward with the fused kernel: same qkv layout ([q; k; v], head-major)."""
    B, T, C = x.shape
    H = self.heads
    q, k, v = self.qkv(x).view(B, T, 3, H, C // H).permute(2, 0, 3, 1, 4)  # [B, H, T, D] each
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return self.proj(y.transpose(1, 2).reshape(B, T, C))


def explicit_forward(self, x):
    """ref.Attention.forward with the causal mask made on x's device (the reference makes it on the CPU)."""
    B, T, C = x.shape
    H = self.heads
    q, k, v = self.qkv(x).view(B, T, 3, H, C // H).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
    future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
    y = scores.masked_fill(future, float("-inf")).softmax(dim=-1) @ v
    return self.proj(y.transpose(1, 2).reshape(B, T, C))


def flops_per_token(layers, c, f, vocab, seq):
    """models/model_dims.cpp: ModelDims::training_flops_per_token."""
    matmul_params = layers * (4 * c * c + 3 * c * f) + vocab * c + c * c
    return 6.0 * matmul_params + 12.0 * layers * seq * c


def init_like_clinfm(model, layers):
    """GPT-2 initialisation as ClinicalTransformerImpl::reset_parameters: N(0, 0.02), residual
    projections / sqrt(2L), norms 1, time head 0."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            elif name.startswith("time_head"):
                p.zero_()
            else:
                residual = name.endswith(("attn.proj.weight", "mlp.down.weight"))
                p.normal_(0.0, 0.02 / math.sqrt(2 * layers) if residual else 0.02)


class Timer:
    """CUDA events on a GPU, perf_counter (after a synchronize) elsewhere; milliseconds."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def __enter__(self):
        if self.cuda:
            self.start, self.end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            self.start.record()
        else:
            self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.cuda:
            self.end.record()
            self.end.synchronize()
            self.ms = self.start.elapsed_time(self.end)
        else:
            self.ms = 1e3 * (time.perf_counter() - self.t0)


def measure_peak(device, dtype, n, reps=10, warmup=3):
    """Median FLOP/s of n x n x n matmuls on random data, rotating among 3 input pairs."""
    g = torch.Generator(device="cpu").manual_seed(1)
    pairs = [(torch.randn(n, n, generator=g).to(device, dtype), torch.randn(n, n, generator=g).to(device, dtype))
             for _ in range(3)]
    out = torch.empty(n, n, device=device, dtype=dtype)
    for i in range(warmup):
        torch.matmul(*pairs[i % 3], out=out)
    times = []
    for i in range(reps):
        with Timer(device) as t:
            torch.matmul(*pairs[i % 3], out=out)
        times.append(t.ms / 1e3)
    assert torch.isfinite(out).all(), "matmul produced non-finite values"
    return 2.0 * n ** 3 / statistics.median(times)


def make_optimizer(model, device, fused_wanted):
    def decays(name, p):
        return p.dim() >= 2 and "embedding" not in name and "norm" not in name

    groups = [{"params": [p for n, p in model.named_parameters() if decays(n, p)], "weight_decay": 0.1},
              {"params": [p for n, p in model.named_parameters() if not decays(n, p)], "weight_decay": 0.0}]
    kwargs = dict(lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    if fused_wanted and device.type == "cuda":
        try:
            return torch.optim.AdamW(groups, fused=True, **kwargs), "fused"
        except (TypeError, RuntimeError):
            pass
    try:
        return torch.optim.AdamW(groups, foreach=True, **kwargs), "foreach"
    except TypeError:
        return torch.optim.AdamW(groups, **kwargs), "default"


def run_preset(name, a, device, use_bf16, peak):
    layers, heads, c, f = PRESETS[name]
    torch.manual_seed(0)
    model = ref.ReferenceTransformer(a.vocab, VALUE_BINS, layers, heads, c, f)
    init_like_clinfm(model, layers)
    attention = "sdpa" if (HAS_SDPA and a.attention != "explicit") else "explicit"
    for block in model.blocks:
        forward = sdpa_forward if attention == "sdpa" else explicit_forward
        block.attn.forward = forward.__get__(block.attn)
    model.to(device).train()
    opt, opt_kind = make_optimizer(model, device, a.fused)
    b, t = a.batch, a.seq
    gen = torch.Generator(device="cpu").manual_seed(0)
    batch = {
        "batch.targets": torch.randint(2, a.vocab, (b, t), generator=gen),
        "batch.target_dt": torch.rand(b, t, generator=gen),
        "batch.loss_mask": torch.ones(b, t),
    }
    tokens = torch.randint(2, a.vocab, (b, t), generator=gen).to(device)
    bins = torch.randint(0, VALUE_BINS, (b, t), generator=gen).to(device)
    ages = torch.sort(torch.rand(b, t, generator=gen) * 30000.0, 1).values.to(device)
    batch = {k: v.to(device) for k, v in batch.items()}
    params = [p for p in model.parameters()]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step():
        opt.zero_grad(set_to_none=True)
        if use_bf16:
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                logits, log_rate = model(tokens, bins, ages)
        else:
            logits, log_rate = model(tokens, bins, ages)
        token_sum, time_sum, count = ref.loss_terms(logits.float(), log_rate.float(), batch)
        loss = (token_sum + time_sum) / count
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss

    losses, times = [], []
    for s in range(a.warmup + a.steps):
        with Timer(device) as tm:
            loss = step()
        losses.append(loss.item())
        if s >= a.warmup:
            times.append(tm.ms / 1e3)
    if not all(math.isfinite(x) for x in losses):
        raise RuntimeError(f"{name}: non-finite loss {losses}")
    median = statistics.median(times)
    tps = b * t / median
    fpt = flops_per_token(layers, c, f, a.vocab, t)
    return {
        "impl": "pytorch-eager", "preset": name, "parameters": sum(p.numel() for p in model.parameters()),
        "batch": b, "seq": t, "vocab": a.vocab, "steps": a.steps, "warmup": a.warmup,
        "precision": "bf16-autocast" if use_bf16 else "fp32", "attention": attention, "optimizer": opt_kind,
        "step_ms_median": round(1e3 * median, 3), "step_ms_min": round(1e3 * min(times), 3),
        "tokens_per_s": round(tps, 1), "flops_per_token": fpt, "achieved_tflops": round(fpt * tps / 1e12, 2),
        "mfu": round(fpt * tps / peak, 4), "peak_tflops": round(peak / 1e12, 2),
        "first_loss": round(losses[0], 5), "final_loss": round(losses[-1], 5),
        "max_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2 ** 30, 2) if device.type == "cuda" else None,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--presets", default="base,large")
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--vocab", type=int, default=2000, help="as bench/train_throughput.cpp")
    p.add_argument("--device", default="auto", help="auto | cuda | cpu")
    p.add_argument("--precision", default="auto", help="auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp32")
    p.add_argument("--attention", default="auto", help="auto (sdpa where available) | explicit")
    p.add_argument("--no-fused", dest="fused", action="store_false", help="no fused AdamW")
    p.add_argument("--peak-n", type=int, default=0, help="matmul size for the peak (default 8192 CUDA, 1024 CPU)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--json-out", default="")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device("cuda" if (a.device == "auto" and torch.cuda.is_available()) else
                          ("cpu" if a.device == "auto" else a.device))
    use_bf16 = a.precision == "bf16" or (a.precision == "auto" and device.type == "cuda")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 runs only; bf16 matmuls are unaffected
        torch.backends.cudnn.allow_tf32 = True
    peak_dtype = torch.bfloat16 if use_bf16 else torch.float32
    peak_n = a.peak_n or (8192 if device.type == "cuda" else 1024)
    peak = measure_peak(device, peak_dtype, peak_n)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"torch {torch.__version__} on {where}; peak {str(peak_dtype).replace('torch.', '')} "
          f"matmul {peak_n}^3: {peak / 1e12:.1f} TFLOP/s (measured now); sdpa {HAS_SDPA}", flush=True)
    rows = [run_preset(name.strip(), a, device, use_bf16, peak) for name in a.presets.split(",") if name.strip()]
    head = f"| {'preset':6} | {'params':>7} | {'batch':>5} | {'seq':>5} | {'precision':13} | {'attn':8} | " \
           f"{'step ms':>8} | {'tokens/s':>10} | {'TFLOP/s':>7} | {'MFU':>6} | {'mem GiB':>7} | loss first->last |"
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for r in rows:
        mem = f"{r['max_memory_gib']:.1f}" if r["max_memory_gib"] is not None else "-"
        print(f"| {r['preset']:6} | {r['parameters'] / 1e6:6.1f}M | {r['batch']:5d} | {r['seq']:5d} | "
              f"{r['precision']:13} | {r['attention']:8} | {r['step_ms_median']:8.2f} | {r['tokens_per_s']:10.0f} | "
              f"{r['achieved_tflops']:7.1f} | {100 * r['mfu']:5.1f}% | {mem:>7} | "
              f"{r['first_loss']:.3f}->{r['final_loss']:.3f} |")
    out = {"torch": torch.__version__, "device": where, "peak_tflops": round(peak / 1e12, 2), "peak_n": peak_n,
           "peak_dtype": str(peak_dtype).replace("torch.", ""), "rows": rows}
    if a.json_out:
        with open(a.json_out, "w") as fh:
            json.dump(out, fh, indent=1)
    print("JSON: " + json.dumps(out))


if __name__ == "__main__":
    main()
