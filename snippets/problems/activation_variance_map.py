"""A plain stack's variance map q -> gain^2 E[f(z)^2], and GELU's fading."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

ACTIVATIONS = {
    "tanh": (torch.tanh, 5 / 3),
    "ReLU": (torch.relu, math.sqrt(2)),
    "GELU": (F.gelu, math.sqrt(2)),
    "SiLU": (F.silu, math.sqrt(2)),
}


# --8<-- [start:map]
def gaussian_grid(n: int = 40_001) -> tuple[torch.Tensor, torch.Tensor]:
    """Points u on [-12, 12] and weights w with sum(w * g(u)) ~ E[g(u)]."""
    u = torch.linspace(-12, 12, n, dtype=torch.float64)
    w = torch.exp(-(u**2) / 2)
    return u, w / w.sum()


def variance_ratio(f, gain: float, q: float) -> float:
    """q_next / q for pre-activations z ~ N(0, q): gain^2 E[f(z)^2] / q.

    With zero biases and std(W) = gain / sqrt(n), the next layer's
    pre-activations have variance gain^2 E[f(z)^2] (the mean field).
    """
    u, w = gaussian_grid()
    z = math.sqrt(q) * u
    return gain**2 * float((w * f(z) ** 2).sum()) / q
# --8<-- [end:map]


# --8<-- [start:fading]
def fading_stack(
    f, gain: float, depth: int, x: torch.Tensor, y: torch.Tensor
) -> dict[str, list[float]]:
    """Plain stack a_l = f(a_{l-1} W_l^T), MSE of a linear head against y.

    Per layer l: ||a_{l-1}|| (the layer's input), ||dL/dz_l|| and
    ||dL/dW_l||, where dL/dW_l = (dL/dz_l)^T a_{l-1}.
    """
    n = x.shape[1]
    ws = [
        torch.randn(n, n, dtype=x.dtype) * gain / math.sqrt(n)
        for _ in range(depth)
    ]
    ws = [w.requires_grad_(True) for w in ws]
    a, inputs, zs = x, [], []
    for w in ws:
        inputs.append(a.detach())
        z = a @ w.T
        z.retain_grad()
        zs.append(z)
        a = f(z)
    head = torch.randn(n, 1, dtype=x.dtype) / math.sqrt(n)
    ((a @ head - y) ** 2).mean().backward()
    return {
        "input": [float(a.norm()) for a in inputs],
        "delta": [float(z.grad.norm()) for z in zs],
        "weight": [float(w.grad.norm()) for w in ws],
    }
# --8<-- [end:fading]


def per_layer(values: list[float], first: int, last: int) -> float:
    """Geometric-mean factor per layer from layer `first` to `last`."""
    return (values[last - 1] / values[first - 1]) ** (1 / (last - first))


def main() -> None:
    torch.manual_seed(0)
    qs = [1e-4, 1e-2, 1.0, 1e2, 1e4]
    print("q_next / q for pre-activations of variance q (gain as on the page):")
    print("  f      gain " + "".join(f"  q={q:<7.0e}" for q in qs).rstrip())
    for name, (f, gain) in ACTIVATIONS.items():
        ratios = [variance_ratio(f, gain, q) for q in qs]
        row = "".join(f"{r:10.4f}" for r in ratios)
        print(f"  {name:5s} {gain:5.3f} {row}")
    print("GELU at other gains, small and large signals:")
    for gain in [1.8, 2.0, 2.5]:
        lo, hi = (variance_ratio(F.gelu, gain, q) for q in (1e-4, 1e4))
        print(
            f"  gain {gain:.1f}: q_next/q {lo:.4f} at q = 1e-4, "
            f"{hi:.4f} at q = 1e4"
        )

    depth, n = 50, 128
    x = torch.randn(256, n, dtype=torch.float64)
    y = torch.randn(256, 1, dtype=torch.float64)
    stack = fading_stack(F.gelu, math.sqrt(2), depth, x, y)
    print(
        f"GELU stack, gain sqrt(2), {depth} layers: factor per layer, "
        "layer 30 -> 50"
    )
    for key, label in [
        ("input", "||a_(l-1)||, forward"),
        ("delta", "||dL/dz_l||, forward"),
        ("weight", "||dL/dW_l||, forward"),
    ]:
        print(f"  {label:24s} {per_layer(stack[key], 30, depth):.4f}")

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    grid = torch.logspace(-4, 4, 33).tolist()
    for i, (name, (f, gain)) in enumerate(ACTIVATIONS.items()):
        ax.semilogx(
            grid,
            [variance_ratio(f, gain, q) for q in grid],
            color=f"C{i}",
            marker="os^v"[i],
            markevery=4,
            label=f"{name}, gain {gain:.3g}",
        )
    ax.axhline(1, color="0.5", linestyle=":", label="variance kept")
    ax.set(
        title="One layer's variance map in a plain stack",
        xlabel="variance $q$ of the pre-activations",
        ylabel=r"$q_\mathrm{next} / q$",
    )
    ax.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
