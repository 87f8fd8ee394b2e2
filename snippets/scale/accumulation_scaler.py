"""GradScaler with gradient accumulation: unscale, clip and step once."""

from __future__ import annotations

import torch
from torch import nn

M, MAX_NORM, LR = 4, 1.0, 0.1
SCALE = 2.0**16  # GradScaler's default initial scale


def make_problem() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    x = torch.randn(32, 8)
    y = torch.randn(32, 1)
    x[5] *= 20.0  # one outlier row: clipping is active
    return model, x, y


def params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def grads(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters()])


# --8<-- [start:scaler]
def scaled_step(model, x, y, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One step with GradScaler; returns (unscaled grad, weight update)."""
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    scaler = torch.amp.GradScaler("cpu", init_scale=SCALE)
    opt.zero_grad()
    before = params(model)
    for xb, yb in zip(x.chunk(m), y.chunk(m), strict=True):
        loss = nn.functional.mse_loss(model(xb), yb)
        scaler.scale(loss / m).backward()  # .grad holds SCALE * sum
    scaler.unscale_(opt)  # once, after the last micro-batch
    nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    g = grads(model)
    scaler.step(opt)  # skipped if an inf or nan was found
    scaler.update()
    return g, params(model) - before
# --8<-- [end:scaler]


def plain_step(model, x, y, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The same step without a scaler (m = 1 is the full batch)."""
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    opt.zero_grad()
    before = params(model)
    for xb, yb in zip(x.chunk(m), y.chunk(m), strict=True):
        (nn.functional.mse_loss(model(xb), yb) / m).backward()
    nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    g = grads(model)
    opt.step()
    return g, params(model) - before


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def main() -> None:
    torch.manual_seed(0)
    g_full, u_full = plain_step(*make_problem(), 1)
    g_acc, u_acc = plain_step(*make_problem(), M)
    g_amp, u_amp = scaled_step(*make_problem(), M)
    print(f"float32, M = {M}, GradScaler scale = 2^16, max_norm = {MAX_NORM}")
    print(f"scaler vs plain accumulation, max |grad diff|: "
          f"{(g_amp - g_acc).abs().max().item():.3g}")
    print(f"scaler vs plain accumulation, max |update diff|: "
          f"{(u_amp - u_acc).abs().max().item():.3g}")
    # float32 rounding differs by CPU kernel, so print a bound in epsilons
    eps = torch.finfo(torch.float32).eps
    print(f"float32 machine epsilon eps = {eps:.3g}")
    print(f"scaler vs full batch, relative grad error < 10 eps: "
          f"{rel(g_amp, g_full) < 10 * eps}")
    print(f"scaler vs full batch, relative update error < 10 eps: "
          f"{rel(u_amp, u_full) < 10 * eps}")


if __name__ == "__main__":
    main()
