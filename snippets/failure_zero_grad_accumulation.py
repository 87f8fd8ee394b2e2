"""Failure case: zero_grad() inside a gradient-accumulation loop keeps only the last micro-batch."""

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn


# --8<-- [start:loops]
def accumulate(model: nn.Module, x: Tensor, y: Tensor, micro: int, zero_inside: bool) -> Tensor:
    """The gradient left in .grad after one accumulation cycle over `micro` micro-batches."""
    model.zero_grad()  # correct place: once per cycle
    for xb, yb in zip(x.chunk(micro), y.chunk(micro), strict=True):
        if zero_inside:
            model.zero_grad()  # the bug: wipes what earlier micro-batches accumulated
        loss = nn.functional.mse_loss(model(xb), yb) / micro  # mean over the whole batch
        loss.backward()
    return flat_grad(model)
# --8<-- [end:loops]


def flat_grad(model: nn.Module) -> Tensor:
    """All parameter gradients concatenated into one vector."""
    return torch.cat([p.grad.flatten() for p in model.parameters()])


# --8<-- [start:detect]
def full_batch_grad(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Detection: the reference an accumulation cycle must reproduce."""
    model.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    return flat_grad(model)
# --8<-- [end:detect]


def train(x: Tensor, y: Tensor, micro: int, zero_inside: bool, steps: int, lr: float,
          seed: int = 0) -> list[float]:
    """SGD with one accumulation cycle per step; full-batch loss before each step."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(x.shape[1], 32), nn.Tanh(), nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        with torch.no_grad():
            losses.append(nn.functional.mse_loss(model(x), y).item())
        accumulate(model, x, y, micro, zero_inside)
        optimizer.step()
    return losses


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = torch.sin(x[:, :1]) + 0.5 * x[:, 1:2]
    micro = 4
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
    reference = full_batch_grad(model, x, y)
    for zero_inside in (True, False):
        g = accumulate(model, x, y, micro, zero_inside)
        cos = nn.functional.cosine_similarity(g, reference, dim=0).item()
        same = torch.allclose(g, reference, atol=1e-6)
        name = "zero_grad inside loop" if zero_inside else "zero_grad once/cycle"
        print(f"{name:<22} |g|/|g_full| = {(g.norm() / reference.norm()).item():.4f}, "
              f"cosine {cos:.4f}, equals full-batch gradient: {same}")

    runs = {"full batch, no accumulation": train(x, y, 1, False, 150, 0.1),
            "accumulation, zero_grad once per cycle": train(x, y, micro, False, 150, 0.1),
            "accumulation, zero_grad inside loop": train(x, y, micro, True, 150, 0.1)}
    for name, losses in runs.items():
        print(f"{name:<39} loss after 150 steps {losses[-1]:.4f}")
    start = runs["full batch, no accumulation"][0]
    print(f"full-batch MSE before training {start:.4f}")

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for (name, losses), style in zip(runs.items(), ["-", "--", ":"], strict=True):
        ax.plot(losses, linestyle=style, linewidth=2 if style == "-" else 1.5, label=name)
    ax.set(title=f"Gradient accumulation over {micro} micro-batches (SGD, lr 0.1)",
           xlabel="optimizer step", ylabel="full-batch MSE", yscale="log")
    ax.legend()
    plt.show()


if __name__ == "__main__":
    main()
