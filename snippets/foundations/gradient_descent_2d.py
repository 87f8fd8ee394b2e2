"""A 2-D toy loss: its gradient by finite differences and autograd, descent."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch

Loss = Callable[[torch.Tensor], torch.Tensor]


# --8<-- [start:loss]
def toy_loss(w: torch.Tensor) -> torch.Tensor:
    """A curved valley with its minimum L = 0 at w = (1, 0.5); w has shape (...,
    2)."""
    w1, w2 = w[..., 0], w[..., 1]
    return (w1 - 1) ** 2 + 3 * (w2 - 0.5 * w1**2) ** 2
# --8<-- [end:loss]


# --8<-- [start:gradients]
def grad_autograd(f: Loss, w: torch.Tensor) -> torch.Tensor:
    w = w.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(w), w)
    return g


def grad_central_difference(
    f: Loss, w: torch.Tensor, h: float = 1e-6
) -> torch.Tensor:
    g = torch.zeros_like(w)
    for i in range(w.numel()):
        e = torch.zeros_like(w)
        e.view(-1)[i] = h
        g.view(-1)[i] = (f(w + e) - f(w - e)) / (2 * h)
    return g


def grad_forward_difference(
    f: Loss, w: torch.Tensor, h: float = 1e-6
) -> torch.Tensor:
    g = torch.zeros_like(w)
    for i in range(w.numel()):
        e = torch.zeros_like(w)
        e.view(-1)[i] = h
        g.view(-1)[i] = (f(w + e) - f(w)) / h
    return g
# --8<-- [end:gradients]


# --8<-- [start:descent]
def gradient_descent(
    f: Loss, w0: torch.Tensor, lr: float, steps: int
) -> torch.Tensor:
    """Return the path w_0, w_1, ..., w_steps of w <- w - lr * grad L(w), shape
    (steps + 1, 2)."""
    path = [w0.detach().clone()]
    for _ in range(steps):
        path.append(path[-1] - lr * grad_autograd(f, path[-1]))
    return torch.stack(path)
# --8<-- [end:descent]


def main() -> None:
    torch.manual_seed(0)
    w = torch.tensor([-1.5, 1.5], dtype=torch.float64)
    g = grad_autograd(toy_loss, w)
    g_fd = grad_central_difference(toy_loss, w)
    print(f"L(w) at w = (-1.5, 1.5): {toy_loss(w).item():.4g}")
    print(f"autograd gradient          : ({g[0]:.10f}, {g[1]:.10f})")
    print(f"central difference, h=1e-6 : ({g_fd[0]:.10f}, {g_fd[1]:.10f})")
    print(f"max |difference|           : {(g - g_fd).abs().max():.1e}")

    print("\nfinite-difference error vs step h (float64)")
    print("     h   forward   central")
    for h in (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10):
        err_fwd = (grad_forward_difference(toy_loss, w, h) - g).abs().max()
        err_ctr = (grad_central_difference(toy_loss, w, h) - g).abs().max()
        print(f"{h:6.0e}  {err_fwd:.1e}   {err_ctr:.1e}")

    angles = torch.linspace(0, 2 * torch.pi, 361, dtype=torch.float64)[:-1]
    directions = torch.stack([angles.cos(), angles.sin()], dim=1)
    slopes = directions @ g
    best = directions[slopes.argmax()]
    print("\nsteepest ascent over 360 unit directions u (slope = u . grad L)")
    print(f"|grad L| = {g.norm():.4f}, largest slope = {slopes.max():.4f}")
    print(
        f"best u = ({best[0]:.3f}, {best[1]:.3f}), grad L / |grad L| = "
        f"({g[0] / g.norm():.3f}, {g[1] / g.norm():.3f})"
    )

    print(
        "\none step w - lr * grad L: predicted decrease lr |grad L|^2 vs actual"
    )
    for lr in (1e-1, 1e-2, 1e-3):
        actual = toy_loss(w) - toy_loss(w - lr * g)
        print(
            f"lr = {lr:.0e}: predicted {lr * g.dot(g):.4g}, actual {actual:.4g}"
        )

    hessian = torch.autograd.functional.hessian(
        toy_loss, torch.tensor([1.0, 0.5]).double()
    )
    lam = torch.linalg.eigvalsh(hessian)
    print(
        f"\nHessian eigenvalues at the minimum: {lam[0]:.4f}, {lam[1]:.4f}; "
        f"2 / largest = {2 / lam[1]:.4f}"
    )
    start = torch.tensor([0.0, 2.0], dtype=torch.float64)
    runs = {
        lr: gradient_descent(toy_loss, start, lr, steps=30)
        for lr in (0.02, 0.1, 0.18)
    }
    print(
        "L after 30 steps of gradient descent from w = (0, 2), "
        f"where L = {toy_loss(start):.4g}"
    )
    for lr, path in runs.items():
        print(f"lr = {lr:.2f}: L = {toy_loss(path[-1]).item():.3e}")

    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    grid = torch.linspace(-2.2, 2.2, 201, dtype=torch.float64)
    W1, W2 = torch.meshgrid(grid, grid, indexing="xy")
    surface = toy_loss(torch.stack([W1, W2], dim=-1))
    levels = torch.logspace(-2, 2, 13).tolist()
    cs = ax.contour(
        W1,
        W2,
        surface,
        levels=levels,
        cmap="viridis",
        norm="log",
        linewidths=0.8,
    )
    fig.colorbar(cs, ax=ax, label="$L(w)$ (log scale)")
    arrows = torch.linspace(-2, 2, 11, dtype=torch.float64)
    A1, A2 = torch.meshgrid(arrows, arrows, indexing="xy")
    field = torch.stack(
        [
            grad_autograd(toy_loss, p)
            for p in torch.stack([A1, A2], -1).view(-1, 2)
        ]
    )
    unit = -field / field.norm(dim=1, keepdim=True)
    ax.quiver(
        A1.flatten(),
        A2.flatten(),
        unit[:, 0],
        unit[:, 1],
        color="C9",
        alpha=0.7,
        angles="xy",
        scale=25,
        width=0.003,
        label=r"$-\nabla L / \|\nabla L\|$",
    )
    for (lr, path), style in zip(
        runs.items(), ("o-", "s--", "^:"), strict=True
    ):
        ax.plot(
            path[:, 0],
            path[:, 1],
            style,
            markersize=3.5,
            label=f"descent, lr = {lr}",
        )
    ax.plot(
        [1.0], [0.5], "*", color="C3", markersize=12, label="minimum (1, 0.5)"
    )
    ax.set(
        xlabel="$w_1$",
        ylabel="$w_2$",
        title="Gradient descent on a curved valley",
        aspect="equal",
    )
    ax.legend(loc="lower right", fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
