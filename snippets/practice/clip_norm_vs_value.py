"""Clipping by global norm keeps the gradient's direction; by value bends it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn


# --8<-- [start:clip]
def clip_by_norm(g: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Scale the whole vector g by one factor so that |g| <= max_norm."""
    coef = torch.clamp(max_norm / (g.norm() + 1e-6), max=1.0)
    return g * coef


def clip_by_value(g: torch.Tensor, clip_value: float) -> torch.Tensor:
    """Clamp every element of g to [-clip_value, clip_value] on its own."""
    return g.clamp(-clip_value, clip_value)


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a.flatten() @ b.flatten() / (a.norm() * b.norm()))
# --8<-- [end:clip]


def sign_limit(g: torch.Tensor) -> float:
    """cosine(g, sign(g)) = |g|_1 / (sqrt(k) |g|_2), k = nonzero elements."""
    k = int(torch.count_nonzero(g))
    return float(g.abs().sum() / (k**0.5 * g.norm()))


def make_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """x (128, 32) standard normal; y = (x1 + x2 + x3 + x4)^2, mean about 4."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(128, 32, generator=gen)
    return x, x[:, :4].sum(dim=1, keepdim=True) ** 2


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(32, 64),
        nn.Tanh(),
        nn.Linear(64, 32),
        nn.Tanh(),
        nn.Linear(32, 1),
    )


def model_gradient(
    seed: int = 0, device: torch.device | str = "cpu", centre: bool = False
) -> torch.Tensor:
    """All gradients of a fresh MLP on one batch, flat: shape (4225,).

    centre=True subtracts the batch mean from the targets first. The last
    element is the output layer's bias."""
    x, y = make_batch(seed)
    if centre:
        y = y - y.mean()
    model = make_model(seed).to(device)
    nn.functional.mse_loss(model(x.to(device)), y.to(device)).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def main() -> None:
    torch.manual_seed(0)
    g = torch.tensor([4.0, 0.5])
    by_norm, by_value = clip_by_norm(g, 1.0), clip_by_value(g, 1.0)
    print(f"g = ({g[0]:.4g}, {g[1]:.4g}), |g| = {g.norm():.4g}")
    for name, c in (
        ("by norm, max_norm=1  ", by_norm),
        ("by value, clip_value=1", by_value),
    ):
        print(
            f"{name}: ({c[0]:.4f}, {c[1]:.4f}), |clipped| = {c.norm():.4f}, "
            f"cosine = {cosine_similarity(g, c):.4f}"
        )
    p = nn.Parameter(torch.zeros(2))
    p.grad = g.clone()
    nn.utils.clip_grad_value_([p], 1.0)
    print(
        f"torch.nn.utils.clip_grad_value_ gives the same: "
        f"{torch.equal(p.grad, by_value)}"
    )

    x, y = make_batch()
    with torch.no_grad():
        mean_out = float(make_model()(x).mean())
    grads = {"raw": model_gradient(), "centred": model_gradient(centre=True)}
    raw, cen = grads.values()
    n = raw.numel()

    def row(label: str, a: str, b: str) -> None:
        print(f"  {label:30s} {a:>11s}   {b:>15s}")

    print(f"\nMLP gradient at initialisation, {n} elements")
    row("", "raw targets", "centred targets")
    row(
        "mean of the targets y",
        f"{float(y.mean()):.3f}",
        f"{round(float((y - y.mean()).mean()), 3) + 0.0:.3f}",
    )
    row("mean of the outputs", f"{mean_out:.3f}", f"{mean_out:.3f}")
    row("|g|", f"{raw.norm():.3f}", f"{cen.norm():.3f}")
    row("output bias gradient g_b", f"{raw[-1]:.3f}", f"{cen[-1]:.3f}")
    row(
        "g_b's share of |g|^2",
        f"{raw[-1] ** 2 / raw.norm() ** 2:.1%}",
        f"{cen[-1] ** 2 / cen.norm() ** 2:.1%}",
    )
    print("cosine(g, clipped) when clipping by value at a quantile of |g_i|")
    print(" " * 27 + "raw targets" + " " * 9 + "centred targets")
    print(
        "  quantile       clipped    clip_value  cosine"
        + " " * 4
        + "clip_value  cosine"
    )
    for q in (0.99, 0.9, 0.5, 0.1):
        cells = []
        for grad in grads.values():
            c = float(torch.quantile(grad.abs(), q))
            cos = cosine_similarity(grad, clip_by_value(grad, c))
            cells.append(f"{c:.3e}   {cos:.4f}")
        frac = (raw.abs() > torch.quantile(raw.abs(), q)).float().mean().item()
        print(f"  {q:4.2f} quantile  {frac:6.1%}    {cells[0]}    {cells[1]}")
    row("sign(g) limit", f"{sign_limit(raw):.4f}", f"{sign_limit(cen):.4f}")
    row(
        "by norm, any max_norm",
        f"{cosine_similarity(raw, clip_by_norm(raw, 1e-3)):.4f}",
        f"{cosine_similarity(cen, clip_by_norm(cen, 1e-3)):.4f}",
    )

    ratios = torch.logspace(-4, 0, 60)
    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for (name, grad), style in zip(grads.items(), ("--", "-."), strict=True):
        top = float(grad.abs().max())
        cos = [
            cosine_similarity(grad, clip_by_value(grad, float(r) * top))
            for r in ratios
        ]
        ax.plot(
            ratios,
            cos,
            style,
            label=f"by value, {name} targets: "
            r"clip_value $= r\,\max_i |g_i|$",
        )
    cos_norm = [
        cosine_similarity(raw, clip_by_norm(raw, float(r) * raw.norm()))
        for r in ratios
    ]
    ax.plot(ratios, cos_norm, "-", label=r"by norm: max_norm $= r\,\|g\|_2$")
    ax.set(
        xscale="log",
        ylim=(0, 1.05),
        xlabel="threshold as a fraction $r$ of the gradient's size",
        ylabel=r"cosine$(g, \mathrm{clip}(g))$",
        title=f"Direction kept after clipping a gradient of {n} elements",
    )
    ax.legend(loc="lower right")
    plt.show()


if __name__ == "__main__":
    main()
