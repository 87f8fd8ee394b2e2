"""The order backward, clip, step, zero_grad, and what wrong orders do."""

from __future__ import annotations

import torch
from torch import nn

ORDERS = {
    "backward, clip, step, zero_grad (correct)": [
        "backward",
        "clip",
        "step",
        "zero_grad",
    ],
    "backward, step, clip, zero_grad": [
        "backward",
        "step",
        "clip",
        "zero_grad",
    ],
    "clip, backward, step, zero_grad": [
        "clip",
        "backward",
        "step",
        "zero_grad",
    ],
    "backward, zero_grad, clip, step": [
        "backward",
        "zero_grad",
        "clip",
        "step",
    ],
    "backward, clip, step (no zero_grad)": ["backward", "clip", "step"],
}


# --8<-- [start:step]
def training_step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    order: list[str],
    max_norm: float,
) -> float:
    """Run the named operations in the given order; return the norm
    clip_grad_norm_ saw."""
    seen = float("nan")
    for op in order:
        if op == "backward":
            nn.functional.mse_loss(model(x), y).backward()
        elif op == "clip":
            seen = nn.utils.clip_grad_norm_(model.parameters(), max_norm).item()
        elif op == "step":
            opt.step()
        elif op == "zero_grad":
            opt.zero_grad()
    return seen
# --8<-- [end:step]


def flat_params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def update_norms(
    order: list[str],
    steps: int = 3,
    lr: float = 0.1,
    max_norm: float = 1.0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[list[float], list[float]]:
    """|theta_{t+1} - theta_t| and the clip-reported norm for a few steps on one
    outlier batch."""
    torch.manual_seed(0)
    model = nn.Linear(8, 1).to(device, dtype)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x = torch.randn(16, 8, device=device, dtype=dtype)
    y = torch.randn(16, 1, device=device, dtype=dtype)
    x[0] *= 30.0  # one outlier row makes the gradient large
    updates, seen = [], []
    for _ in range(steps):
        before = flat_params(model)
        seen.append(training_step(model, opt, x, y, order, max_norm))
        updates.append((flat_params(model) - before).norm().item())
    return updates, seen


def main() -> None:
    torch.manual_seed(0)
    lr, max_norm = 0.1, 1.0
    print(
        f"SGD lr = {lr}, max_norm = {max_norm}: "
        "a clipped step moves the weights"
    )
    print(f"by at most lr * max_norm = {lr * max_norm:.4g}")
    runs = {
        name: update_norms(order, lr=lr, max_norm=max_norm)
        for name, order in ORDERS.items()
    }
    titles = ("|theta_t+1 - theta_t| at t =", "norm seen by clip at t =")
    for column, title in enumerate(titles):
        print(f"{title:44s}1         2         3")
        for name, values in runs.items():
            cells = "".join(f"{v:<10.4g}" for v in values[column])
            print(f"{name:44s}{cells}".rstrip())


if __name__ == "__main__":
    main()
