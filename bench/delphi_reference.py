"""Delphi-2M's model and training step, re-written from gerstung-lab/Delphi's model.py and train.py
(MIT; read, not copied) for a speed comparison with clinfm on the same CPU (bench/delphi_bench.sh).
What it keeps of Delphi: GPT-2 blocks (pre-LayerNorm without biases, GELU MLP of 4x width,
attention through an explicit mask: causal, no padding keys, no keys of the same age as the target
(mask_ties), flash off), no positional embedding, sinusoidal age encoding in years through a
bias-free linear map, tied input/output embedding, the loss (cross-entropy plus the exponential
waiting-time likelihood of the summed rates with t_min), AdamW with Delphi's decay groups, gradient
clipping at 1. Random batches shaped like Delphi's: the step's cost does not depend on the values.
Prints one line of JSON like bench/train_reference.py.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, heads, dropout):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c, bias=False)
        self.c_attn = nn.Linear(c, 3 * c, bias=False)
        self.c_proj = nn.Linear(c, c, bias=False)
        self.ln_2 = nn.LayerNorm(c, bias=False)
        self.c_fc = nn.Linear(c, 4 * c, bias=False)
        self.mlp_proj = nn.Linear(4 * c, c, bias=False)
        self.heads, self.drop = heads, nn.Dropout(dropout)

    def attention(self, x, mask):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = self.drop(F.softmax(att.masked_fill(mask == 0, float("-inf")), dim=-1))
        return self.drop(self.c_proj((att @ v).transpose(1, 2).contiguous().view(b, t, c)))

    def forward(self, x, mask):
        x = x + self.attention(self.ln_1(x), mask)
        return x + self.drop(self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")))


class Delphi(nn.Module):
    def __init__(self, vocab, layers, heads, c, dropout):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.age_linear = nn.Linear(c, c, bias=False)
        self.register_buffer("div_term", torch.exp(torch.arange(0, c, 2) * (-math.log(10000.0) / c)))
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(c, heads, dropout) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c, bias=False)
        self.lm_head = nn.Linear(c, vocab, bias=False)
        self.wte.weight = self.lm_head.weight
        self.c = c

    def age_encoding(self, age):
        y = torch.zeros(*age.shape, self.c)
        y[..., 0::2] = torch.sin(age.unsqueeze(-1) / 365.25 * self.div_term)
        y[..., 1::2] = torch.cos(age.unsqueeze(-1) / 365.25 * self.div_term)
        return self.age_linear(y)

    def forward(self, idx, age, targets_age):
        b, t = idx.shape
        mask = (idx > 0).view(b, 1, 1, t) * (idx > 0).view(b, 1, t, 1)
        mask = mask * (torch.tril(torch.ones(t, t)) > 0)[None, None]
        mask = mask * (age.view(b, 1, 1, t) != targets_age.view(b, 1, t, 1))
        mask = (mask + (mask.sum(-1, keepdim=True) == 0) * torch.eye(t, dtype=torch.bool)) > 0
        x = self.drop(self.wte(idx) + self.age_encoding(age))
        for block in self.blocks:
            x = block(x, mask)
        return self.lm_head(self.ln_f(x))


def main():
    p = argparse.ArgumentParser()
    for name, default in [("batch", 128), ("seq", 48), ("steps", 20), ("warmup", 3), ("threads", 1),
                          ("vocab", 1270), ("layers", 12), ("heads", 12), ("d_model", 120), ("dropout", 0.1)]:
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=type(default), default=default)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Delphi(a.vocab, a.layers, a.heads, a.d_model, a.dropout)
    decay = [m.weight for m in model.modules() if isinstance(m, nn.Linear) and m is not model.lm_head]
    ids = {id(w) for w in decay}
    other = [w for w in model.parameters() if id(w) not in ids]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.2}, {"params": other, "weight_decay": 0.0}],
                            lr=2e-3, betas=(0.9, 0.99))
    b, t, t_min = a.batch, a.seq, 0.1
    ages = torch.sort(torch.randint(0, 29200, (b, t + 1)).float(), 1).values
    tokens = torch.randint(13, a.vocab, (b, t + 1))
    x, age, y, target_age = tokens[:, :-1], ages[:, :-1], tokens[:, 1:], ages[:, 1:]
    step_seconds = []
    for step in range(a.warmup + a.steps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model(x, age, target_age)
        loss_ce = F.cross_entropy(logits.reshape(-1, a.vocab), y.reshape(-1))
        lse = torch.logsumexp(logits, -1)
        lse = -torch.log(torch.exp(-lse) + t_min)
        ldt = -torch.log(torch.clamp(target_age - age, min=1.0) + t_min)
        loss_dt = -(lse - torch.exp(lse - ldt)).mean()
        loss = loss_ce + loss_dt
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        value = loss.item()
        if step >= a.warmup:
            step_seconds.append(time.perf_counter() - start)
    timed = sum(step_seconds)
    print(json.dumps({"impl": "delphi (re-written)", "torch": torch.__version__,
                      "parameters": sum(p.numel() for p in model.parameters()), "batch": b, "seq": t,
                      "threads": a.threads, "steps": a.steps, "tokens_per_s": round(b * t * a.steps / timed, 1),
                      "tokens_per_s_median": round(b * t / sorted(step_seconds)[len(step_seconds) // 2], 1),
                      "final_loss": round(value, 5)}))


if __name__ == "__main__":
    main()
