"""Attention-logit growth in a tiny Transformer LM; its gradient signature."""

from __future__ import annotations

import inspect
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor

SEEDS = (0, 1, 2)
COLLAPSED = 100.0  # attention logits this large make every softmax one-hot
Recorder = Callable[[int, list[Tensor], torch.optim.Optimizer], None]


# --8<-- [start:model]
@dataclass(frozen=True)
class Config:
    """The model, the optimizer and the mitigations of one run."""

    lr: float = 0.1
    steps: int = 80
    warmup: int = 10
    d: int = 32
    heads: int = 2
    layers: int = 1
    seq: int = 32
    batch: int = 8
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    qk_norm: bool = False
    z_loss: float = 0.0
    clip: float = math.inf


def load_corpus() -> Tensor:
    """Characters of a standard-library module's source, as token ids."""
    text = inspect.getsource(textwrap)
    index = {ch: i for i, ch in enumerate(sorted(set(text)))}
    return torch.tensor([index[ch] for ch in text])


def init_params(
    cfg: Config, vocab: int, seeds: tuple[int, ...]
) -> list[Tensor]:
    """One model per seed, stacked along dim 0: member s is the model that
    torch.manual_seed(seeds[s]) would build alone."""
    d = cfg.d
    shapes = [(vocab, d), (cfg.seq, d)]
    shapes += [(d, 3 * d), (d, d), (d, 4 * d), (4 * d, d)] * cfg.layers
    shapes += [(d, vocab)]
    members = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(seed)
        # embeddings N(0, 1), weights N(0, 1 / fan_in)
        scales = [1.0, 1.0] + [1 / math.sqrt(s[0]) for s in shapes[2:]]
        pairs = zip(shapes, scales, strict=True)
        members.append([torch.randn(s, generator=gen) * c for s, c in pairs])
    return [
        torch.stack(ws).requires_grad_() for ws in zip(*members, strict=True)
    ]


def forward(
    params: list[Tensor], x: Tensor, cfg: Config
) -> tuple[Tensor, Tensor]:
    """Pre-LN Transformer on x of shape (S, B, T), one model per member s.

    Returns the output logits (S, B, T, V), each member's largest attention
    logit |q.k|/sqrt(d_head) and its smallest mean attention entropy over
    the layers, both of shape (S,)."""
    s, b, t = x.shape
    tok, pos, *blocks, head = params
    h = tok[torch.arange(s)[:, None, None], x] + pos[:, None, :t]
    h = h.flatten(1, 2)  # (S, B*T, d): every matmul is one bmm per member
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    max_logit, entropy = torch.zeros(s), torch.full((s,), math.inf)
    hd = cfg.d // cfg.heads
    for w_qkv, w_o, w_1, w_2 in zip(*[iter(blocks)] * 4, strict=True):
        qkv = F.layer_norm(h, (cfg.d,)).bmm(w_qkv)
        q, k, v = qkv.view(s * b, t, 3, cfg.heads, hd).permute(2, 0, 3, 1, 4)
        if cfg.qk_norm:  # QK-LayerNorm: normalise queries and keys per head
            q, k = F.layer_norm(q, (hd,)), F.layer_norm(k, (hd,))
        logits = (q @ k.transpose(-1, -2) / math.sqrt(hd)).masked_fill(
            ~causal, -math.inf
        )
        seen = logits.detach().masked_fill(~causal, 0).abs().view(s, -1)
        max_logit = torch.maximum(max_logit, seen.amax(1))
        p = logits.softmax(-1)
        ent = -(p * p.clamp_min(1e-30).log()).sum(-1).detach().view(s, -1)
        entropy = torch.minimum(entropy, ent.mean(1))
        att = (p @ v).transpose(1, 2).reshape(s, b * t, cfg.d)
        h = h + att.bmm(w_o)
        h = h + F.gelu(F.layer_norm(h, (cfg.d,)).bmm(w_1)).bmm(w_2)
    out = F.layer_norm(h, (cfg.d,)).bmm(head)
    return out.view(s, b, t, -1), max_logit, entropy
# --8<-- [end:model]


# --8<-- [start:train]
def get_batch(
    ids: Tensor, cfg: Config, gens: list[torch.Generator]
) -> tuple[Tensor, Tensor]:
    """Random windows, each member drawing from its own generator."""
    starts = torch.stack(
        [torch.randint(len(ids) - cfg.seq - 1, (cfg.batch,), generator=g)
         for g in gens]
    )
    window = starts[..., None] + torch.arange(cfg.seq + 1)
    chunk = ids[window]
    return chunk[..., :-1], chunk[..., 1:]


def train_step(
    params: list[Tensor],
    opt: torch.optim.Optimizer,
    batch: tuple[Tensor, Tensor],
    cfg: Config,
    step: int,
) -> dict[str, Tensor]:
    """One AdamW step (linear warmup, then constant) on every member.

    Returns per member: the cross-entropy, the largest attention logit, the
    attention entropy, the mean |log Z| of the output softmax and the
    gradient norm before clipping."""
    x, y = batch
    opt.param_groups[0]["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup)
    out, max_logit, entropy = forward(params, x, cfg)
    log_z = out.logsumexp(-1)
    ce = F.cross_entropy(out.flatten(0, 2), y.flatten(), reduction="none")
    ce = ce.view(y.shape).mean(dim=(1, 2))
    z_loss = cfg.z_loss * log_z.pow(2).mean(dim=(1, 2))
    opt.zero_grad()
    (ce + z_loss).sum().backward()  # members share no weights: sum = each
    norm = clip_per_member(params, cfg.clip)
    opt.step()
    return {
        "loss": ce.detach(),
        "max_logit": max_logit,
        "entropy": entropy,
        "log_z": log_z.detach().abs().mean(dim=(1, 2)),
        "grad_norm": norm,
    }


def clip_per_member(params: list[Tensor], max_norm: float) -> Tensor:
    """clip_grad_norm_ for each member's own gradient; returns the norms."""
    norm = sum(p.grad.flatten(1).pow(2).sum(1) for p in params).sqrt()
    scale = (max_norm / (norm + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(scale.view(-1, *[1] * (p.dim() - 1)))
    return norm


def start(
    cfg: Config, seeds: tuple[int, ...]
) -> tuple[Tensor, list[Tensor], torch.optim.Optimizer, list[torch.Generator]]:
    """The corpus, the stacked models, AdamW and one data stream per seed."""
    ids = load_corpus()
    params = init_params(cfg, int(ids.max()) + 1, seeds)
    opt = torch.optim.AdamW(
        params, lr=cfg.lr, betas=(0.9, cfg.beta2), eps=cfg.eps,
        weight_decay=cfg.weight_decay,
    )
    gens = [torch.Generator().manual_seed(1000 + s) for s in seeds]
    return ids, params, opt, gens


def train(
    cfg: Config, seeds: tuple[int, ...] = SEEDS, record: Recorder | None = None
) -> dict[str, Tensor]:
    """All seeds at once; returns every train_step value, shape (steps, S).
    `record(step, params, opt)`, if given, runs after each step."""
    ids, params, opt, gens = start(cfg, seeds)
    history = []
    for step in range(cfg.steps):
        history.append(
            train_step(params, opt, get_batch(ids, cfg, gens), cfg, step)
        )
        if record is not None:
            record(step, params, opt)
    return {k: torch.stack([h[k] for h in history]) for k in history[0]}
# --8<-- [end:train]


def summary(history: dict[str, Tensor], tail: int = 20) -> dict[str, Tensor]:
    """Per member: the mean loss and attention entropy over the last `tail`
    steps, the largest attention logit of the run, whether attention
    collapsed and the first step (counted from 1) at which it did, 0 if
    never."""
    over = history["max_logit"] > COLLAPSED
    first = torch.where(over.any(0), over.int().argmax(0) + 1, 0)
    return {
        "final_loss": history["loss"][-tail:].mean(0),
        "entropy": history["entropy"][-tail:].mean(0),
        "max_logit": history["max_logit"].amax(0),
        "collapsed": over.any(0),
        "first_collapse": first,
    }


# --8<-- [start:record]
def qk_weights(params: list[Tensor], d: int) -> Tensor:
    """W_q and W_k of the first layer (member 0), side by side: (d, 2d)."""
    return params[2][0, :, : 2 * d]


def signature(cfg: Config, seed: int = 0) -> dict[str, Tensor]:
    """One run; per step: the largest attention logit, the gradient norm,
    ||update|| / ||W|| of W_q,k, the median of sqrt(v) (Adam's second
    moment) of W_q,k, and ||W_q,k||."""
    rows: list[list[float]] = []
    before: list[Tensor] = []

    def record(
        step: int, params: list[Tensor], opt: torch.optim.Optimizer
    ) -> None:
        qk = qk_weights(params, cfg.d)
        if step:
            v = opt.state[params[2]]["exp_avg_sq"][0, :, : 2 * cfg.d]
            rows.append([
                ((qk - before[0]).norm() / before[0].norm()).item(),
                v.sqrt().median().item(),
                qk.norm().item(),
            ])
        before[:] = [qk.detach().clone()]

    history = train(cfg, seeds=(seed,), record=record)
    cols = torch.tensor(rows).T
    return {
        "max_logit": history["max_logit"][1:, 0],
        "grad_norm": history["grad_norm"][1:, 0],
        "ratio_qk": cols[0],
        "sqrt_v_qk": cols[1],
        "norm_qk": cols[2],
    }
# --8<-- [end:record]


LRS = {"1e-2": 1e-2, "3e-2": 3e-2, "1e-1": 1e-1}
RUNS = {"lr 1e-1": Config(lr=0.1), "lr 1e-2": Config(lr=0.01)}


def plot_signature(runs: dict[str, dict[str, Tensor]], onset: int) -> None:
    """The signature's four curves against the step, both rates per panel."""
    fig, axes = plt.subplots(2, 2, figsize=(8, 6), layout="constrained")
    panels = [
        ("max_logit", "max |q.k| / sqrt(d_head)"),
        ("grad_norm", "gradient norm"),
        ("ratio_qk", "||update|| / ||W||, W_q and W_k"),
        ("sqrt_v_qk", "median sqrt(v), W_q and W_k"),
    ]
    x = range(2, len(runs["lr 1e-1"]["max_logit"]) + 2)
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        for (name, run), style in zip(runs.items(), ("-", "--"), strict=True):
            ax.plot(x, run[key], linestyle=style, label=name)
        ax.axvline(onset + 2, color="C3", linestyle=":", label="collapse")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Attention-logit growth, 1 layer, d = 32, seed 0")


def main() -> None:
    torch.manual_seed(0)
    base = Config()
    print(f"{base.layers} layer, d = {base.d}, {base.heads} heads, "
          f"{base.steps} AdamW steps of {base.batch} x {base.seq} characters")
    for name, lr in LRS.items():
        s = summary(train(Config(lr=lr)))
        loss = " ".join(f"{v:.2f}" for v in s["final_loss"])
        logit = " ".join(f"{v:.0f}" for v in s["max_logit"])
        print(f"lr {name} loss {loss}  max logit {logit}"
              + f"  entropy {s['entropy'].mean():.2f}"
              + f" collapsed {int(s['collapsed'].sum())}/3")
    print(f"(loss and max attention logit per seed {SEEDS}; collapsed: a "
          f"logit\n above {COLLAPSED:g}; entropy: nats, mean over seeds and the"
          " last 20 steps)")

    runs = {name: signature(cfg) for name, cfg in RUNS.items()}
    fast = runs["lr 1e-1"]["max_logit"]
    onset = int((fast > COLLAPSED).int().argmax())  # index i is step i + 2
    steps = {"before": onset - 10, "collapse": onset, "end": len(fast) - 1}
    print(f"seed 0, lr 1e-1: attention collapses (logit > {COLLAPSED:g}) at "
          f"step {onset + 2}")
    print("rows: 10 steps before it, at it, and at the last step; W: W_q and "
          "W_k")
    columns = {"max_logit": "logit", "grad_norm": "|g|", "ratio_qk": "dW/W",
               "sqrt_v_qk": "sqrt(v)", "norm_qk": "|W|"}
    for name, run in runs.items():
        for when, i in steps.items():
            print(f"{name} {when:<9}" + "".join(
                f" {label} {run[k][i]:.3g}" for k, label in columns.items()))
    plot_signature(runs, onset)
    plt.show()


if __name__ == "__main__":
    main()
