"""Failure case: a deep tanh/sigmoid MLP at default init loses its gradient."""

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


# --8<-- [start:model]
def deep_mlp(
    act: str, init: str, depth: int = 20, width: int = 64
) -> nn.Sequential:
    """depth x (Linear, act) then a Linear head; init is 'default', 'xavier' or
    'kaiming'."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        if init == "xavier":  # the fix for tanh: Xavier with gain 5/3
            nn.init.xavier_uniform_(
                linear.weight, gain=nn.init.calculate_gain(act)
            )
            nn.init.zeros_(linear.bias)
        elif init == "kaiming":  # the fix for ReLU: He
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        layers += [linear, ACTIVATIONS[act]()]
    return nn.Sequential(*layers, nn.Linear(width, 1))
# --8<-- [end:model]


# --8<-- [start:detect]
def weight_grad_norms(
    model: nn.Sequential, x: Tensor, y: Tensor
) -> list[float]:
    """Detection: |dL/dW| for each hidden Linear, input side first."""
    model.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    return [
        m.weight.grad.norm().item()
        for m in list(model)[:-1]
        if isinstance(m, nn.Linear)
    ]
# --8<-- [end:detect]


def train_losses(
    model: nn.Module, x: Tensor, y: Tensor, steps: int, lr: float
) -> list[float]:
    """Full-batch SGD; the loss before each step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def teacher_data(n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """x ~ N(0, I_64) and y = tanh(x w) for a fixed random w ~ N(0, I/64)."""
    x = torch.randn(n, 64, generator=gen)
    w = torch.randn(64, 1, generator=gen) / 8
    return x, torch.tanh(x @ w)


def main() -> None:
    torch.manual_seed(0)
    x, y = teacher_data(256, torch.Generator().manual_seed(0))
    configs = [
        ("sigmoid", "default"),
        ("sigmoid", "xavier"),
        ("tanh", "default"),
        ("tanh", "xavier"),
        ("relu", "default"),
        ("relu", "kaiming"),
    ]
    profiles, curves = {}, {}
    for act, init in configs:
        torch.manual_seed(0)
        model = deep_mlp(act, init)
        profiles[act, init] = weight_grad_norms(model, x, y)
        if (act, init) in [
            ("sigmoid", "xavier"),
            ("tanh", "default"),
            ("tanh", "xavier"),
            ("relu", "kaiming"),
        ]:
            curves[act, init] = train_losses(model, x, y, steps=300, lr=0.05)
    print(f"variance of the targets: {y.var(unbiased=False).item():.4f}")
    print(f"{'':<16} |dL/dW1| / |dL/dW20|   loss after 300 SGD steps")
    for (act, init), norms in profiles.items():
        line = f"{act:<8}{init:<8} {norms[0] / norms[-1]:<22.2e}"
        if (act, init) in curves:
            line += f" {curves[act, init][-1]:.4f}"
        print(line.rstrip())

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    markers = ["o", "s", "^", "v", "D", "x"]
    for i, ((act, init), norms) in enumerate(profiles.items()):
        ax1.plot(
            range(1, len(norms) + 1),
            norms,
            marker=markers[i],
            markersize=4,
            color=f"C{i}",
            label=f"{act}, {init} init",
        )
    ax1.set(
        title="Weight-gradient norm per layer at initialisation",
        xlabel="layer l",
        ylabel=r"$\|\partial L / \partial W_l\|$",
        yscale="log",
    )
    ax1.set_xticks([1, 5, 10, 15, 20])
    ax1.legend(fontsize="small")
    styles = ["-", "--", "-.", ":"]
    for j, ((act, init), losses) in enumerate(curves.items()):
        i = configs.index((act, init))
        ax2.plot(
            losses,
            color=f"C{i}",
            linestyle=styles[j],
            label=f"{act}, {init} init",
        )
    ax2.set(
        title="Training loss (full-batch SGD, lr 0.05)",
        xlabel="step",
        ylabel="MSE",
        yscale="log",
    )
    ax2.legend(fontsize="small")
    fig.suptitle(
        "20-layer MLP, width 64: default init vs Xavier (tanh) and He (ReLU)"
    )
    plt.show()


if __name__ == "__main__":
    main()
