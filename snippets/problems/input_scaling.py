"""Input scale and gradients: wrong units, standardising, one outlier batch."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import nn


def make_data(
    n: int, *, unit_scale: float = 1000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """4 features; feature 2 is recorded in units `unit_scale` times too small
    (x1000)."""
    x = torch.randn(n, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [1.5]]) + 0.1 * torch.randn(
        n, 1
    )
    x[:, 2] *= unit_scale
    return x, y


# --8<-- [start:standardize]
def standardize(
    x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    """(x - mean) / std per column, with mean and std taken from the training
    set."""
    return (x - mean) / std
# --8<-- [end:standardize]


def grad_norm(model: nn.Module) -> float:
    """Global L2 norm of all parameter gradients (what clip_grad_norm_ would
    report)."""
    return math.sqrt(
        sum(float(p.grad.double().pow(2).sum()) for p in model.parameters())
    )


# --8<-- [start:train]
def train_grad_norms(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int = 200,
    batch: int = 32,
    lr: float = 0.01,
    outlier_step: int | None = None,
) -> list[float]:
    """SGD on a 4-32-1 ReLU MLP; the global gradient norm at every step
    (stops at inf/nan).

    At `outlier_step` one row of the batch has feature 2 set to 50 (a 50-sigma
    glitch)."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    norms = []
    for step in range(steps):
        rows = torch.arange(step * batch, (step + 1) * batch) % len(x)
        xb, yb = x[rows].clone(), y[rows]
        if step == outlier_step:
            xb[0, 2] = 50.0
        opt.zero_grad()
        nn.functional.mse_loss(model(xb), yb).backward()
        norms.append(grad_norm(model))
        if not math.isfinite(norms[-1]):
            break
        opt.step()
    return norms
# --8<-- [end:train]


def main() -> None:
    torch.manual_seed(0)
    x_raw, y = make_data(4096)
    x_std = standardize(x_raw, x_raw.mean(0), x_raw.std(0))
    print(
        "column std, raw:         ",
        " ".join(f"{v:.3g}" for v in x_raw.std(0).tolist()),
    )
    print(
        "column std, standardised:",
        " ".join(f"{v:.3g}" for v in x_std.std(0).tolist()),
    )

    runs = {
        "raw (feature 2 x1000)": train_grad_norms(x_raw, y),
        "standardised": train_grad_norms(x_std, y),
        "standardised, outlier at step 100": train_grad_norms(
            x_std, y, outlier_step=100
        ),
    }
    raw, std, spiky = runs.values()
    print()
    print(
        f"gradient norm at step 0: raw {raw[0]:.3e}, "
        f"standardised {std[0]:.4g} (ratio {raw[0] / std[0]:.3g})"
    )
    print(
        f"raw run: gradient norm is inf/nan at step {len(raw) - 1}, "
        f"the last finite one {raw[-2]:.3e}"
    )
    median = sorted(spiky[80:100])[10]
    print(
        f"outlier batch: gradient norm {spiky[100]:.3e} "
        f"vs median {median:.3e} of steps 80-99"
    )
    print(f"outlier spike: {spiky[100] / median:.3g} times the median")
    print(
        f"standardised run, last step: {std[-1]:.3e}; "
        f"with the outlier: {spiky[-1]:.3e}"
    )

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for (name, norms), style in zip(
        runs.items(), ["C3o-", "C0-", "C1--"], strict=True
    ):
        finite = [v for v in norms if math.isfinite(v)]
        ax.semilogy(range(len(finite)), finite, style, label=name)
    ax.set(
        title="Global gradient norm during SGD (lr 0.01, batch 32)",
        xlabel="step",
        ylabel=r"$\|\nabla_\theta L\|_2$ (log)",
    )
    ax.legend()
    plt.show()


if __name__ == "__main__":
    main()
