"""SGD, momentum, Adam, AdamW and Lion on the Rosenbrock function, lr tuned."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import matplotlib.pyplot as plt
import torch

LR_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
# The best of LR_GRID for each optimizer (lowest f after 1000 steps); the tests
# re-check this.
BEST_LR = {
    "SGD": 1e-3,
    "SGD + momentum 0.9": 1e-3,
    "Adam": 1e-1,
    "AdamW (weight_decay 0.01)": 1e-1,
    "Lion": 1e-2,
}


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1); p has shape
    (..., 2)."""
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023): theta -= lr * (sign(b1 m + (1 - b1) g) + wd
    theta)."""

    def __init__(
        self,
        params: Iterable,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, {"lr": lr, "betas": betas, "weight_decay": weight_decay}
        )

    @torch.no_grad()
    def step(self, closure: Callable | None = None) -> None:
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                m = self.state[p].setdefault("exp_avg", torch.zeros_like(p))
                c = beta1 * m + (1 - beta1) * p.grad
                p.sub_(
                    group["lr"] * (torch.sign(c) + group["weight_decay"] * p)
                )
                m.mul_(beta2).add_(p.grad, alpha=1 - beta2)


OPTIMIZERS: dict[str, Callable[[list, float], torch.optim.Optimizer]] = {
    "SGD": lambda ps, lr: torch.optim.SGD(ps, lr=lr),
    "SGD + momentum 0.9": lambda ps, lr: torch.optim.SGD(
        ps, lr=lr, momentum=0.9
    ),
    "Adam": lambda ps, lr: torch.optim.Adam(ps, lr=lr),
    "AdamW (weight_decay 0.01)": lambda ps, lr: torch.optim.AdamW(
        ps, lr=lr, weight_decay=0.01
    ),
    "Lion": lambda ps, lr: Lion(ps, lr=lr),
}


# --8<-- [start:trajectory]
def trajectory(
    make_opt: Callable,
    lr: float,
    start: tuple[float, float] = (-1.5, 2.0),
    steps: int = 1000,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Positions p_0 .. p_steps of one optimizer on the Rosenbrock function,
    shape (steps+1, 2)."""
    p = torch.nn.Parameter(
        torch.tensor(start, dtype=torch.float64, device=device)
    )
    opt, path = make_opt([p], lr), [p.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        rosenbrock(p).backward()
        opt.step()
        path.append(p.detach().clone())
    return torch.stack(path)


def best_lr(
    make_opt: Callable, grid: tuple[float, ...] = LR_GRID, steps: int = 1000
) -> float:
    """The learning rate from the grid with the lowest final f (diverged runs
    count as inf)."""
    final = {
        lr: rosenbrock(trajectory(make_opt, lr, steps=steps)[-1]).item()
        for lr in grid
    }
    return min(
        grid, key=lambda lr: final[lr] if math.isfinite(final[lr]) else math.inf
    )
# --8<-- [end:trajectory]


def main() -> None:
    torch.manual_seed(0)
    paths = {}
    print(
        f"{'optimizer':25s} best lr   f after 100 / 1000 steps  final (x, y)"
    )
    for name, make_opt in OPTIMIZERS.items():
        lr = BEST_LR[name]
        paths[name] = path = trajectory(make_opt, lr)
        f = rosenbrock(path)
        print(
            f"{name:25s} {lr:7.0e}   {f[100]:.3e} / {f[-1]:.3e}     "
            f"({path[-1, 0]:.4f}, {path[-1, 1]:.4f})"
        )

    _, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    xs, ys = torch.linspace(-2, 2, 300), torch.linspace(-1, 3, 300)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")
    ax.contour(
        X,
        Y,
        rosenbrock(torch.stack([X, Y], -1)),
        levels=torch.logspace(-1, 3, 9).tolist(),
        norm="log",
        cmap="viridis",
        linewidths=0.6,
        alpha=0.6,
    )
    styles = (("-", "o"), ("--", "s"), ("-.", "^"), (":", "v"), ("-", "D"))
    for (name, path), (line, marker) in zip(paths.items(), styles, strict=True):
        ax.plot(
            path[:, 0],
            path[:, 1],
            line,
            marker=marker,
            markevery=100,
            markersize=5,
            linewidth=1.3,
            label=name,
        )
    ax.plot(
        [-1.5], [2.0], "o", color="C7", markersize=9, label="start (-1.5, 2)"
    )
    ax.plot(
        [1.0], [1.0], "*", color="C3", markersize=14, label="minimum (1, 1)"
    )
    ax.set(
        xlabel="$x$",
        ylabel="$y$",
        title="1000 steps on the Rosenbrock function (markers every 100 steps)",
    )
    ax.legend(fontsize=8, loc="lower left")

    _, ax2 = plt.subplots(figsize=(7, 4), layout="constrained")
    for (name, path), (line, _) in zip(paths.items(), styles, strict=True):
        ax2.plot(rosenbrock(path), line, label=name)
    ax2.set(
        yscale="log",
        ylim=(1e-8, 1e2),
        xlabel="step $t$",
        ylabel=r"$f(\theta_t)$",
        title="Distance from the minimum value (f = 0)",
    )
    ax2.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
