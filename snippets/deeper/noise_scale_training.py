"""How the noise scale B_simple evolves while a small MLP trains with SGD."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap


def make_data(
    n: int, seed: int = 0, device: torch.device | str = "cpu"
) -> tuple[Tensor, Tensor]:
    """x of shape (n, 8); y = teacher(x) + 0.3 * noise, shape (n, 1)."""
    gen = torch.Generator().manual_seed(seed)
    w_teacher = 2 * torch.randn(8, 16, generator=gen) / 8**0.5
    v_teacher = torch.randn(16, 1, generator=gen)
    x = torch.randn(n, 8, generator=gen)
    y = torch.tanh(x @ w_teacher) @ v_teacher + 0.3 * torch.randn(
        n, 1, generator=gen
    )
    return x.to(device), y.to(device)


def loss_fn(pred: Tensor, y: Tensor) -> Tensor:
    return 0.5 * (pred - y).pow(2).mean()


# --8<-- [start:exact]
def per_example_grads(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Every example's gradient as one flat row: shape (N, number of
    parameters)."""
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss_one(params: dict[str, Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        return loss_fn(
            functional_call(model, params, (xi.unsqueeze(0),)), yi.unsqueeze(0)
        )

    grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([g.flatten(1) for g in grads.values()], dim=1)


def exact_noise_stats(
    model: nn.Module, x: Tensor, y: Tensor
) -> tuple[float, float]:
    """|G|^2 and tr(Sigma) over the whole training set (batches drawn with
    replacement)."""
    g = per_example_grads(model, x, y)
    mean = g.mean(dim=0)
    return float(mean @ mean), float((g - mean).pow(2).sum(dim=1).mean())
# --8<-- [end:exact]


def batch_sq_norm(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """|G_B|^2: squared norm of the gradient of the batch's mean loss."""
    grads = torch.autograd.grad(loss_fn(model(x), y), list(model.parameters()))
    return float(sum(g.pow(2).sum() for g in grads))


# --8<-- [start:train]
def two_batch_noise_scale(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    small: int,
    big: int,
    pairs: int,
    gen: torch.Generator,
) -> float:
    """B_simple from |G_B|^2 at two batch sizes, each averaged over `pairs`
    batches."""

    def mean_sq(b: int) -> float:
        return (
            sum(
                batch_sq_norm(model, x[i], y[i])
                for i in torch.randint(0, len(x), (pairs, b), generator=gen).to(
                    x.device
                )
            )
            / pairs
        )

    sq_small, sq_big = mean_sq(small), mean_sq(big)
    g2 = (big * sq_big - small * sq_small) / (big - small)
    tr_sigma = (sq_small - sq_big) / (1 / small - 1 / big)
    return tr_sigma / g2


def train(
    steps: int = 3000,
    batch: int = 32,
    big: int = 512,
    lr: float = 0.1,
    pairs: int = 8,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> dict[str, list[float]]:
    """SGD with batch `batch`; at ~60 log-spaced steps, B_simple exact and
    estimated."""
    torch.manual_seed(seed)
    x, y = make_data(2048, seed, device)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1)).to(
        device
    )
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    measure = {0, 10, 100, 1000, steps} | {
        int(s) for s in torch.logspace(0, 3.5, 60)
    }
    log: dict[str, list[float]] = {
        k: [] for k in ("step", "loss", "exact", "estimate")
    }
    for step in range(steps + 1):
        if step in measure:
            g2, tr_sigma = exact_noise_stats(model, x, y)
            log["step"].append(step)
            log["exact"].append(tr_sigma / g2)
            log["estimate"].append(
                two_batch_noise_scale(model, x, y, batch, big, pairs, gen)
            )
            with torch.no_grad():
                log["loss"].append(loss_fn(model(x), y).item())
        idx = torch.randint(0, len(x), (batch,), generator=gen).to(device)
        opt.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()
    return log
# --8<-- [end:train]


def main() -> None:
    torch.manual_seed(0)
    log = train()
    print("two-batch estimate: mean over 8 pairs of batches, B = 32 and 512")
    print("step   full-data loss   B_simple exact   two-batch estimate")
    for step in (0, 10, 100, 1000, 3000):
        i = log["step"].index(step)
        print(
            f"{step:4d}   {log['loss'][i]:14.4f}   {log['exact'][i]:14.4g}   "
            f"{log['estimate'][i]:.4g}"
        )

    steps = [s + 1 for s in log["step"]]  # step + 1 on a log axis
    _, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax0.loglog(
        steps,
        log["loss"],
        "o-",
        color="C0",
        markersize=3,
        label="SGD, batch 32, lr 0.1",
    )
    ax0.axhline(
        0.5 * 0.3**2,
        linestyle=":",
        color="C2",
        label=r"noise floor $\frac{1}{2}0.3^2$",
    )
    ax0.set(
        xlabel="SGD step + 1",
        ylabel=r"full-data loss $\frac{1}{2}\,$MSE",
        title="Training loss",
    )
    ax0.legend()
    ax1.loglog(
        steps,
        log["exact"],
        "o-",
        color="C1",
        markersize=3,
        label="exact (all 2048 per-example gradients)",
    )
    ax1.loglog(
        steps,
        log["estimate"],
        "x--",
        color="C0",
        markersize=4,
        label="two-batch estimate (8 pairs, B = 32 and 512)",
    )
    ax1.axhline(32, linestyle=":", color="C2", label="training batch size 32")
    ax1.set(
        xlabel="SGD step + 1",
        ylabel=r"$B_{simple} = \mathrm{tr}(\Sigma)/|G|^2$",
        title="The noise scale grows as the loss falls",
    )
    ax1.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
