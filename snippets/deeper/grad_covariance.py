"""Per-example gradients (torch.func) and the spectrum of their covariance."""

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


# --8<-- [start:covariance]
def per_example_grads(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """g_i = grad of example i's loss, flattened: shape (N, P)."""
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss_one(params: dict[str, Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        return loss_fn(
            functional_call(model, params, (xi.unsqueeze(0),)), yi.unsqueeze(0)
        )

    grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([g.flatten(1) for g in grads.values()], dim=1)


def grad_covariance(g: Tensor) -> tuple[Tensor, Tensor]:
    """Mean gradient G (P,) and covariance Sigma = mean of (g_i - G)(g_i - G)^T,
    (P, P)."""
    mean = g.mean(dim=0)
    centred = g - mean
    return mean, centred.T @ centred / g.shape[0]
# --8<-- [end:covariance]


def train_sgd(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    steps: int,
    batch: int = 32,
    lr: float = 0.1,
    seed: int = 0,
) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=gen).to(x.device)
        opt.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()


def main() -> None:
    torch.manual_seed(0)
    x, y = make_data(2048)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
    spectra = {}
    for label, steps in (
        ("at initialisation", 0),
        ("after 1000 SGD steps", 1000),
    ):
        train_sgd(model, x, y, steps)
        g = per_example_grads(model, x, y)
        mean, sigma = grad_covariance(g)
        eigs = torch.linalg.eigvalsh(sigma.double()).flip(0)  # largest first
        spectra[label] = eigs
        top10 = (eigs[:10].sum() / eigs.sum()).item()
        print(
            f"{label}: per-example grads {tuple(g.shape)}, "
            f"Sigma {tuple(sigma.shape)}"
        )
        print(
            f"  tr(Sigma) = {sigma.trace():.4g}, "
            f"sum of eigenvalues = {eigs.sum():.4g}"
        )
        print(
            f"  |G|^2 = {mean @ mean:.4g}, B_simple = tr(Sigma)/|G|^2 = "
            f"{sigma.trace() / (mean @ mean):.4g}"
        )
        print(
            f"  largest eigenvalue {eigs[0]:.4g}, 10th {eigs[9]:.3g}, "
            f"100th {eigs[99]:.3g}"
        )
        print(f"  top 10 of {len(eigs)} hold {top10:.1%} of the trace")

    _, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for (label, eigs), style in zip(spectra.items(), ("-", "--"), strict=True):
        rank = torch.arange(1, len(eigs) + 1)
        ax0.loglog(rank, eigs.clamp_min(1e-12), style, label=label)
        ax1.semilogx(rank, eigs.cumsum(0) / eigs.sum(), style, label=label)
    ax0.set(
        xlabel="rank $k$",
        ylabel=r"eigenvalue $\lambda_k(\Sigma)$",
        title="Spectrum of the per-example gradient covariance",
    )
    ax1.set(
        xlabel="number of top eigenvalues $k$",
        ylabel=r"$\sum_{i \leq k} \lambda_i \,/\, \mathrm{tr}(\Sigma)$",
        title="A few directions carry most of the noise",
    )
    ax0.legend()
    ax1.legend()
    plt.show()


if __name__ == "__main__":
    main()
