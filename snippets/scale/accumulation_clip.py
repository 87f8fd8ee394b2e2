"""Clip once per optimizer step, on the accumulated gradient."""

from __future__ import annotations

import torch
from torch import nn

M, MAX_NORM, LR = 4, 1.0, 0.1


def make_problem() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Linear(8, 1).double()
    x = torch.randn(32, 8, dtype=torch.float64)
    y = torch.randn(32, 1, dtype=torch.float64)
    x[5] *= 20.0  # one outlier row: clipping is active
    return model, x, y


def params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


# --8<-- [start:step]
def accumulation_step(model, x, y, m: int, clip: str) -> torch.Tensor:
    """One SGD step from m micro-batches; returns the weight update.
    clip: 'once' (after the last backward), 'every backward' (on the
    running .grad) or 'each micro-batch' (on its own gradient)."""
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    opt.zero_grad()
    before = params(model)
    kept = [torch.zeros_like(p) for p in model.parameters()]
    for xb, yb in zip(x.chunk(m), y.chunk(m), strict=True):
        loss = nn.functional.mse_loss(model(xb), yb) / m
        loss.backward()
        if clip == "every backward":
            nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        elif clip == "each micro-batch":
            nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
            for k, p in zip(kept, model.parameters(), strict=True):
                k += p.grad
            opt.zero_grad()
    if clip == "each micro-batch":
        for k, p in zip(kept, model.parameters(), strict=True):
            p.grad = k
    if clip == "once":
        nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    opt.step()
    return params(model) - before
# --8<-- [end:step]


def full_batch_update(model, x, y) -> torch.Tensor:
    """The reference: one clipped SGD step on the whole batch."""
    return accumulation_step(model, x, y, 1, "once")


def main() -> None:
    torch.manual_seed(0)
    model, x, y = make_problem()
    ref = full_batch_update(model, x, y)
    print(f"M = {M}, max_norm = {MAX_NORM}, SGD lr = {LR}")
    print(f"full-batch clipped update |u| = {ref.norm().item():.4g}")
    print("clip where            |u|      |u - u_full| / |u_full|")
    for clip in ("once", "every backward", "each micro-batch"):
        model, x, y = make_problem()
        u = accumulation_step(model, x, y, M, clip)
        err = ((u - ref).norm() / ref.norm()).item()
        # a rounding-level error prints as a bound: its last bits vary by CPU
        shown = "< 1e-12" if err < 1e-12 else f"{err:.2g}"
        print(f"{clip:20s}  {u.norm().item():<7.4g}  {shown}")


if __name__ == "__main__":
    main()
