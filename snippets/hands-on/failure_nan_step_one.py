"""Failure case: NaN within the first steps, from too large an init or lr."""

import math

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn


def first_nonfinite(values: list[float]) -> int | None:
    """Step number (counting from 1) of the first inf/NaN value, or None."""
    return next(
        (i for i, v in enumerate(values, start=1) if not math.isfinite(v)), None
    )


# --8<-- [start:model]
def relu_mlp(
    init_std: float | None, depth: int = 6, width: int = 64
) -> nn.Sequential:
    """ReLU MLP; init_std=None keeps PyTorch's default init, a number draws W ~
    N(0, std^2)."""
    layers: list[nn.Module] = []
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(width, 1))
    if init_std is not None:
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=init_std)
    return model
# --8<-- [end:model]


# --8<-- [start:detect]
def first_steps(
    model: nn.Module, x: Tensor, y: Tensor, steps: int, lr: float
) -> tuple[list[float], list[float]]:
    """Detection: log the loss and the pre-step gradient norm from step 1 on."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses, norms = [], []
    for _ in range(steps):
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        norms.append(
            nn.utils.clip_grad_norm_(model.parameters(), math.inf).item()
        )
        optimizer.step()
        losses.append(loss.item())
    return losses, norms
# --8<-- [end:detect]


def main() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(128, 64), torch.randn(128, 1)  # N = 128, D = 64
    settings = {
        "W ~ N(0, 1), lr 0.01": (1.0, 0.01),
        "default init, lr 3": (None, 3.0),
        "default init, lr 0.01": (None, 0.01),
    }
    runs = {}
    print(f"{'':<22} step-1 loss  step-1 grad norm  non-finite loss at step")
    for label, (std, lr) in settings.items():
        torch.manual_seed(0)
        runs[label] = first_steps(relu_mlp(std), x, y, steps=10, lr=lr)
        losses, norms = runs[label]
        print(
            f"{label:<22} {losses[0]:<12.3e} {norms[0]:<17.3e} "
            f"{first_nonfinite(losses)}"
        )

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for (label, (losses, norms)), marker in zip(
        runs.items(), ["o", "s", "^"], strict=True
    ):
        steps = range(1, len(losses) + 1)
        ax1.plot(steps, losses, marker=marker, label=label)
        ax2.plot(steps, norms, marker=marker, label=label)
    ax1.set(
        title="Loss",
        xlabel="step",
        ylabel="MSE (inf and NaN are not drawn)",
        yscale="log",
    )
    ax2.set(
        title="Gradient norm before each step",
        xlabel="step",
        ylabel=r"$\|g\|_2$",
        yscale="log",
    )
    ax1.legend(fontsize="small")
    ax2.legend(fontsize="small")
    fig.suptitle(
        "6-layer ReLU MLP, width 64, SGD: where the first NaN comes from"
    )
    plt.show()


if __name__ == "__main__":
    main()
