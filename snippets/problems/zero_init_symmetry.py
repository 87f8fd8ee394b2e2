"""Why constant init fails: all hidden units get the same gradient, forever."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn


def mlp(n_in: int, hidden: int, activation: nn.Module) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, hidden), activation, nn.Linear(hidden, 1)
    )


def fill_(model: nn.Module, value: float) -> nn.Module:
    """Set every weight and bias to `value` (value = 0 is zero init)."""
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)
    return model


# --8<-- [start:spread]
def unit_parameters(model: nn.Sequential) -> torch.Tensor:
    """One row per hidden unit j: incoming weights W1[j], bias b1[j], outgoing
    weight W2[0, j]."""
    first, last = model[0], model[2]
    return torch.cat(
        [first.weight, first.bias[:, None], last.weight.T], dim=1
    ).detach()


def unit_spread(rows: torch.Tensor) -> float:
    """Largest difference between a hidden unit's row and unit 0's: 0 means all
    units are equal."""
    return float((rows - rows[0]).abs().max())
# --8<-- [end:spread]


def unit_gradients(
    model: nn.Sequential, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """The gradient of the MSE loss, arranged like unit_parameters (one row per
    hidden unit)."""
    model.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    first, last = model[0], model[2]
    return torch.cat(
        [first.weight.grad, first.bias.grad[:, None], last.weight.grad.T], dim=1
    )


def train(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float
) -> list[float]:
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def main() -> None:
    torch.manual_seed(0)
    x = torch.rand(256, 2) * 4 - 2
    y = torch.sin(2 * x[:, :1]) * torch.cos(
        x[:, 1:]
    )  # needs several distinct hidden units
    hidden = 8
    inits = {"zero init": 0.0, "constant 0.5": 0.5, "random (default)": None}
    curves = {}
    print("step-0 gradient of unit j: dL/dW1[j, :], dL/db1[j], dL/dW2[0, j]")
    for name, value in inits.items():
        torch.manual_seed(1)
        model = mlp(2, hidden, nn.Tanh())
        if value is not None:
            fill_(model, value)
        grads = unit_gradients(model, x, y)
        print(f"{name}: step-0 gradient of units 0 and 1")
        for j in (0, 1):
            row = " ".join(f"{v + 0.0:+.4f}" for v in grads[j].tolist())
            print(f"    {name}, unit {j}: {row}")
        curves[name] = train(model, x, y, steps=2000, lr=0.1)
        spread = unit_spread(unit_parameters(model))
        print(
            f"  {name}, after 2000 SGD steps: unit spread {spread:.3g}, "
            f"loss {curves[name][-1]:.4f}"
        )

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for (name, losses), style in zip(
        curves.items(), ["C3-", "C1--", "C0-."], strict=True
    ):
        ax.semilogy(range(1, len(losses) + 1), losses, style, label=name)
    ax.set(
        title=f"2-{hidden}-1 tanh MLP trained with SGD from three inits",
        xlabel="step",
        ylabel="MSE loss (log)",
    )
    ax.legend()
    plt.show()


if __name__ == "__main__":
    main()
