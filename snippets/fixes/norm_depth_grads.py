"""Per-layer gradient norms of a deep MLP without and with normalization."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

NORMS = [
    "none",
    "batch_norm",
    "layer_norm",
    "rms_norm",
    "weight_norm",
    "weight_norm_g1",
]
LABELS = {
    "none": "no normalization",
    "batch_norm": "BatchNorm",
    "layer_norm": "LayerNorm",
    "rms_norm": "RMSNorm",
    "weight_norm": "weight norm, g = ‖v‖ (torch init)",
    "weight_norm_g1": "weight norm, g = 1",
}


# --8<-- [start:model]
def deep_mlp(
    norm: str, activation: type[nn.Module], depth: int = 50, width: int = 64
) -> nn.Sequential:
    """depth x [Linear -> normalization -> activation], then a Linear read-out
    to one number."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width)  # PyTorch's default init
        if norm.startswith("weight_norm"):
            linear = weight_norm(
                linear
            )  # w = g * v / ||v||, g initialised to ||v||
            if norm == "weight_norm_g1":
                nn.init.ones_(linear.parametrizations.weight.original0)
        layers.append(linear)
        if norm in ("batch_norm", "layer_norm", "rms_norm"):
            layers.append(
                {
                    "batch_norm": nn.BatchNorm1d,
                    "layer_norm": nn.LayerNorm,
                    "rms_norm": nn.RMSNorm,
                }[norm](width)
            )
        layers.append(activation())
    return nn.Sequential(*layers, nn.Linear(width, 1))


def per_layer_grad_norms(
    model: nn.Sequential, x: torch.Tensor, y: torch.Tensor
) -> list[float]:
    """Frobenius norm of dL/dW for each hidden Linear (for weight norm: dL/dv),
    input first."""
    model.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    hidden = [m for m in model if isinstance(m, nn.Linear)][:-1]
    weights = [
        m.parametrizations.weight.original1
        if hasattr(m, "parametrizations")
        else m.weight
        for m in hidden
    ]
    return [
        w.grad.double().norm().item() for w in weights
    ]  # float64 avoids underflow
# --8<-- [end:model]


def main() -> None:
    fig, axes = plt.subplots(
        1, 2, figsize=(10, 4.2), layout="constrained", sharey=True
    )
    markers = ["o", "s", "^", "v", "D", "x"]
    styles = ["-", "-", "--", ":", "-.", "-"]
    runs = {}
    for ax, activation in zip(axes, [nn.Tanh, nn.ReLU], strict=True):
        for i, norm in enumerate(NORMS):
            torch.manual_seed(0)
            model = deep_mlp(norm, activation)
            x, y = torch.randn(128, 64), torch.randn(128, 1)
            grads = per_layer_grad_norms(model, x, y)
            runs[norm, activation.__name__] = grads
            ax.semilogy(
                range(1, len(grads) + 1),
                grads,
                marker=markers[i],
                markevery=(i, 7),
                linestyle=styles[i],
                label=LABELS[norm],
            )
        ax.set_title(f"{activation.__name__}, PyTorch default init")
        ax.set_xlabel("layer l (1 = next to the input)")
    axes[0].set_ylabel(r"$\|\partial L / \partial W_l\|_F$")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle("Gradient norm per layer at initialisation, 50-layer MLP")
    print(
        "||dL/dW|| at layer 1 / at layer 50, 50 layers of width 64, batch 128:"
    )
    print(f"  {'':<34} {'Tanh':>8}   {'ReLU':>8}")
    for norm in NORMS:
        ratios = [
            runs[norm, act][0] / runs[norm, act][-1] for act in ("Tanh", "ReLU")
        ]
        print(f"  {LABELS[norm]:<34} {ratios[0]:.2e}   {ratios[1]:.2e}")
    # Mean field for LayerNorm + tanh: one layer toward the input multiplies the
    # gradient by sqrt(E[tanh'(u)^2] / E[tanh(u)^2] * (D - 2) / D), u ~ N(0, 1),
    # D = 64.
    u = torch.linspace(-12, 12, 240_001, dtype=torch.float64)
    density = torch.exp(-(u**2) / 2)
    ratio = float(
        ((1 - torch.tanh(u) ** 2) ** 2 * density).sum()
        / (torch.tanh(u) ** 2 * density).sum()
    )
    ln_tanh = runs["layer_norm", "Tanh"]
    # layers 2..50
    measured = (ln_tanh[1] / ln_tanh[-1]) ** (1 / (len(ln_tanh) - 2))
    print(
        f"LayerNorm+tanh: E[tanh'(u)^2] / E[tanh(u)^2] = {ratio:.3f} "
        "for u ~ N(0, 1)"
    )
    predicted = (ratio * 62 / 64) ** 0.5
    print(
        f"  gain per layer toward the input: predicted {predicted:.3f}, "
        f"measured {measured:.3f}"
    )
    plt.show()


if __name__ == "__main__":
    main()
