"""Activation and gradient std per layer of a 50-layer MLP, five inits."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import nn

# weight std for a (width, width) layer; None means keep nn.Linear's default
# init
INITS: dict[str, float | None] = {
    "too small (0.5/sqrt(n))": 0.5,
    "too large (3/sqrt(n))": 3.0,
    "Xavier (1/sqrt(n))": 1.0,  # sqrt(2 / (n_in + n_out)) with n_in = n_out = n
    "He (sqrt(2/n))": math.sqrt(2),
    "PyTorch default": None,
}
LABELS = [
    r"too small ($0.5/\sqrt{n}$)",
    r"too large ($3/\sqrt{n}$)",
    r"Xavier ($1/\sqrt{n}$)",
    r"He ($\sqrt{2/n}$)",
    "PyTorch default",
]


def build(
    activation: type[nn.Module], scale: float | None, depth: int, width: int
) -> nn.Sequential:
    """depth x (Linear -> activation) in float64, weight std scale /
    sqrt(width), zero biases."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width, dtype=torch.float64)
        if scale is not None:
            nn.init.normal_(linear.weight, std=scale / math.sqrt(width))
            nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
    return nn.Sequential(*layers, nn.Linear(width, 1, dtype=torch.float64))


# --8<-- [start:stats]
def layer_stats(
    model: nn.Sequential, x: torch.Tensor, y: torch.Tensor
) -> tuple[list[float], list[float]]:
    """std of each hidden layer's output a_l, and std of dL/dz_l at its
    pre-activation z_l."""
    acts, zs = [], []
    h = x
    for module in model[:-1]:
        h = module(h)
        if isinstance(module, nn.Linear):
            h.retain_grad()
            zs.append(h)
        else:
            acts.append(h)
    loss = nn.functional.mse_loss(model[-1](h), y)
    loss.backward()
    return [float(a.detach().std()) for a in acts], [
        float(z.grad.std()) for z in zs
    ]
# --8<-- [end:stats]


def mean_slope(model: nn.Sequential, x: torch.Tensor) -> float:
    """Mean f'(z) over every unit, example and hidden layer (tanh or ReLU)."""
    slopes, h = [], x
    with torch.no_grad():
        for module in model[:-1]:
            h = module(h)
            if isinstance(module, nn.Tanh):
                slopes.append((1 - h**2).mean())
            elif isinstance(module, nn.ReLU):
                slopes.append((h > 0).double().mean())
    return float(torch.stack(slopes).mean())


def main() -> None:
    torch.manual_seed(0)
    depth, width, batch = 50, 128, 256
    x = torch.randn(batch, width, dtype=torch.float64)
    y = torch.randn(batch, 1, dtype=torch.float64)
    stats = {}
    print(
        f"{'':5s} {'init':24s} {'std(a_1)':>9s} {'std(a_50)':>10s} "
        f"{'std(g_1)':>9s} {'std(g_50)':>10s} mean f'"
    )
    for act_name, activation in [("tanh", nn.Tanh), ("ReLU", nn.ReLU)]:
        for init_name, scale in INITS.items():
            torch.manual_seed(1)
            model = build(activation, scale, depth, width)
            a_std, g_std = layer_stats(model, x, y)
            stats[act_name, init_name] = (a_std, g_std)
            print(
                f"{act_name:5s} {init_name:24s} {a_std[0]:9.3e} "
                f"{a_std[-1]:10.3e} {g_std[0]:9.3e} {g_std[-1]:10.3e} "
                f"{mean_slope(model, x):7.3f}"
            )
    print(
        "(a_l: output of hidden layer l; g_l = dL/dz_l, z_l its pre-activation;"
    )
    print(" mean f': mean slope f'(z) over all units, examples and layers)")

    fig, axes = plt.subplots(
        2, 2, figsize=(11, 7), layout="constrained", sharex=True
    )
    styles = ["C0:", "C3--", "C1-", "C2-.", "C4-"]
    for row, act_name in enumerate(["tanh", "ReLU"]):
        for init_name, label, style in zip(INITS, LABELS, styles, strict=True):
            a_std, g_std = stats[act_name, init_name]
            axes[row, 0].semilogy(
                range(1, depth + 1), a_std, style, label=label
            )
            axes[row, 1].semilogy(
                range(1, depth + 1), g_std, style, label=label
            )
        axes[row, 0].set(
            title=f"{act_name}: activation std", ylabel=r"std$(a_l)$ (log)"
        )
        axes[row, 1].set(
            title=f"{act_name}: gradient std",
            ylabel=r"std$(\partial L/\partial z_l)$ (log)",
        )
    for ax in axes[1]:
        ax.set_xlabel("layer $l$")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"{depth}-layer MLP, width {width}, at initialisation")
    plt.show()


if __name__ == "__main__":
    main()
