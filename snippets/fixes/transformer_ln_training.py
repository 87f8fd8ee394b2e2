"""A small Transformer LM: Pre-LN, Post-LN, Post-LN + warmup, DeepNorm."""

from __future__ import annotations

import argparse
import inspect
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor, nn


# --8<-- [start:model]
class Block(nn.Module):
    """One Transformer layer: causal self-attention, then a ReLU FFN, each with
    a residual."""

    def __init__(
        self, d: int, heads: int, pre_ln: bool, alpha: float = 1.0
    ) -> None:
        super().__init__()
        self.pre_ln, self.alpha, self.heads = pre_ln, alpha, heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)

    def attention(self, x: Tensor) -> Tensor:
        b, t, d = x.shape
        q, k, v = (
            z.view(b, t, self.heads, d // self.heads).transpose(1, 2)
            for z in (self.q(x), self.k(x), self.v(x))
        )
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o(out.transpose(1, 2).reshape(b, t, d))

    def ffn(self, x: Tensor) -> Tensor:
        return self.fc2(torch.relu(self.fc1(x)))

    def forward(self, x: Tensor) -> Tensor:
        if self.pre_ln:  # Pre-LN: x + F(LN(x))
            x = x + self.attention(self.ln1(x))
            return x + self.ffn(self.ln2(x))
        x = self.ln1(
            self.alpha * x + self.attention(x)
        )  # Post-LN: LN(x + F(x)), alpha = 1
        return self.ln2(
            self.alpha * x + self.ffn(x)
        )  # DeepNorm: LN(alpha x + F(x))


class TinyLM(nn.Module):
    """Token + position embeddings, `layers` blocks, a final LayerNorm for
    Pre-LN, a linear head."""

    def __init__(
        self,
        vocab: int,
        d: int,
        layers: int,
        heads: int,
        max_len: int,
        norm: str,
        init: str = "xavier",
    ) -> None:
        super().__init__()
        assert norm in ("post", "pre", "deepnorm") and init in (
            "xavier",
            "default",
        )
        assert not (norm == "deepnorm" and init != "xavier"), (
            "DeepNorm scales the Xavier init"
        )
        # DeepNorm, decoder-only: alpha = (2L)^(1/4), beta = (8L)^(-1/4)  (Wang
        # et al., 2022)
        deep = norm == "deepnorm"
        alpha, beta = (
            ((2 * layers) ** 0.25, (8 * layers) ** -0.25)
            if deep
            else (1.0, 1.0)
        )
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(
            Block(d, heads, norm == "pre", alpha) for _ in range(layers)
        )
        self.final_ln = nn.LayerNorm(d) if norm == "pre" else nn.Identity()
        self.head = nn.Linear(d, vocab)
        if (
            init == "xavier"
        ):  # as in Xiong et al. (2020) and DeepNet; else PyTorch's default
            for name, module in self.named_modules():
                if isinstance(module, nn.Linear):
                    scaled = name.rsplit(".", 1)[-1] in ("v", "o", "fc1", "fc2")
                    nn.init.xavier_normal_(
                        module.weight, gain=beta if scaled else 1.0
                    )
                    nn.init.zeros_(module.bias)

    def forward(self, idx: Tensor) -> Tensor:
        x = self.tok(idx) + self.pos(
            torch.arange(idx.shape[1], device=idx.device)
        )
        for block in self.blocks:
            x = block(x)
        return self.head(self.final_ln(x))
# --8<-- [end:model]


# --8<-- [start:data]
def load_corpus() -> tuple[Tensor, list[str]]:
    """Characters of a standard-library module's source (ships with Python), as
    token ids."""
    text = inspect.getsource(argparse)
    vocab = sorted(set(text))
    index = {ch: i for i, ch in enumerate(vocab)}
    return torch.tensor([index[ch] for ch in text]), vocab


def unigram_entropy(ids: Tensor) -> float:
    """Loss (nats per character) of the best model that ignores context:
    character frequencies."""
    p = torch.bincount(ids).double() / len(ids)
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def get_batch(
    ids: Tensor, batch: int, seq: int, gen: torch.Generator
) -> tuple[Tensor, Tensor]:
    starts = torch.randint(len(ids) - seq - 1, (batch,), generator=gen).tolist()
    x = torch.stack([ids[s : s + seq] for s in starts])
    y = torch.stack([ids[s + 1 : s + seq + 1] for s in starts])
    return x, y
# --8<-- [end:data]


# --8<-- [start:train]
def warmup_factor(step: int, warmup: int) -> float:
    """Multiplier of the learning rate: linear from 1/warmup up to 1 over
    `warmup` steps."""
    return min(1.0, (step + 1) / warmup) if warmup else 1.0


def train(
    norm: str,
    warmup: int,
    seed: int,
    lr: float = 3e-3,
    steps: int = 300,
    layers: int = 6,
    d: int = 64,
    batch: int = 8,
    seq: int = 32,
) -> tuple[list[float], float]:
    """Adam at one learning rate, optionally with linear warmup over `warmup`
    steps.

    Returns the training loss at every step and the loss on held-out text at
    the end."""
    ids, vocab = load_corpus()
    split = int(0.9 * len(ids))
    train_ids, val_ids = ids[:split], ids[split:]
    torch.manual_seed(seed)
    model = TinyLM(len(vocab), d, layers, 4, seq, norm)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: warmup_factor(step, warmup)
    )
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        x, y = get_batch(train_ids, batch, seq, gen)
        loss = F.cross_entropy(model(x).reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    with torch.no_grad():
        x, y = get_batch(val_ids, 64, seq, torch.Generator().manual_seed(1234))
        val = F.cross_entropy(
            model(x).reshape(-1, len(vocab)), y.reshape(-1)
        ).item()
    return losses, val
# --8<-- [end:train]


def smooth(values: list[float], window: int = 20) -> list[float]:
    """Trailing moving average (shorter at the start)."""
    return [
        sum(values[max(0, i + 1 - window) : i + 1])
        / (i + 1 - max(0, i + 1 - window))
        for i in range(len(values))
    ]


RUNS = {  # label: (norm, warmup steps)
    "Pre-LN": ("pre", 0),
    "Post-LN": ("post", 0),
    "Post-LN, 100 warmup steps": ("post", 100),
    "DeepNorm (Post-LN stack)": ("deepnorm", 0),
}


def main() -> None:
    torch.manual_seed(0)
    ids, vocab = load_corpus()
    floor = unigram_entropy(ids)
    print(
        f"corpus: argparse source, {len(ids)} characters, {len(vocab)} distinct"
    )
    print(
        "unigram entropy (a model that learned only character frequencies): "
        f"{floor:.3f} nats"
    )
    print(
        "6 layers, d = 64, Adam lr 3e-3, 300 steps of 8 x 32 characters, seed 0"
    )
    columns = ["step 50", "step 100", "step 200", "step 300", "held-out"]
    print(f"  {'run':<27} " + " ".join(f"{c:>8}" for c in columns))
    _, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for (label, (norm, warmup)), style in zip(
        RUNS.items(), ["-", "-", "--", "-."], strict=True
    ):
        losses, held_out = train(norm, warmup, seed=0)
        curve = smooth(losses)
        print(
            f"  {label:<27} "
            + " ".join(f"{curve[s - 1]:>8.3f}" for s in (50, 100, 200, 300))
            + f" {held_out:>8.3f}"
        )
        ax.plot(range(1, len(curve) + 1), curve, linestyle=style, label=label)
    ax.axhline(floor, color="C4", linestyle=":", label="unigram entropy")
    ax.axvline(100, color="C5", linestyle=":", label="end of warmup")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (nats per character)")
    ax.set_title(
        "Char-level LM, 6 layers, lr 3e-3 without warmup unless stated"
    )
    ax.set_ylim(1.3, 4.6)
    ax.legend(fontsize=8)
    print(
        "(ln of the vocabulary size, the loss of a uniform guess: "
        f"{math.log(len(vocab)):.3f})"
    )
    plt.show()


if __name__ == "__main__":
    main()
