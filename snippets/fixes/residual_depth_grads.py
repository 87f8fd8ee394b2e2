"""Gradient norm per layer at init, plain vs residual stacks, 64 blocks deep."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import nn

# label: (residual?, init, branch scale, predicted gain per block of the
# backward pass)
SETUPS = {
    "plain, default init": (False, "default", 1.0, math.sqrt(1 / 6)),
    "plain, He init": (False, "he", 1.0, 1.0),
    "residual, default init": (True, "default", 1.0, math.sqrt(7 / 6)),
    "residual, He init": (True, "he", 1.0, math.sqrt(2)),
    "residual, He init, branch × 1/√64": (
        True,
        "he",
        1 / 8,
        math.sqrt(1 + 1 / 64),
    ),
}


# --8<-- [start:stack]
def input_grad_norms(
    residual: bool,
    init: str,
    scale: float,
    depth: int = 64,
    width: int = 64,
    batch: int = 256,
    device: torch.device | str = "cpu",
) -> list[float]:
    """||dL/dx_l|| for l = 0..depth. Block: F(x) = scale * W relu(x);
    plain x <- F(x), residual x <- x + F(x). Loss: mean over the batch of
    r . x_depth, r a fixed random vector."""
    layers = [nn.Linear(width, width, device=device) for _ in range(depth)]
    if init == "he":
        for layer in layers:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    x = torch.randn(batch, width, device=device)
    xs = []
    for layer in layers:
        x.requires_grad_(True)
        xs.append(x)
        f = scale * layer(torch.relu(x))
        x = x + f if residual else f
    xs.append(x)
    r = torch.randn(width, device=device)
    grads = torch.autograd.grad((x @ r).mean(), xs)
    return [
        g.double().norm().item() for g in grads
    ]  # float64: squares of 1e-25 underflow
# --8<-- [end:stack]


def gain_per_block(norms: list[float]) -> float:
    """Geometric-mean factor by which the gradient grows per block, going toward
    the input."""
    return (norms[0] / norms[-1]) ** (1 / (len(norms) - 1))


def main() -> None:
    torch.manual_seed(0)
    _, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    print(
        "64 blocks of width 64: ||dL/dx_0|| / ||dL/dx_64|| "
        "and the gain per block"
    )
    print(f"  {'setup':<40} {'ratio':>10} {'gain':>7} {'predicted':>9}")
    for (label, (residual, init, scale, predicted)), marker in zip(
        SETUPS.items(), "osv^D", strict=True
    ):
        norms = input_grad_norms(residual, init, scale)
        print(
            f"  {label:<40} {norms[0] / norms[-1]:>10.3e} "
            f"{gain_per_block(norms):>7.4f} {predicted:>9.4f}"
        )
        ax.semilogy(
            range(len(norms)), norms, marker=marker, markevery=8, label=label
        )
    ax.set_xlabel("block index l (0 = input)")
    ax.set_ylabel(r"$\|\partial L / \partial x_l\|$")
    ax.set_title("Gradient reaching each block at initialisation, 64 blocks")
    ax.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
