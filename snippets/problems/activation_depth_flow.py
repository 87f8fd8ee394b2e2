"""Gradient flow through a 50-layer MLP at init, for eight activations."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import nn

# each activation with the weight gain it is usually paired with: std(W) = gain
# / sqrt(n_in)
SETUPS: dict[str, tuple[type[nn.Module], dict, float]] = {
    "sigmoid": (nn.Sigmoid, {}, nn.init.calculate_gain("sigmoid")),  # 1
    "tanh": (nn.Tanh, {}, nn.init.calculate_gain("tanh")),  # 5/3
    "ReLU": (nn.ReLU, {}, nn.init.calculate_gain("relu")),  # sqrt(2)
    "Leaky ReLU": (
        nn.LeakyReLU,
        {"negative_slope": 0.01},
        nn.init.calculate_gain("leaky_relu", 0.01),
    ),  # sqrt(2 / (1 + 0.01^2))
    "ELU": (nn.ELU, {}, math.sqrt(2)),
    "SELU": (nn.SELU, {}, 1.0),  # LeCun normal, what self-normalisation assumes
    "GELU": (nn.GELU, {}, math.sqrt(2)),
    "SiLU": (nn.SiLU, {}, math.sqrt(2)),
}


# --8<-- [start:stack]
def activation_stack(
    activation: type[nn.Module],
    kwargs: dict,
    gain: float,
    depth: int,
    width: int,
    dtype: torch.dtype = torch.float32,
) -> nn.Sequential:
    """depth x (Linear(width, width) -> activation), std(W) = gain /
    sqrt(width), then a head."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width, dtype=dtype)
        nn.init.normal_(linear.weight, std=gain / math.sqrt(width))
        nn.init.zeros_(linear.bias)
        layers += [linear, activation(**kwargs)]
    return nn.Sequential(*layers, nn.Linear(width, 1, dtype=dtype))


def weight_grad_norms(
    model: nn.Sequential, x: torch.Tensor, y: torch.Tensor
) -> list[float]:
    """||dL/dW_l|| for each hidden Linear (input side first) after one backward
    pass of MSE."""
    model.zero_grad(set_to_none=True)
    nn.functional.mse_loss(model(x), y).backward()
    linears = [m for m in model if isinstance(m, nn.Linear)][:-1]
    return [
        float(m.weight.grad.double().norm()) for m in linears
    ]  # float64: see the page
# --8<-- [end:stack]


def main() -> None:
    torch.manual_seed(0)
    depth, width, batch = 50, 128, 256
    x = torch.randn(batch, width)
    y = torch.randn(batch, 1)
    results = {}
    print(
        f"{depth} layers of width {width}; "
        f"ratio = ||dL/dW_1|| / ||dL/dW_{depth}||"
    )
    print(
        "activation    gain  ||dL/dW_1||  ||dL/dW_50||      ratio   std(a_50)"
    )
    for name, (activation, kwargs, gain) in SETUPS.items():
        torch.manual_seed(1)
        model = activation_stack(activation, kwargs, gain, depth, width)
        norms = results[name] = weight_grad_norms(model, x, y)
        ratio = norms[0] / norms[-1]
        with torch.no_grad():
            a_last = float(
                model[:-1](x).std()
            )  # the last hidden layer's output
        print(
            f"{name:11s} {gain:6.3f} {norms[0]:12.3e} {norms[-1]:13.3e} "
            f"{ratio:10.3g} {a_last:11.3g}"
        )

    _, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    styles = ["-", "--", "-", "--", "-.", ":", "-", "--"]
    markers = ["o", "s", "^", "v", "D", "x", "+", "*"]
    for i, (name, norms) in enumerate(results.items()):
        ax.semilogy(
            range(1, depth + 1),
            norms,
            color=f"C{i}",
            linestyle=styles[i],
            marker=markers[i],
            markevery=7,
            markersize=4,
            label=name,
        )
    ax.set(
        title=(
            f"Gradient norm per layer at init, {depth}-layer MLP "
            "per activation"
        ),
        xlabel="layer $l$ (1 = next to the input)",
        ylabel=r"$\|\partial L/\partial W_l\|_F$ (log)",
    )
    ax.legend(fontsize=8, ncols=2)
    plt.show()


if __name__ == "__main__":
    main()
