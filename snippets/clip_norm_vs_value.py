"""Clipping by global norm keeps the gradient's direction; clipping by value bends it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn


# --8<-- [start:clip]
def clip_by_norm(g: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Scale the whole vector g by one factor so that its L2 norm is at most max_norm."""
    coef = torch.clamp(max_norm / (g.norm() + 1e-6), max=1.0)
    return g * coef


def clip_by_value(g: torch.Tensor, clip_value: float) -> torch.Tensor:
    """Clamp every element of g to [-clip_value, clip_value] on its own."""
    return g.clamp(-clip_value, clip_value)


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a.flatten() @ b.flatten() / (a.norm() * b.norm()))
# --8<-- [end:clip]


def model_gradient(seed: int = 0, device: torch.device | str = "cpu") -> torch.Tensor:
    """All parameter gradients of a small MLP on one batch, flattened: shape (4225,)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 32), nn.Tanh(),
                          nn.Linear(32, 1)).to(device)
    x = torch.randn(128, 32, generator=gen).to(device)
    y = (x[:, :4].sum(dim=1, keepdim=True) ** 2).to(device)
    nn.functional.mse_loss(model(x), y).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def main() -> None:
    torch.manual_seed(0)
    g = torch.tensor([4.0, 0.5])
    by_norm, by_value = clip_by_norm(g, 1.0), clip_by_value(g, 1.0)
    print(f"g = ({g[0]:.4g}, {g[1]:.4g}), |g| = {g.norm():.4g}")
    for name, c in (("by norm, max_norm=1  ", by_norm), ("by value, clip_value=1", by_value)):
        print(f"{name}: ({c[0]:.4f}, {c[1]:.4f}), |clipped| = {c.norm():.4f}, "
              f"cosine with g = {cosine_similarity(g, c):.4f}")

    grad = model_gradient()
    abs_g = grad.abs()
    print(f"\nMLP gradient: {grad.numel()} elements, |g| = {grad.norm():.4g}, "
          f"max |g_i| = {abs_g.max():.3e}, median |g_i| = {abs_g.median():.3e}")
    print("clip_value = quantile of |g_i|   elements clipped   cosine(g, clipped)")
    for q in (0.99, 0.9, 0.5, 0.1):
        c = float(torch.quantile(abs_g, q))
        clipped = clip_by_value(grad, c)
        frac = (abs_g > c).float().mean()
        print(f"  {q:4.2f} quantile = {c:.3e}        {frac:6.1%}            "
              f"{cosine_similarity(grad, clipped):.4f}")
    sign_limit = abs_g.sum() / (grad.numel() ** 0.5 * grad.norm())
    print(f"limit clip_value -> 0 (sign of g): cosine = |g|_1 / (sqrt(n) |g|_2) = {sign_limit:.4f}")
    cos_by_norm = cosine_similarity(grad, clip_by_norm(grad, 1e-3))
    print(f"by norm, any max_norm: cosine = {cos_by_norm:.4f}")

    ratios = torch.logspace(-4, 0, 60)
    cos_value = [cosine_similarity(grad, clip_by_value(grad, float(r * abs_g.max())))
                 for r in ratios]
    cos_norm = [cosine_similarity(grad, clip_by_norm(grad, float(r * grad.norm())))
                for r in ratios]
    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.plot(ratios, cos_norm, "-", label=r"by norm: max_norm $= r\,\|g\|_2$")
    ax.plot(ratios, cos_value, "--", label=r"by value: clip_value $= r\,\max_i |g_i|$")
    ax.axhline(float(sign_limit), color="C2", linestyle=":", label="sign(g) limit")
    ax.set(xscale="log", xlabel="threshold as a fraction $r$ of the gradient's size",
           ylabel=r"cosine$(g, \mathrm{clip}(g))$", ylim=(0, 1.05),
           title=f"Direction kept after clipping an MLP gradient ({grad.numel()} elements)")
    ax.legend()
    plt.show()


if __name__ == "__main__":
    main()
