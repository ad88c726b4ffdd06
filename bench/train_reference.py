#!/usr/bin/env python3
"""The Python PyTorch peer of bench/train_throughput.cpp: the same clinical transformer
(token + value-bin embeddings, sinusoidal age features, pre-norm RMSNorm blocks with causal
attention and SwiGLU, tied output, time head), the same losses, AdamW and clipping, on the
same kind of fixed random batch, timed the same way (eager mode, warm-up steps excluded).
Prints one line of JSON. Run with Debian's /usr/bin/python3 (python3-torch).
usage: train_reference.py --preset tiny --batch 16 --seq 128 --steps 20 --warmup 3 --threads 2 --vocab 2000
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

PRESETS = {"tiny": (4, 4, 128, 384), "small": (8, 8, 512, 1408), "base": (12, 12, 768, 3072),
           "large": (24, 16, 1024, 2816)}  # layers, heads, d_model, d_ff (models/model_dims.cpp)


class RMSNorm(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(c))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


class Block(torch.nn.Module):
    def __init__(self, c, h, f):
        super().__init__()
        self.h = h
        self.attn_norm, self.mlp_norm = RMSNorm(c), RMSNorm(c)
        self.qkv = torch.nn.Linear(c, 3 * c, bias=False)
        self.proj = torch.nn.Linear(c, c, bias=False)
        self.gate = torch.nn.Linear(c, f, bias=False)
        self.up = torch.nn.Linear(c, f, bias=False)
        self.down = torch.nn.Linear(f, c, bias=False)

    def forward(self, x, causal):
        b, t, c = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, self.h, c // self.h).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.h)
        y = torch.softmax(scores.masked_fill(~causal, float("-inf")), -1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self, vocab, bins, layers, heads, c, f):
        super().__init__()
        self.token_embedding = torch.nn.Embedding(vocab, c)
        self.value_embedding = torch.nn.Embedding(bins, c)
        self.age_proj = torch.nn.Linear(c, c, bias=False)
        self.blocks = torch.nn.ModuleList(Block(c, heads, f) for _ in range(layers))
        self.final_norm = RMSNorm(c)
        self.time_head = torch.nn.Linear(c, 1)
        self.register_buffer("freq", torch.pow(10000.0, -torch.arange(0, c, 2, dtype=torch.float64) / c).float())
        # clinfm's initialisation: N(0, 0.02), residual projections / sqrt(2L), norms 1, time head 0.
        for name, p in self.named_parameters():
            if "norm" in name:
                torch.nn.init.ones_(p)
            elif name.startswith("time_head"):
                torch.nn.init.zeros_(p)
            else:
                residual = name.startswith("blocks") and name.endswith(("proj.weight", "down.weight"))
                std = 0.02 / math.sqrt(2 * layers) if residual else 0.02
                torch.nn.init.normal_(p, 0.0, std)

    def forward(self, tokens, bins, ages):
        t = tokens.shape[1]
        angles = ages.unsqueeze(-1) * self.freq
        x = self.token_embedding(tokens) + self.value_embedding(bins) + self.age_proj(
            torch.cat([torch.sin(angles), torch.cos(angles)], -1))
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        for block in self.blocks:
            x = block(x, causal)
        h = self.final_norm(x)
        return h @ self.token_embedding.weight.t(), self.time_head(h).squeeze(-1)


def main():
    p = argparse.ArgumentParser()
    for name, default in [("preset", "tiny"), ("batch", 16), ("seq", 128), ("steps", 20), ("warmup", 3),
                          ("threads", 2), ("vocab", 2000)]:
        p.add_argument("--" + name, type=type(default), default=default)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    layers, heads, c, f = PRESETS[a.preset]
    model = Model(a.vocab, 11, layers, heads, c, f)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embedding" not in n and "norm" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embedding" not in n and "norm" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    b, t = a.batch, a.seq
    tokens = torch.randint(2, a.vocab, (b, t))
    bins = torch.randint(0, 11, (b, t))
    ages = torch.sort(torch.rand(b, t) * 30000.0, 1).values
    targets = torch.randint(2, a.vocab, (b, t))
    dt = torch.rand(b, t).clamp_min(1.0 / (24 * 365.25))
    mask = torch.ones(b, t)
    timed = 0.0
    step_seconds = []
    for step in range(a.warmup + a.steps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits, log_rate = model(tokens, bins, ages)
        nll = F.cross_entropy(logits.reshape(-1, a.vocab), targets.reshape(-1), reduction="none").view(b, t)
        time_nll = torch.exp(log_rate) * dt - log_rate
        loss = ((nll + time_nll) * mask).sum() / mask.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        value = loss.item()
        if step >= a.warmup:
            step_seconds.append(time.perf_counter() - start)
            timed += step_seconds[-1]
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "preset": a.preset,
                      "parameters": sum(p.numel() for p in model.parameters()), "batch": b, "seq": t,
                      "threads": a.threads, "steps": a.steps, "tokens_per_s": round(b * t * a.steps / timed, 1),
                      "tokens_per_s_median": round(b * t / sorted(step_seconds)[len(step_seconds) // 2], 1),
                      "final_loss": round(value, 5)}))


if __name__ == "__main__":
    main()
