#!/usr/bin/python3
"""Independent PyTorch reference of clinfm's clinical transformer, its losses and its training step.

Written from the model's description (models/transformer.h, models/losses.h, trainer/optim.h), not
translated from the C++ code, and built on stock PyTorch pieces where they exist
(torch.optim.AdamW, torch.nn.utils.clip_grad_norm_, F.cross_entropy), so that the C++ test
(tests/models/test_reference.cpp) checks the C++ arithmetic against an independent computation.

    reference_model.py IN_DIR OUT_DIR

IN_DIR holds the C++ model's initial weights (initial.*), its weights after its own training run
(trained.*), a batch (batch.*) and config.json (dims, optimizer, loss weights). OUT_DIR receives,
for both weight sets, logits, log rates, losses and every parameter gradient after one backward
pass (names prefixed trained. for the second), and the losses, gradient norms, learning rates and
final parameters (final.*) of a short AdamW run from the initial weights.

Exchange format (both ways): one raw little-endian file per tensor and tensors.json, an index
{name: {"dtype": "float32" | "int64", "shape": [...], "file": "..."}}.

Everything is fp32 on the CPU with one thread.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"float32": np.dtype("<f4"), "int64": np.dtype("<i8")}

# Events at the same time would reward an infinite rate: waiting times are clamped below at one
# hour, in years (Julian year).
MIN_WAITING_YEARS = 1.0 / (24.0 * 365.25)
RMS_EPS = 1e-6


# ---------------------------------------------------------------------------------------------
# Exchange format
# ---------------------------------------------------------------------------------------------
def read_tensors(directory):
    with open(os.path.join(directory, "tensors.json")) as f:
        index = json.load(f)
    tensors = {}
    for name, entry in index.items():
        dtype = DTYPES[entry["dtype"]]
        shape = tuple(entry["shape"])
        data = np.fromfile(os.path.join(directory, entry["file"]), dtype=dtype)
        if data.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{name}: {data.size} values in the file, shape {shape}")
        tensors[name] = torch.from_numpy(data.reshape(shape).copy())
    return tensors


def write_tensors(directory, tensors):
    os.makedirs(directory, exist_ok=True)
    index = {}
    for i, (name, t) in enumerate(tensors.items()):
        t = t.detach().cpu().contiguous()
        if t.dtype == torch.float32:
            dtype = "float32"
        elif t.dtype == torch.int64:
            dtype = "int64"
        else:
            raise TypeError(f"{name}: unsupported dtype {t.dtype}")
        file = f"{i:04d}.bin"
        t.numpy().astype(DTYPES[dtype], copy=False).tofile(os.path.join(directory, file))
        index[name] = {"dtype": dtype, "shape": list(t.shape), "file": file}
    with open(os.path.join(directory, "tensors.json"), "w") as f:
        json.dump(index, f, indent=1)


# ---------------------------------------------------------------------------------------------
# Model. Module names give the parameter names (the C++ checkpoint keys).
# ---------------------------------------------------------------------------------------------
class RMSNorm(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(channels))

    def forward(self, x):
        x32 = x.float()
        rms = torch.sqrt(torch.mean(x32 * x32, dim=-1, keepdim=True) + RMS_EPS)
        return (self.weight * (x32 / rms)).to(x.dtype)


class Attention(torch.nn.Module):
    """Causal multi-head softmax attention; qkv rows are [q; k; v], each head-major."""

    def __init__(self, channels, heads):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(channels, 3 * channels, bias=False)
        self.proj = torch.nn.Linear(channels, channels, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        H = self.heads
        D = C // H
        q, k, v = self.qkv(x).split(C, dim=-1)
        q, k, v = (t.reshape(B, T, H, D).transpose(1, 2) for t in (q, k, v))  # [B, H, T, D]
        scores = torch.einsum("bhtd,bhsd->bhts", q, k) / math.sqrt(D)
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
        y = torch.einsum("bhts,bhsd->bhtd", scores.softmax(dim=-1), v)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class SwiGLU(torch.nn.Module):
    def __init__(self, channels, hidden):
        super().__init__()
        self.gate = torch.nn.Linear(channels, hidden, bias=False)
        self.up = torch.nn.Linear(channels, hidden, bias=False)
        self.down = torch.nn.Linear(hidden, channels, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(torch.nn.Module):
    def __init__(self, channels, heads, hidden):
        super().__init__()
        self.attn_norm = RMSNorm(channels)
        self.attn = Attention(channels, heads)
        self.mlp_norm = RMSNorm(channels)
        self.mlp = SwiGLU(channels, hidden)

    def forward(self, h):
        h = h + self.attn(self.attn_norm(h))
        return h + self.mlp(self.mlp_norm(h))


class ReferenceTransformer(torch.nn.Module):
    def __init__(self, vocab_size, value_bins, n_layers, n_heads, d_model, d_ff):
        super().__init__()
        C = d_model
        self.token_embedding = torch.nn.Embedding(vocab_size, C)
        self.value_embedding = torch.nn.Embedding(value_bins, C)
        self.age_proj = torch.nn.Linear(C, C, bias=False)
        self.blocks = torch.nn.ModuleList(Block(C, n_heads, d_ff) for _ in range(n_layers))
        self.final_norm = RMSNorm(C)
        self.time_head = torch.nn.Linear(C, 1)
        # f_i = 10000^(-2i/C), i = 0..C/2-1, per day (computed in float64, stored as fp32).
        i = np.arange(C // 2, dtype=np.float64)
        frequencies = (10000.0 ** (-2.0 * i / C)).astype(np.float32)
        self.register_buffer("age_frequencies", torch.from_numpy(frequencies))

    def age_features(self, ages):
        angles = ages.float()[..., None] * self.age_frequencies  # fp32, [B, T, C/2]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)

    def forward(self, tokens, value_bins, ages):
        h = self.token_embedding(tokens) + self.value_embedding(value_bins)
        h = h + self.age_proj(self.age_features(ages))
        for block in self.blocks:
            h = block(h)
        hidden = self.final_norm(h)
        logits = hidden @ self.token_embedding.weight.T  # tied output embedding
        log_rate = self.time_head(hidden)[..., 0]
        return logits, log_rate


def loss_terms(logits, log_rate, batch):
    """Sums over kept positions of the token NLL and the exponential waiting-time NLL, and the count."""
    mask = batch["batch.loss_mask"]
    V = logits.shape[-1]
    token_nll = F.cross_entropy(logits.reshape(-1, V), batch["batch.targets"].reshape(-1), reduction="none")
    dt = torch.clamp(batch["batch.target_dt"], min=MIN_WAITING_YEARS)
    time_nll = torch.exp(log_rate) * dt - log_rate
    return (token_nll * mask.reshape(-1)).sum(), (time_nll * mask).sum(), mask.sum()


def learning_rate(step, lr, min_lr, warmup, max_steps):
    """Update `step` (0-based): linear warmup to lr over `warmup` updates, then cosine to min_lr."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, max_steps - warmup)
    progress = min(1.0, max(0.0, progress))
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def main(in_dir, out_dir):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    with open(os.path.join(in_dir, "config.json")) as f:
        config = json.load(f)
    dims, optim = config["dims"], config["optim"]
    w_token, w_time = config["token_loss_weight"], config["time_loss_weight"]
    max_steps = config["max_steps"]

    tensors = read_tensors(in_dir)
    batch = {k: v for k, v in tensors.items() if k.startswith("batch.")}
    model = ReferenceTransformer(
        dims["vocab_size"],
        dims["value_bins"],
        dims["n_layers"],
        dims["n_heads"],
        dims["d_model"],
        dims["d_ff"],
    )
    model.train()  # dropout is 0: train and eval agree

    def total_loss():
        logits, log_rate = model(batch["batch.tokens"], batch["batch.value_bins"], batch["batch.ages"])
        token_sum, time_sum, count = loss_terms(logits, log_rate, batch)
        loss = w_token * token_sum / count + w_time * time_sum / count
        return loss, logits, log_rate, token_sum, time_sum, count

    def evaluate(prefix):
        """Forward, losses and one backward of the total loss with the weights now in the model."""
        model.zero_grad(set_to_none=True)
        loss, logits, log_rate, token_sum, time_sum, count = total_loss()
        loss.backward()
        values = {
            "logits": logits,
            "log_rate": log_rate,
            "token_nll_sum": token_sum,
            "time_nll_sum": time_sum,
            "targets": count,
            "loss": loss,
        }
        values.update({"grad." + name: p.grad.clone() for name, p in model.named_parameters()})
        return {prefix + name: value for name, value in values.items()}

    def load(prefix):
        weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        # Parameters only: the age frequencies are this script's own (returned for comparison).
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if missing != ["age_frequencies"] or unexpected:
            raise KeyError(f"{prefix}*: missing {missing}, unexpected {unexpected} for the reference model")

    out = {"age_frequencies": model.age_frequencies}
    # The C++ model's weights after its own training run: every parameter, the time head
    # included, is away from its initial value (the initial time head is zero).
    load("trained.")
    out.update(evaluate("trained."))
    # From the initial weights: one forward and backward, then the training run.
    load("initial.")
    out.update(evaluate(""))

    # A short AdamW run on the same batch, from the same initial weights.
    # Weight decay on matrices only: not on norms, biases or embeddings (the tied output included).
    def decays(name, p):
        return p.dim() >= 2 and "embedding" not in name and "norm" not in name

    decay = [p for n, p in model.named_parameters() if decays(n, p)]
    no_decay = [p for n, p in model.named_parameters() if not decays(n, p)]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": optim["weight_decay"]},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=optim["lr"],
        betas=(optim["beta1"], optim["beta2"]),
        eps=optim["eps"],
        foreach=False,
    )
    losses, norms, lrs = [], [], []
    for step in range(max_steps):
        optimizer.zero_grad(set_to_none=True)
        loss = total_loss()[0]
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), optim["grad_clip"])
        lr = learning_rate(step, optim["lr"], optim["min_lr"], optim["warmup_steps"], max_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.step()
        losses.append(loss.item())
        norms.append(norm.item())
        lrs.append(lr)
    out["train.loss"] = torch.tensor(losses, dtype=torch.float32)
    out["train.grad_norm"] = torch.tensor(norms, dtype=torch.float32)
    out["train.lr"] = torch.tensor(lrs, dtype=torch.float32)
    for name, p in model.named_parameters():
        out["final." + name] = p.detach().clone()
    write_tensors(out_dir, out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: reference_model.py IN_DIR OUT_DIR")
    main(sys.argv[1], sys.argv[2])
