"""The gradient noise scale tr(Sigma)/|G|^2 and its two-batch-size estimator."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor


# --8<-- [start:exact]
def linreg_exact_stats(u: Tensor, noise_std: float) -> tuple[float, float]:
    """|G|^2 and tr(Sigma) of the loss 1/2 (w.x - y)^2, where x ~ N(0, I_d)
    and y = w*.x + noise.

    u = w - w* has shape (d,). Per-example gradient g = (x.u - noise) x,
    so G = u and Sigma = (|u|^2 + noise_std^2) I + u u^T (Gaussian fourth
    moments).
    """
    d, u2 = u.numel(), float(u @ u)
    return u2, d * (u2 + noise_std**2) + u2
# --8<-- [end:exact]


def sample_batches(
    w_star: Tensor,
    noise_std: float,
    n_batches: int,
    batch: int,
    gen: torch.Generator,
) -> tuple[Tensor, Tensor]:
    """x of shape (n_batches, batch, d) and y of shape (n_batches, batch), fresh
    samples."""
    x = torch.randn(
        n_batches, batch, w_star.numel(), generator=gen, dtype=w_star.dtype
    )
    noise = noise_std * torch.randn(
        n_batches, batch, generator=gen, dtype=w_star.dtype
    )
    return x.to(w_star.device), (
        x.to(w_star.device) @ w_star + noise.to(w_star.device)
    )


def batch_gradients(w: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Gradient of each batch's mean loss 1/2 (x.w - y)^2 at w: shape
    (n_batches, d)."""
    ws = w.detach().expand(x.shape[0], -1).clone().requires_grad_(True)
    losses = 0.5 * ((x @ ws.unsqueeze(-1)).squeeze(-1) - y).pow(2).mean(dim=1)
    (g,) = torch.autograd.grad(
        losses.sum(), ws
    )  # batches are independent: one backward
    return g


# --8<-- [start:estimator]
def two_batch_estimates(
    sq_small: Tensor,
    sq_big: Tensor,
    b_small: int,
    b_big: int,
) -> tuple[Tensor, Tensor]:
    """Unbiased estimates of |G|^2 and tr(Sigma) from |G_B|^2 at two batch
    sizes."""
    g2 = (b_big * sq_big - b_small * sq_small) / (b_big - b_small)
    tr_sigma = (sq_small - sq_big) / (1 / b_small - 1 / b_big)
    return g2, tr_sigma


def simple_noise_scale(
    g2: Tensor | float, tr_sigma: Tensor | float
) -> Tensor | float:
    """B_simple = tr(Sigma) / |G|^2; average g2 and tr_sigma over many batches
    first."""
    return tr_sigma / g2
# --8<-- [end:estimator]


def running_estimates(
    w: Tensor,
    w_star: Tensor,
    noise_std: float,
    b_small: int,
    b_big: int,
    pairs: int,
    seed: int = 1,
) -> dict[str, Tensor]:
    """Squared norms of `pairs` batch pairs, their estimates, and B_simple from
    running means."""
    gen = torch.Generator().manual_seed(seed)
    sq_small = batch_gradients(
        w, *sample_batches(w_star, noise_std, pairs, b_small, gen)
    )
    sq_big = batch_gradients(
        w, *sample_batches(w_star, noise_std, pairs, b_big, gen)
    )
    sq_small, sq_big = sq_small.pow(2).sum(1), sq_big.pow(2).sum(1)
    g2, tr_sigma = two_batch_estimates(sq_small, sq_big, b_small, b_big)
    k = torch.arange(1, pairs + 1, dtype=g2.dtype, device=g2.device)
    running = simple_noise_scale(g2.cumsum(0) / k, tr_sigma.cumsum(0) / k)
    return {
        "sq_small": sq_small,
        "sq_big": sq_big,
        "g2": g2,
        "tr_sigma": tr_sigma,
        "running": running,
    }


def naive_noise_scale(grad_norm: Tensor | float, batch: int) -> Tensor | float:
    """The quantity one source calls the noise scale, |G_B| / B. It is not."""
    return grad_norm / batch


def main() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    d, noise_std, b_small, b_big, pairs = 16, 1.0, 8, 128, 4000
    w_star = torch.randn(d, generator=gen, dtype=torch.float64)
    u = torch.randn(d, generator=gen, dtype=torch.float64)
    u = 0.5 * u / u.norm()  # |u|^2 = 0.25
    w = w_star + u
    g2_true, tr_true = linreg_exact_stats(u, noise_std)
    b_true = simple_noise_scale(g2_true, tr_true)
    print(
        f"exact: |G|^2 = {g2_true:.4g}, tr(Sigma) = {tr_true:.4g}, "
        f"B_simple = {b_true:.4g}"
    )

    sizes = [2**k for k in range(11)]
    mean_sq = [
        batch_gradients(
            w, *sample_batches(w_star, noise_std, 2**16 // b, b, gen)
        )
        .pow(2)
        .sum(1)
        .mean()
        .item()
        for b in sizes
    ]  # 2^16 examples per batch size
    for b, m in zip(sizes, mean_sq, strict=True):
        if b in (1, 32, 1024):
            print(
                f"B = {b:4d}: mean |G_B|^2 = {m:.4g}, |G|^2 + tr(Sigma)/B = "
                f"{g2_true + tr_true / b:.4g}"
            )

    run = running_estimates(w, w_star, noise_std, b_small, b_big, pairs)
    running = run["running"]
    print(f"two-batch estimates, B = {b_small} and {b_big}, mean over:")
    for n in (10, 100, pairs):
        print(
            f"{n:4d} batch pairs: |G|^2 ~ {run['g2'][:n].mean():.4g}, "
            f"tr(Sigma) ~ {run['tr_sigma'][:n].mean():.4g}, "
            f"B_simple ~ {running[n - 1]:.4g}"
        )
    naive = [
        naive_noise_scale(run[key].sqrt().mean().item(), b)
        for key, b in (("sq_small", b_small), ("sq_big", b_big))
    ]
    print(
        f"naive |G_B|/B: {naive[0]:.3g} at B = {b_small}, "
        f"{naive[1]:.3g} at B = {b_big} (B_simple is {b_true:.4g} at both)"
    )

    _, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax0.loglog(
        sizes, mean_sq, "o", color="C0", label=r"measured mean $|G_B|^2$"
    )
    grid = torch.logspace(0, 3.1, 100, dtype=torch.float64)
    ax0.loglog(
        grid,
        g2_true + tr_true / grid,
        "-",
        color="C0",
        alpha=0.6,
        label=r"$|G|^2 + \mathrm{tr}(\Sigma)/B$",
    )
    ax0.loglog(
        grid,
        tr_true / grid,
        "--",
        color="C1",
        label=r"noise $\mathrm{tr}(\Sigma)/B$",
    )
    ax0.axhline(g2_true, linestyle=":", color="C2", label=r"signal $|G|^2$")
    ax0.axvline(
        b_true,
        linestyle="-.",
        color="C3",
        label=rf"$B_{{simple}} = {b_true:.0f}$",
    )
    ax0.set(
        xlabel="batch size $B$",
        ylabel=r"$|G_B|^2$",
        title="Noise and signal in a batch gradient",
    )
    ax0.legend(fontsize=8)
    ax1.semilogx(
        range(1, pairs + 1),
        running,
        color="C0",
        label="two-batch estimate (running means)",
    )
    ax1.axhline(
        b_true,
        linestyle="--",
        color="C3",
        label=rf"exact $B_{{simple}} = {b_true:.0f}$",
    )
    ax1.axhspan(
        0.9 * b_true,
        1.1 * b_true,
        color="C3",
        alpha=0.15,
        label="exact $\\pm$ 10%",
    )
    ax1.set(
        xlabel="number of batch pairs",
        ylabel=r"$B_{simple}$ estimate",
        ylim=(0, 3 * b_true),
        title=f"Estimator from B = {b_small} and B = {b_big}",
    )
    ax1.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
