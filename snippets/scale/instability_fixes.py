"""Mitigations of attention-logit growth, and rollback-and-skip for spikes."""

from __future__ import annotations

import copy
import inspect
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace

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


# --8<-- [start:runs]
FAILING = Config(lr=0.1)  # AdamW defaults: beta2 = 0.999, eps = 1e-8
MITIGATIONS = {
    "none (lr 0.1)": FAILING,
    "QK-LayerNorm": replace(FAILING, qk_norm=True),
    "z-loss 1e-4": replace(FAILING, z_loss=1e-4),
    "beta2 0.95": replace(FAILING, beta2=0.95),
    "eps 1e-15": replace(FAILING, eps=1e-15),
    "clip norm 0.1": replace(FAILING, clip=0.1),
    "warmup 50": replace(FAILING, warmup=50),
}
# --8<-- [end:runs]


CFG = Config(lr=0.03)  # a stable rate: the spike comes from the data
BAD = range(43, 46)  # indices of the corrupted batches in the stream
EVERY, FACTOR, WINDOW = 10, 1.5, 10  # checkpoint interval, spike rule


def batch_stream(
    cfg: Config, n: int, bad: range, seed: int = 0
) -> list[tuple[Tensor, Tensor]]:
    """n batches of text; those at `bad` hold random characters instead."""
    ids, _, _, gens = start(cfg, (seed,))
    batches = [get_batch(ids, cfg, gens) for _ in range(n)]
    noise = torch.Generator().manual_seed(seed)
    vocab = int(ids.max()) + 1
    for i in bad:
        x = batches[i][0]
        batches[i] = tuple(
            torch.randint(vocab, x.shape, generator=noise) for _ in range(2)
        )
    return batches


# --8<-- [start:rollback]
def train_with_rollback(
    cfg: Config,
    batches: list[tuple[Tensor, Tensor]],
    every: int = EVERY,
    factor: float = FACTOR,
    window: int = WINDOW,
    protect: bool = True,
    seed: int = 0,
) -> dict[str, object]:
    """cfg.steps optimizer steps through `batches`. A checkpoint every
    `every` steps; a loss above `factor` times the mean of the last `window`
    losses restores it and skips the batches since it, spike included."""
    _, params, opt, _ = start(cfg, (seed,))

    def snapshot(step: int) -> tuple:
        saved = [p.detach().clone() for p in params]
        return step, saved, copy.deepcopy(opt.state_dict())

    checkpoint = snapshot(0)
    losses: list[float] = []
    used: list[int] = []  # the batch behind each kept step
    skipped: list[int] = []
    lost = rollbacks = 0
    for position, batch in enumerate(batches):
        if len(losses) == cfg.steps:
            break
        step = len(losses)
        loss = train_step(params, opt, batch, cfg, step)["loss"]
        recent = losses[-window:]
        spike = len(recent) == window and loss > factor * sum(recent) / window
        if protect and spike:
            back_to, saved, state = checkpoint
            with torch.no_grad():
                for p, s in zip(params, saved, strict=True):
                    p.copy_(s)
            opt.load_state_dict(copy.deepcopy(state))
            skipped += [*used[back_to:], position]
            lost += step + 1 - back_to
            rollbacks += 1
            del losses[back_to:], used[back_to:]
        else:
            losses.append(loss.item())
            used.append(position)
            if len(losses) % every == 0:
                checkpoint = snapshot(len(losses))
    return {"losses": losses, "skipped": skipped, "lost": lost,
            "rollbacks": rollbacks}
# --8<-- [end:rollback]


def main() -> None:
    torch.manual_seed(0)
    print(f"failing run: lr {FAILING.lr:g}, AdamW beta2 {FAILING.beta2:g}, "
          f"eps {FAILING.eps:g}, {FAILING.steps} steps, seeds {SEEDS}")
    for name, cfg in MITIGATIONS.items():
        history = train(cfg)
        s = summary(history)
        first = s["first_collapse"].float().median()
        first_text = f"{first:.0f}" if s["collapsed"].all() else "-"
        print(f"{name:<14} loss {s['final_loss'].mean():.2f}"
              f"  max logit {s['max_logit'].median():.3g}"
              f"  |log Z| {history['log_z'][-20:].mean():.2f}"
              f"  first {first_text}  collapsed {int(s['collapsed'].sum())}/3")
    print("(mean loss and median max attention logit over seeds; |log Z|: mean")
    print(" over seeds and the last 20 steps; first: median step at which a")
    print(f" logit passed {COLLAPSED:g})")

    n = CFG.steps + 20  # spare batches for the ones a rollback skips
    runs = {
        "clean data": train_with_rollback(CFG, batch_stream(CFG, n, range(0))),
        "bad batches": train_with_rollback(
            CFG, batch_stream(CFG, n, BAD), protect=False
        ),
        "rollback+skip": train_with_rollback(CFG, batch_stream(CFG, n, BAD)),
    }
    print(f"lr {CFG.lr:g}, {CFG.steps} steps; batches {BAD.start} to "
          f"{BAD.stop - 1} hold random characters")
    print(f"checkpoint every {EVERY} steps; a spike: loss > {FACTOR:g} x the "
          f"mean of the last {WINDOW}")
    for name, run in runs.items():
        losses = run["losses"]
        print(f"{name:<14} peak {max(losses[20:]):.2f}"
              f"  end {sum(losses[-20:]) / 20:.2f}"
              f"  rollbacks {run['rollbacks']}"
              f"  steps lost {run['lost']}")
    print("(peak: highest loss after step 20; end: mean of the last 20 losses)")
    print("batches skipped:", runs["rollback+skip"]["skipped"])


if __name__ == "__main__":
    main()
