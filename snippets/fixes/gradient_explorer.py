"""Gradient norm per layer at init, by depth, activation, init, architecture."""

from __future__ import annotations

import itertools
import json
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

DEPTHS = (8, 16, 32, 64)
ACTIVATIONS = {"tanh": torch.tanh, "ReLU": torch.relu, "sigmoid": torch.sigmoid}
# Weight standard deviation times sqrt(fan_in), for the inits drawn from a
# normal distribution (fan_in = fan_out here).
STD_TIMES_ROOT_N = {
    "Xavier (Glorot)": 1.0,
    "Kaiming (He)": math.sqrt(2),
    "too small": 0.5,
}
INITS = ("PyTorch default", *STD_TIMES_ROOT_N)
ARCHITECTURES = ("plain", "residual", "pre-LN residual")
# What the explorer shows first, and the curves of the static figure.
START = (32, "tanh", "PyTorch default", "pre-LN residual")
SHOWN = [
    (32, "tanh", "PyTorch default", "plain"),
    (32, "sigmoid", "Xavier (Glorot)", "plain"),
    (32, "ReLU", "Kaiming (He)", "plain"),
    (32, "tanh", "PyTorch default", "residual"),
    (32, "tanh", "PyTorch default", "pre-LN residual"),
]


# --8<-- [start:norms]
def init_layer(
    init: str, n: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight (n x n) and bias of one layer, drawn as `init` says."""
    if init == "PyTorch default":  # nn.Linear: U(-1/sqrt(n), 1/sqrt(n)), both
        w = 2 * torch.rand(n, n, generator=gen, dtype=torch.float64) - 1
        b = 2 * torch.rand(n, generator=gen, dtype=torch.float64) - 1
        return w / math.sqrt(n), b / math.sqrt(n)
    std = STD_TIMES_ROOT_N[init] / math.sqrt(n)
    w = std * torch.randn(n, n, generator=gen, dtype=torch.float64)
    return w, torch.zeros(n, dtype=torch.float64)


def per_layer_grad_norms(
    depth: int,
    activation: str,
    init: str,
    architecture: str,
    width: int = 64,
    batch: int = 128,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> list[float]:
    """||dL/dW_l|| (Frobenius) for l = 1..depth after one backward pass, with
    L the mean squared error to random targets. The seed fixes the inputs,
    the targets and layer l's weights whatever the activation or architecture,
    so that configurations differ only in what their names say."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, width, generator=gen, dtype=torch.float64)
    y = torch.randn(batch, width, generator=gen, dtype=torch.float64)
    layers = [init_layer(init, width, gen) for _ in range(depth)]
    weights = [w.to(device).requires_grad_() for w, _ in layers]
    act = ACTIVATIONS[activation]
    h = x.to(device)
    for w, (_, b) in zip(weights, layers, strict=True):
        b = b.to(device)
        if architecture == "plain":
            h = act(h @ w.T + b)
        elif architecture == "residual":
            h = h + act(h @ w.T + b)
        else:  # pre-LN: the branch sees the stream normalised per example
            h = h + act(F.layer_norm(h, (width,)) @ w.T + b)
    loss = F.mse_loss(h, y.to(device))
    grads = torch.autograd.grad(loss, weights)
    return [g.norm().item() for g in grads]
# --8<-- [end:norms]


def key(choice: tuple) -> str:
    """How the data names a configuration: its choices joined with "|"."""
    return "|".join(str(c) for c in choice)


def grid() -> dict:
    """Every configuration's norms (3 significant digits), by key, with the
    controls that choose them."""
    controls = [
        ["Depth", list(DEPTHS)],
        ["Activation", list(ACTIVATIONS)],
        ["Initialization", list(INITS)],
        ["Architecture", list(ARCHITECTURES)],
    ]
    norms = {}
    for choice in itertools.product(DEPTHS, ACTIVATIONS, INITS, ARCHITECTURES):
        norms[key(choice)] = [
            float(f"{v:.3g}") for v in per_layer_grad_norms(*choice)
        ]
    return {
        "controls": controls,
        "norms": norms,
        "reference": ["Architecture", "plain"],
        "start": list(START),
    }


def main() -> None:
    data = grid()
    print(json.dumps(data, sort_keys=True, separators=(",", ":")))

    _, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    for choice, marker in zip(SHOWN, "osv^D", strict=True):
        depth, activation, init, architecture = choice
        norms = data["norms"][key(choice)]
        ax.semilogy(
            range(1, depth + 1),
            norms,
            marker=marker,
            markevery=4,
            label=f"{architecture}, {activation}, {init}",
        )
    ax.set_xlabel("layer l (1 = next to the input)")
    ax.set_ylabel(r"$\|\partial L / \partial W_l\|$")
    ax.set_title("Gradient norm per layer at initialisation, 32 layers")
    ax.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
