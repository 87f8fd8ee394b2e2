"""Dying ReLU: one large step kills units for good; Leaky ReLU units recover."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn


class MeanReadoutNet(nn.Module):
    """y_hat = mean_j f(w_j . x + b_j): one hidden layer read out by a fixed
    average."""

    def __init__(self, n_in: int, hidden: int, activation: nn.Module) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_in, hidden)
        self.act = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.hidden(x)).mean(dim=1, keepdim=True)


def teacher_data(n: int, n_in: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-negative inputs (like pixels or a previous ReLU's output) and a small
    ReLU teacher."""
    x = torch.rand(n, n_in)
    w, b = torch.randn(8, n_in), -2 * torch.rand(8)
    return x, torch.relu(x @ w.T + b).mean(dim=1, keepdim=True)


# --8<-- [start:dead]
def dead_mask(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """Units whose pre-activation is <= 0 for every row of x: ReLU passes them
    no gradient."""
    with torch.no_grad():
        return (layer(x) <= 0).all(dim=0)


def dead_fraction(layer: nn.Linear, x: torch.Tensor) -> float:
    return float(dead_mask(layer, x).float().mean())
# --8<-- [end:dead]


def mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((model(x) - y) ** 2).mean()


# --8<-- [start:step]
def large_step(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float
) -> None:
    """One plain gradient step, in place (a learning-rate spike or a bad
    batch)."""
    model.zero_grad()
    mse(model, x, y).backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad


def train(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float
) -> tuple[list[float], list[float]]:
    """Full-batch Adam with fresh state; the dead fraction and the loss after
    every step."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    dead, losses = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = mse(model, x, y)
        loss.backward()
        opt.step()
        dead.append(dead_fraction(model.hidden, x))
        losses.append(float(loss.detach()))
    return dead, losses
# --8<-- [end:step]


def experiment(
    activation: nn.Module, x: torch.Tensor, y: torch.Tensor, hidden: int = 64
) -> dict:
    """Pretrain 300 steps, one large step on a bad batch, 1000 more steps;
    record what died."""
    torch.manual_seed(1)
    model = MeanReadoutNet(x.shape[1], hidden, activation).to(x.device)
    dead_a, loss_a = train(model, x, y, steps=300, lr=3e-3)
    large_step(
        model, x[:64], y[:64] - 3.0, lr=4.0
    )  # a batch whose targets are 3 too low
    killed = dead_mask(model.hidden, x)
    model.zero_grad()
    mse(model, x, y).backward()
    grad_dead = (
        model.hidden.weight.grad[killed].abs().max()
        if killed.any()
        else torch.zeros(())
    )
    dead_b, loss_b = train(model, x, y, steps=1000, lr=1e-2)
    still = dead_mask(model.hidden, x)
    return {
        "dead": dead_a + dead_b,
        "loss": loss_a + loss_b,
        "killed": killed,
        "still": still,
        "grad_dead": float(grad_dead),
    }


def main() -> None:
    torch.manual_seed(0)
    n, n_in, hidden = 512, 8, 64
    x, y = teacher_data(n, n_in)
    history = {}
    print(
        f"{hidden} hidden units, {n} inputs; "
        f"dead = pre-activation <= 0 for all {n} inputs"
    )
    for name, act in [
        ("ReLU", nn.ReLU()),
        ("Leaky ReLU (0.01)", nn.LeakyReLU(0.01)),
    ]:
        run = history[name] = experiment(act, x, y, hidden)
        killed, dead = run["killed"], run["dead"]
        back = int((killed & ~run["still"]).sum())
        after = float(killed.float().mean())
        print(
            f"{name}: dead {dead[299]:.1%} before the step, "
            f"{after:.1%} after, {dead[-1]:.1%} at the end"
        )
        print(
            f"  {name}, right after the step: max |dL/dw| of dead units "
            f"{run['grad_dead']:.3g}"
        )
        print(
            f"  {name}, dead units back to life: {back} of "
            f"{int(killed.sum())}; final loss {run['loss'][-1]:.3e}"
        )

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for (name, run), style in zip(
        history.items(), ["C3-", "C0--"], strict=True
    ):
        dead, losses = run["dead"], run["loss"]
        ax1.plot(
            range(1, len(dead) + 1), [100 * d for d in dead], style, label=name
        )
        ax2.semilogy(range(1, len(losses) + 1), losses, style, label=name)
    for ax in (ax1, ax2):
        ax.axvline(300.5, color="C1", linestyle=":", label="large step")
        ax.set_xlabel("training step")
        ax.legend()
    ax1.set(title="Units dead for every input", ylabel="dead units (%)")
    ax2.set(title="Training loss", ylabel="MSE (log)")
    fig.suptitle("One large step, then ordinary training")
    plt.show()


if __name__ == "__main__":
    main()
