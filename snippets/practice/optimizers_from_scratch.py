"""SGD, momentum, Adam, AdamW, Lion from their rules, against torch.optim."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Rule = Callable[..., torch.Tensor]


# --8<-- [start:sgd]
def sgd_step(
    theta: torch.Tensor, g: torch.Tensor, state: dict, t: int, lr: float
) -> torch.Tensor:
    return theta - lr * g


def momentum_step(
    theta: torch.Tensor,
    g: torch.Tensor,
    state: dict,
    t: int,
    lr: float,
    momentum: float = 0.9,
) -> torch.Tensor:
    v = momentum * state.get("v", torch.zeros_like(g)) + g
    state["v"] = v
    return theta - lr * v
# --8<-- [end:sgd]


# --8<-- [start:adam]
def adam_step(
    theta: torch.Tensor,
    g: torch.Tensor,
    state: dict,
    t: int,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> torch.Tensor:
    beta1, beta2 = betas
    g = (
        g + weight_decay * theta
    )  # Adam's weight_decay is an L2 term added to the gradient
    m = beta1 * state.get("m", torch.zeros_like(g)) + (1 - beta1) * g
    v = beta2 * state.get("v", torch.zeros_like(g)) + (1 - beta2) * g * g
    state["m"], state["v"] = m, v
    m_hat = m / (1 - beta1**t)  # bias correction: m and v start at zero
    v_hat = v / (1 - beta2**t)
    return theta - lr * m_hat / (v_hat.sqrt() + eps)


def adamw_step(
    theta: torch.Tensor,
    g: torch.Tensor,
    state: dict,
    t: int,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
) -> torch.Tensor:
    theta = theta * (
        1 - lr * weight_decay
    )  # decoupled: shrink the weights, not the gradient
    return adam_step(theta, g, state, t, lr, betas, eps, weight_decay=0.0)
# --8<-- [end:adam]


# --8<-- [start:lion]
def lion_step(
    theta: torch.Tensor,
    g: torch.Tensor,
    state: dict,
    t: int,
    lr: float = 1e-4,
    betas: tuple[float, float] = (0.9, 0.99),
    weight_decay: float = 0.0,
) -> torch.Tensor:
    beta1, beta2 = betas
    m = state.get("m", torch.zeros_like(g))
    c = beta1 * m + (1 - beta1) * g  # interpolate, then take the sign
    theta = theta - lr * (torch.sign(c) + weight_decay * theta)
    state["m"] = beta2 * m + (1 - beta2) * g  # the only state: one buffer
    return theta
# --8<-- [end:lion]


def softmax_regression_loss(
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Cross-entropy of a linear classifier W of shape (10, 3) on 64 fixed
    examples."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 10, generator=gen)
    labels = (
        x @ torch.randn(10, 3, generator=gen)
        + torch.randn(64, 3, generator=gen)
    ).argmax(1)
    x, labels = x.to(device, dtype), labels.to(device)
    return lambda w: nn.functional.cross_entropy(x @ w, labels)


# --8<-- [start:run]
def run_rule(
    rule: Rule, theta0: torch.Tensor, loss_fn: Callable, steps: int, **hp: float
) -> list[torch.Tensor]:
    theta, state, path = theta0.clone(), {}, []
    for t in range(1, steps + 1):
        w = theta.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(loss_fn(w), w)
        theta = rule(theta, g, state, t, **hp)
        path.append(theta.detach().clone())
    return path


def run_torch(
    opt_cls: type[torch.optim.Optimizer],
    theta0: torch.Tensor,
    loss_fn: Callable,
    steps: int,
    **hp: float,
) -> list[torch.Tensor]:
    w = nn.Parameter(theta0.clone())
    opt, path = opt_cls([w], **hp), []
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(w).backward()
        opt.step()
        path.append(w.detach().clone())
    return path
# --8<-- [end:run]


CASES = {  # name: (our rule, torch.optim class, hyperparameters)
    "SGD": (sgd_step, torch.optim.SGD, {"lr": 0.1}),
    "SGD + momentum": (
        momentum_step,
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9},
    ),
    "Adam": (adam_step, torch.optim.Adam, {"lr": 0.01}),
    "Adam + L2 (weight_decay)": (
        adam_step,
        torch.optim.Adam,
        {"lr": 0.01, "weight_decay": 0.1},
    ),
    "AdamW": (adamw_step, torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
}


def main() -> None:
    torch.manual_seed(0)
    steps = 200
    theta0 = torch.randn(10, 3, dtype=torch.float64)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        loss_fn = softmax_regression_loss(dtype=dtype)
        start = loss_fn(theta0.to(dtype))
        print(f"{dtype}, {steps} steps from the same start (loss {start:.4f})")
        for name, (rule, opt_cls, hp) in CASES.items():
            ours = run_rule(rule, theta0.to(dtype), loss_fn, steps, **hp)
            theirs = run_torch(opt_cls, theta0.to(dtype), loss_fn, steps, **hp)
            diff = max(
                (a - b).abs().max().item()
                for a, b in zip(ours, theirs, strict=True)
            )
            print(
                f"  {name:26s} max |ours - torch| "
                f"{'<' if diff < tol else '>='} {tol:.0e}, "
                f"final loss {loss_fn(ours[-1]):.4f}"
            )

    print(f"\ntorch.optim has Lion: {hasattr(torch.optim, 'Lion')}")
    loss_fn = softmax_regression_loss()
    path = run_rule(lion_step, theta0, loss_fn, steps, lr=3e-3)
    moves = torch.stack(
        [b - a for a, b in zip([theta0, *path], path, strict=False)]
    ).abs()
    print("Lion, lr = 3e-3, no weight decay:")
    print(
        "  every |theta_t+1 - theta_t| element is in "
        f"[{moves.min():.4g}, {moves.max():.4g}]"
    )
    print(f"  loss {loss_fn(theta0):.4f} -> {loss_fn(path[-1]):.4f}")


if __name__ == "__main__":
    main()
