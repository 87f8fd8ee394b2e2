"""Preconditioned sharpness of full-batch Adam against its threshold 38/lr."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn


# The gradient-descent study's problem and power iteration (sharpness_vs_lr.py),
# copied: a snippet runs alone.
def make_problem(
    n: int = 256,
    hidden: int = 32,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, Tensor, Tensor]:
    """A 8-hidden-hidden-1 tanh MLP and a noise-free regression set x (n, 8), y
    (n, 1)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=gen)
    y = torch.tanh(
        x @ (2 * torch.randn(8, 16, generator=gen) / 8**0.5)
    ) @ torch.randn(16, 1, generator=gen)
    torch.manual_seed(seed + 1)
    model = nn.Sequential(
        nn.Linear(8, hidden),
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.Tanh(),
        nn.Linear(hidden, 1),
    )
    return model.to(device), x.to(device), y.to(device)


def top_eigenvalue(
    grads: tuple[Tensor, ...], params: list[Tensor], v: list[Tensor], iters: int
) -> tuple[float, list[Tensor]]:
    """Power iteration with HVPs on per-tensor lists; grads must carry their
    graph."""
    lam = 0.0
    for _ in range(iters):
        norm = torch.sqrt(sum((t * t).sum() for t in v))
        v = [t / norm for t in v]
        hv = torch.autograd.grad(
            grads, params, grad_outputs=v, retain_graph=True
        )
        lam = float(sum((a * b).sum() for a, b in zip(hv, v, strict=True)))
        v = [t.detach() for t in hv]
    return lam, v


# --8<-- [start:preconditioned]
def adam_preconditioner(
    opt: torch.optim.Adam, params: list[Tensor]
) -> list[Tensor]:
    """Adam's diagonal P = sqrt(v_hat) + eps, per parameter tensor; its step is
    lr * m_hat / P."""
    _, beta2 = opt.defaults["betas"]
    diag = []
    for p in params:
        state = opt.state[p]
        v_hat = state["exp_avg_sq"] / (1 - beta2 ** state["step"].item())
        diag.append(v_hat.sqrt() + opt.defaults["eps"])
    return diag


def preconditioned_top_eigenvalue(
    grads: tuple[Tensor, ...],
    params: list[Tensor],
    diag: list[Tensor],
    v: list[Tensor],
    iters: int,
) -> tuple[float, list[Tensor]]:
    """Power iteration on P^-1/2 H P^-1/2, which has the eigenvalues of P^-1 H;
    grads must carry their graph."""
    scale = [d.rsqrt() for d in diag]
    lam = 0.0
    for _ in range(iters):
        norm = torch.sqrt(sum((t * t).sum() for t in v))
        v = [t / norm for t in v]
        hv = torch.autograd.grad(
            grads,
            params,
            grad_outputs=[s * t for s, t in zip(scale, v, strict=True)],
            retain_graph=True,
        )
        hv = [s * t for s, t in zip(scale, hv, strict=True)]
        lam = float(sum((a * b).sum() for a, b in zip(hv, v, strict=True)))
        v = [t.detach() for t in hv]
    return lam, v
# --8<-- [end:preconditioned]


def train_adam(
    lr: float = 0.03,
    steps: int = 500,
    every: int = 10,
    iters: int = 10,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> dict[str, list[float]]:
    """Full-batch Adam on 1/2 MSE; every `every` steps lr * lambda_max(P^-1 H)
    and lr * lambda_max(H), each by warm-started power iteration."""
    model, x, y = make_problem(seed=seed, device=device)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    v_pre = [torch.randn_like(p) for p in params]
    v_raw = [torch.randn_like(p) for p in params]
    log: dict[str, list[float]] = {
        "loss": [], "step": [], "preconditioned": [], "raw": []
    }
    for step in range(steps + 1):
        loss = 0.5 * (model(x) - y).pow(2).mean()
        measure = step > 0 and step % every == 0  # P exists after one step
        grads = torch.autograd.grad(loss, params, create_graph=measure)
        log["loss"].append(loss.item())
        if measure:
            n = iters if step > every else 5 * iters
            diag = adam_preconditioner(opt, params)
            lam, v_pre = preconditioned_top_eigenvalue(
                grads, params, diag, v_pre, n
            )
            raw, v_raw = top_eigenvalue(grads, params, v_raw, n)
            log["step"].append(step)
            log["preconditioned"].append(lr * lam)
            log["raw"].append(lr * raw)
        for p, g in zip(params, grads, strict=True):
            p.grad = g.detach()
        opt.step()
    return log


def main() -> None:
    torch.manual_seed(0)
    lr, beta1, steps = 0.03, 0.9, 500
    log = train_adam(lr, steps)
    loss = log["loss"]
    rises = sum(b > a for a, b in itertools.pairwise(loss))
    threshold = 2 * (1 + beta1) / (1 - beta1)
    print(f"full-batch Adam, lr {lr}, betas ({beta1}, 0.999); thresholds for")
    print(
        f"lr x sharpness: P^-1 H {threshold:.4g} "
        f"= 2(1+b1)/(1-b1), H 2 (gradient descent)"
    )
    print(f"lr x sharpness  at step 10    max   steps 250-{steps}")
    for key, digits in (("preconditioned", 1), ("raw", 3)):
        late = torch.tensor(log[key][24:])
        print(
            f"{key:14s}  {log[key][0]:10.{digits + 1}f} "
            f"{max(log[key]):6.{digits}f}   "
            f"{late.mean():.{digits}f} +- {late.std():.{digits}f}"
        )
    print(
        f"loss at step 0 and {steps}: {loss[0]:.3g}, {loss[-1]:.1e}; "
        f"rose on {rises} steps"
    )

    _, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax0.semilogy(loss)
    ax0.set(
        xlabel="Adam step",
        ylabel=r"loss $\frac{1}{2}$MSE",
        title=f"Full-batch Adam, lr {lr}",
    )
    ax1.plot(
        log["step"],
        log["preconditioned"],
        label=r"$\eta\,\lambda_{max}(P^{-1}H)$",
    )
    ax1.plot(log["step"], log["raw"], "--", label=r"$\eta\,\lambda_{max}(H)$")
    ax1.axhline(
        threshold,
        color="C0",
        linestyle=":",
        label=rf"$2(1+\beta_1)/(1-\beta_1)$ = {threshold:.4g}",
    )
    ax1.axhline(2, color="C1", linestyle=":", label="2, gradient descent")
    ax1.set(
        xlabel="Adam step",
        ylabel=r"sharpness $\times\ \eta$",
        title="Preconditioned and raw sharpness",
    )
    ax1.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
