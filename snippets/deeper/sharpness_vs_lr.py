"""Sharpness (top Hessian eigenvalue) in full-batch gradient descent vs 2/lr."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn


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


# --8<-- [start:sharpness]
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


def train_gd(
    lr: float,
    steps: int = 1500,
    every: int = 10,
    iters: int = 10,
    hidden: int = 32,
    device: torch.device | str = "cpu",
) -> dict[str, list[float]]:
    """Full-batch GD on 1/2 MSE; sharpness every `every` steps, warm-started
    power iteration."""
    model, x, y = make_problem(hidden=hidden, device=device)
    params = list(model.parameters())
    v = [torch.randn_like(p) for p in params]
    log: dict[str, list[float]] = {"loss": [], "step": [], "sharpness": []}
    for step in range(steps + 1):
        loss = 0.5 * (model(x) - y).pow(2).mean()
        measure = step % every == 0
        grads = torch.autograd.grad(loss, params, create_graph=measure)
        log["loss"].append(loss.item())
        if measure:
            lam, v = top_eigenvalue(
                grads, params, v, iters if step else 5 * iters
            )
            log["step"].append(step)
            log["sharpness"].append(lam)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
    return log
# --8<-- [end:sharpness]


def main() -> None:
    torch.manual_seed(0)
    lrs = [0.03, 0.15, 0.3]
    runs = {lr: train_gd(lr) for lr in lrs}
    print("sharpness: at step 0, max, mean +- std over steps 1000-1500")
    print("loss: final, number of steps where it rose")
    print("  lr    2/lr   sharpness                     loss")
    for lr, log in runs.items():
        late = torch.tensor(log["sharpness"][100:])
        rises = sum(
            b > a for a, b in zip(log["loss"], log["loss"][1:], strict=False)
        )
        print(
            f"{lr:4.2f}  {2 / lr:6.4g}   "
            f"{log['sharpness'][0]:.4g}, {max(log['sharpness']):.4g}, "
            f"{late.mean():.4g} +- {late.std():.2g}   "
            f"{log['loss'][-1]:.3e}, {rises}"
        )

    _, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for i, (lr, log) in enumerate(runs.items()):
        ax0.semilogy(
            log["loss"],
            color=f"C{i}",
            linestyle=["-", "--", "-."][i],
            label=f"lr {lr}",
        )
        ax1.semilogy(
            log["step"],
            log["sharpness"],
            color=f"C{i}",
            linestyle=["-", "--", "-."][i],
            label=f"sharpness, lr {lr}",
        )
        ax1.axhline(
            2 / lr, color=f"C{i}", linestyle=":", label=f"2/lr = {2 / lr:.3g}"
        )
    ax0.set(
        xlabel="gradient descent step",
        ylabel=r"loss $\frac{1}{2}$MSE",
        title="Full-batch gradient descent",
    )
    ax1.set(
        xlabel="gradient descent step",
        ylabel=r"sharpness $\lambda_{max}(H)$",
        title="Sharpness against the stability threshold 2/lr",
    )
    ax0.legend()
    ax1.legend(fontsize=8, ncols=2)
    plt.show()


if __name__ == "__main__":
    main()
