"""Steps to a target loss against batch size, lr tuned per batch size."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import Tensor
from torch.func import grad, vmap

Params = list[Tensor]


def make_data(
    n: int, seed: int = 0, device: torch.device | str = "cpu"
) -> tuple[Tensor, Tensor]:
    """x of shape (n, 8); y = teacher(x) + 0.3 * noise, shape (n, 1)."""
    gen = torch.Generator().manual_seed(seed)
    w_teacher = 2 * torch.randn(8, 16, generator=gen) / 8**0.5
    v_teacher = torch.randn(16, 1, generator=gen)
    x = torch.randn(n, 8, generator=gen)
    y = torch.tanh(x @ w_teacher) @ v_teacher + 0.3 * torch.randn(
        n, 1, generator=gen
    )
    return x.to(device), y.to(device)


def init_params(
    copies: int,
    hidden: int = 32,
    seed: int = 1,
    device: torch.device | str = "cpu",
) -> Params:
    """`copies` identical 8-hidden-1 MLPs (nn.Linear's default init), stacked on
    dim 0."""
    gen = torch.Generator().manual_seed(seed)
    shapes = [
        ((8, hidden), 8),
        ((1, hidden), 8),
        ((hidden, 1), hidden),
        ((1, 1), hidden),
    ]
    one = [
        (2 * torch.rand(s, generator=gen) - 1) / fan_in**0.5
        for s, fan_in in shapes
    ]
    return [p.expand(copies, *p.shape).clone().to(device) for p in one]


def mlp(params: Params, x: Tensor) -> Tensor:
    """x (..., N, 8) -> (..., N, 1); the leading dims of the params select the
    copy."""
    w1, b1, w2, b2 = params
    return torch.tanh(x @ w1 + b1) @ w2 + b2


def mse(params: Params, x: Tensor, y: Tensor) -> Tensor:
    return 0.5 * (mlp(params, x) - y).pow(2).mean(dim=(-2, -1))


# --8<-- [start:steps]
def steps_to_target(
    batch: int,
    lrs: list[float],
    target: float,
    x: Tensor,
    y: Tensor,
    max_steps: int = 20000,
    check: int = 5,
    seed: int = 2,
) -> tuple[list[int | None], list[Params | None]]:
    """Train one MLP per learning rate on the same batches; first step with full
    loss <= target."""
    params = [
        p.requires_grad_(True) for p in init_params(len(lrs), device=x.device)
    ]
    lr = torch.tensor(lrs, device=x.device).view(-1, 1, 1)
    gen = torch.Generator().manual_seed(seed)
    hit: list[int | None] = [None] * len(lrs)
    at_hit: list[Params | None] = [None] * len(lrs)
    for step in range(1, max_steps + 1):
        idx = torch.randint(0, len(x), (batch,), generator=gen).to(x.device)
        grads = torch.autograd.grad(mse(params, x[idx], y[idx]).sum(), params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
            if step % check:
                continue
            loss = mse(params, x, y)
            for k in range(len(lrs)):
                if hit[k] is None and loss[k] <= target:
                    hit[k], at_hit[k] = (
                        step,
                        [p[k].detach().clone() for p in params],
                    )
            done = [
                h is not None or not math.isfinite(loss[k])
                for k, h in enumerate(hit)
            ]
            first = min((h for h in hit if h is not None), default=None)
            if all(done) or (first is not None and step >= 3 * first):
                # the rest are slower than the best by a factor of 3 or more
                break
    return hit, at_hit
# --8<-- [end:steps]


# --8<-- [start:fit]
def fit_critical_batch(
    batches: list[int], steps: list[int]
) -> tuple[float, float]:
    """S_min, B_crit of S = S_min (1 + B_crit / B), least squares on log S over
    a grid of B_crit."""
    b, log_s = (
        torch.tensor(batches, dtype=torch.float64),
        torch.tensor(steps).double().log(),
    )
    best = (math.inf, 0.0, 0.0)
    for b_crit in torch.logspace(-1, 5, 3001, dtype=torch.float64):
        shape = torch.log1p(b_crit / b)
        log_s_min = (log_s - shape).mean()
        err = float((log_s - log_s_min - shape).pow(2).sum())
        best = min(best, (err, float(log_s_min.exp()), float(b_crit)))
    return best[1], best[2]
# --8<-- [end:fit]


def exact_noise_scale(params: Params, x: Tensor, y: Tensor) -> float:
    """tr(Sigma) / |G|^2 over the whole training set, from per-example
    gradients."""

    def loss_one(params: Params, xi: Tensor, yi: Tensor) -> Tensor:
        return mse(params, xi.unsqueeze(0), yi.unsqueeze(0))

    g = torch.cat(
        [
            t.flatten(1)
            for t in vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
        ],
        dim=1,
    )
    mean = g.mean(dim=0)
    return float((g - mean).pow(2).sum(dim=1).mean() / (mean @ mean))


def main() -> None:
    torch.manual_seed(0)
    x, y = make_data(2048)
    target, batches = 0.1, [4, 8, 16, 32, 64, 128, 256, 512, 1024]
    lrs = [0.04 * 2 ** (j / 2) for j in range(10)]  # 0.04 to 0.905
    best_steps, at_target = [], []
    print(
        "    B   best lr   steps to loss 0.1   examples   steps(B/2)/steps(B)"
    )
    for b in batches:
        hit, params = steps_to_target(b, lrs, target, x, y)
        k = min((h, k) for k, h in enumerate(hit) if h is not None)[1]
        best_steps.append(hit[k])
        at_target.append(exact_noise_scale(params[k], x, y))
        ratio = f"{best_steps[-2] / hit[k]:.3g}" if len(best_steps) > 1 else ""
        print(
            f"{b:5d}   {lrs[k]:7.3g}   {hit[k]:17d}   {b * hit[k]:8d}   {ratio}"
        )
    s_min, b_crit = fit_critical_batch(batches, best_steps)
    b_simple = sorted(at_target)[len(at_target) // 2]
    print(
        "fit S = S_min (1 + B_crit / B): "
        f"S_min = {s_min:.4g} steps, B_crit = {b_crit:.3g}"
    )
    print(
        f"exact B_simple where the runs reach loss 0.1: median {b_simple:.3g}, "
        f"range {min(at_target):.3g} to {max(at_target):.3g}"
    )

    grid = torch.logspace(math.log10(batches[0]), math.log10(batches[-1]), 100)
    _, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax0.loglog(
        batches, best_steps, "o", color="C0", label="measured (best lr per B)"
    )
    ax0.loglog(
        grid,
        s_min * (1 + b_crit / grid),
        "-",
        color="C0",
        alpha=0.6,
        label=r"fit $S_{min}(1 + B_{crit}/B)$",
    )
    ax0.loglog(
        grid,
        best_steps[0] * batches[0] / grid,
        ":",
        color="C2",
        label="perfect scaling, steps $\\propto 1/B$",
    )
    ax0.set(
        xlabel="batch size $B$",
        ylabel="steps to loss 0.1",
        title="Steps: halved by doubling B, until they are not",
    )
    ax1.loglog(
        batches,
        [b * s for b, s in zip(batches, best_steps, strict=True)],
        "o",
        color="C1",
        label="measured",
    )
    ax1.loglog(
        grid,
        s_min * b_crit * (1 + grid / b_crit),
        "-",
        color="C1",
        alpha=0.6,
        label=r"fit $E_{min}(1 + B/B_{crit})$",
    )
    ax1.set(
        xlabel="batch size $B$",
        ylabel="examples processed to loss 0.1",
        title="Examples: cheap below the critical batch size",
    )
    for ax in (ax0, ax1):
        ax.axvline(
            b_crit,
            linestyle="--",
            color="C3",
            label=rf"fitted $B_{{crit}}$ = {b_crit:.0f}",
        )
        ax.axvline(
            b_simple,
            linestyle="-.",
            color="C4",
            label=rf"$B_{{simple}}$ at loss 0.1 $\approx$ {b_simple:.0f}",
        )
        ax.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
