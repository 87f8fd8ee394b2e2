"""Per-layer gradient norm, 30 layers: sigmoid, ReLU + He, LN + residual."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn


# --8<-- [start:models]
def sigmoid_mlp(depth: int, width: int) -> nn.Sequential:
    """Plain Linear -> sigmoid stack, Xavier-normal weights (the init meant for
    sigmoid/tanh)."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        nn.init.xavier_normal_(linear.weight)
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(width, 1))


def relu_he_mlp(depth: int, width: int) -> nn.Sequential:
    """Plain Linear -> ReLU stack with He (Kaiming) normal weights, std sqrt(2 /
    n_in)."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, 1))


class PreLNResidualBlock(nn.Module):
    """x + W relu(LayerNorm(x)): the identity path carries the gradient past the
    branch."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.linear = nn.Linear(width, width)
        nn.init.kaiming_normal_(self.linear.weight, nonlinearity="relu")
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.linear(torch.relu(self.norm(x)))


def residual_ln_net(depth: int, width: int) -> nn.Sequential:
    return nn.Sequential(
        *[PreLNResidualBlock(width) for _ in range(depth)], nn.Linear(width, 1)
    )
# --8<-- [end:models]


# --8<-- [start:norms]
def per_layer_grad_norms(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> list[float]:
    """||dL/dW_l|| (Frobenius) for every hidden Linear layer, input side first;
    L = MSE."""
    model.zero_grad(set_to_none=True)
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    hidden = [m for m in model.modules() if isinstance(m, nn.Linear)][
        :-1
    ]  # drop the output head
    return [
        float(m.weight.grad.double().norm()) for m in hidden
    ]  # float64: no underflow
# --8<-- [end:norms]


def main() -> None:
    torch.manual_seed(0)
    depth, width, batch = 30, 64, 128
    x = torch.randn(batch, width)
    y = torch.randn(batch, 1)
    builders = {
        "sigmoid, Xavier init": sigmoid_mlp,
        "ReLU, He init": relu_he_mlp,
        "LayerNorm + residual": residual_ln_net,
    }
    results = {}
    for name, build in builders.items():
        torch.manual_seed(1)
        results[name] = per_layer_grad_norms(build(depth, width), x, y)

    print(
        f"{depth} hidden layers of width {width}, batch {batch}, MSE loss, "
        "at initialisation"
    )
    print(
        f"{'network':22s} {'layer 1':>10s} {'layer 30':>10s} "
        f"{'ratio 1/30':>11s} {'max/min':>9s}"
    )
    for name, norms in results.items():
        print(
            f"{name:22s} {norms[0]:10.3e} {norms[-1]:10.3e} "
            f"{norms[0] / norms[-1]:11.3e} {max(norms) / min(norms):9.3g}"
        )
    print(f"0.25^{depth - 1} = {0.25 ** (depth - 1):.3e}")

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    layers = range(1, depth + 1)
    for (name, norms), style in zip(
        results.items(), ["C0o-", "C1s--", "C2^-."], strict=True
    ):
        ax.semilogy(layers, norms, style, markersize=4, label=name)
    ax.set(
        title=(
            f"Gradient norm per layer at init ({depth} layers, width {width})"
        ),
        xlabel="layer $l$ (1 = next to the input)",
        ylabel=r"$\|\partial L / \partial W_l\|_F$ (log)",
    )
    ax.legend()
    plt.show()


if __name__ == "__main__":
    main()
