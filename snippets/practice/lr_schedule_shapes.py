"""Warmup-stable-decay, inverse square root, and the peak lr against batch."""

from __future__ import annotations

import math
from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from torch.optim import lr_scheduler

Factor = Callable[[int], float]
STEPS, WARMUP, DECAY, BASE_LR = 1000, 100, 200, 1e-3
DIM, NOISE, START, EXAMPLES, SEEDS = 16, 1.0, 0.05, 2048, 16
LRS = {"SGD": 1e-3, "Adam": 1e-4}  # smallest lr of each sweep
GRID = [2 ** (k / 2) for k in range(13)]  # x1 .. x64, sqrt(2) apart


# --8<-- [start:shapes]
def wsd(steps: int, warmup: int, decay: int, shape: str = "linear") -> Factor:
    """Warmup-stable-decay: linear warmup, flat, then to 0 in `decay` steps."""

    def factor(t: int) -> float:
        if t < warmup:
            return (t + 1) / warmup
        x = max(0, t - (steps - decay)) / decay  # 0 until the decay starts
        return 1 - x if shape == "linear" else 1 - math.sqrt(x)

    return factor


def inverse_sqrt(warmup: int) -> Factor:
    """Vaswani et al.'s schedule over its peak: t/W up to W, then sqrt(W/t)."""
    return lambda t: min((t + 1) / warmup, math.sqrt(warmup / (t + 1)))


def lr_curve(factor: Factor, steps: int = STEPS, peak: float = BASE_LR):
    """The learning rate LambdaLR gives the optimizer at steps 0 .. steps-1."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    sched = lr_scheduler.LambdaLR(opt, factor)  # lr = peak * factor(t)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs
# --8<-- [end:shapes]


# --8<-- [start:batch]
def excess_loss(
    name: str, batch: int, lrs: list[float], seed: int = 0
) -> torch.Tensor:
    """Noisy linear regression started near w*: one run per lr on the same
    batches, SEEDS runs each; mean of 0.5 |w - w*|^2 after EXAMPLES examples."""
    g = torch.Generator().manual_seed(seed)
    w_star = torch.randn(DIM, generator=g, dtype=torch.float64)
    u = START * torch.randn(SEEDS, DIM, generator=g, dtype=torch.float64)
    ws = [(w_star + u).requires_grad_() for _ in lrs]
    groups = [{"params": [w], "lr": lr} for w, lr in zip(ws, lrs, strict=True)]
    opt = (torch.optim.Adam if name == "Adam" else torch.optim.SGD)(groups)
    for _ in range(EXAMPLES // batch):
        x = torch.randn(SEEDS, batch, DIM, generator=g, dtype=torch.float64)
        y = x @ w_star + NOISE * torch.randn(SEEDS, batch, generator=g,
                                             dtype=torch.float64)
        err = (x @ torch.stack(ws).unsqueeze(-1)).squeeze(-1) - y
        opt.zero_grad()
        (0.5 * err.pow(2).mean(-1).sum()).backward()  # batch mean per run
        opt.step()
    return torch.stack([(w.detach() - w_star).pow(2).sum(-1).mean() / 2
                        for w in ws])


def best_lr(lrs: list[float], losses: torch.Tensor) -> float:
    """Vertex of the parabola through log loss at the grid's best 3 lrs."""
    i = min(max(int(losses.argmin()), 1), len(lrs) - 2)
    a, b, c = losses[i - 1 : i + 2].log().tolist()
    shift = 0.5 * (a - c) / (a - 2 * b + c)  # in grid steps from lrs[i]
    return lrs[i] * (lrs[i + 1] / lrs[i]) ** shift
# --8<-- [end:batch]


def main() -> None:
    torch.manual_seed(0)
    shapes = {
        "WSD, linear decay": wsd(STEPS, WARMUP, DECAY),
        "WSD, 1-sqrt decay": wsd(STEPS, WARMUP, DECAY, "1-sqrt"),
        "inverse square root": inverse_sqrt(WARMUP),
    }
    curves = {name: lr_curve(f) for name, f in shapes.items()}
    shown = (0, 99, 500, 800, 900, 999)
    print(f"base lr {BASE_LR:g}, {STEPS} steps, warmup {WARMUP}, decay {DECAY}")
    head = "  ".join(f"{'t=' + str(t):7s}" for t in shown)
    print(f"{'schedule':20s} {head}".rstrip())
    for name, lrs in curves.items():
        print(f"{name:20s} " + "  ".join(f"{lrs[t]:.1e}" for t in shown))
    print(f"Vaswani peak, d_model 512, warmup 4000: {(512 * 4000) ** -0.5:.2e}")

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for (name, lrs), ls in zip(curves.items(), ("-", "--", ":"), strict=True):
        ax.plot(lrs, linestyle=ls, linewidth=1.8, label=name)
    ax.set(xlabel="optimizer step $t$", ylabel=r"learning rate $\eta_t$",
           title=f"Warmup {WARMUP}, last {DECAY} steps decay (WSD)")
    ax.legend(fontsize=8)

    # E|u|^2 = DIM START^2 in B_simple = d + 1 + d s^2 / |u|^2
    b_simple = DIM + 1 + NOISE**2 / START**2
    print(f"\nbest peak lr, {EXAMPLES} examples, mean of {SEEDS} seeds, "
          f"B_simple about {b_simple:.0f}")
    _, bx = plt.subplots(figsize=(7, 4), layout="constrained")
    for (name, low), ls in zip(LRS.items(), ("-", "--"), strict=True):
        lrs = [low * k for k in GRID]
        best = {}
        for batch, marker in ((8, "o"), (32, "s")):
            losses = excess_loss(name, batch, lrs)
            best[batch] = best_lr(lrs, losses)
            bx.loglog(lrs, losses, linestyle=ls, marker=marker,
                      label=f"{name}, B={batch}")
        print(f"{name:5s} B=8 {best[8]:.2e}  B=32 {best[32]:.2e}  "
              f"ratio {best[32] / best[8]:.2f}")
    bx.set(xlabel=r"peak learning rate $\eta$",
           ylabel=r"excess loss $\frac{1}{2}|w - w_*|^2$",
           title=f"Same {EXAMPLES} examples at batch 8 and 32")
    bx.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
