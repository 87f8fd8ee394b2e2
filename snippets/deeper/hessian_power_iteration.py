"""The top Hessian eigenvalue by power iteration on double-backward HVPs."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn
from torch.func import functional_call


def make_problem(
    n: int = 64,
    hidden: int = 16,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, Tensor, Tensor]:
    """A 4-hidden-hidden-1 tanh MLP in float64 and a regression batch x (n, 4),
    y (n, 1)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen, dtype=torch.float64)
    y = torch.sin(x @ torch.randn(4, 1, generator=gen, dtype=torch.float64))
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(4, hidden),
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.Tanh(),
        nn.Linear(hidden, 1),
    ).double()
    return model.to(device), x.to(device), y.to(device)


def flat_loss(
    model: nn.Module, x: Tensor, y: Tensor
) -> tuple[Callable[[Tensor], Tensor], Tensor]:
    """The loss as a function of one flat parameter vector theta (P,), and the
    current theta."""
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    theta = torch.cat([p.detach().flatten() for p in model.parameters()])

    def loss_fn(theta: Tensor) -> Tensor:
        chunks = theta.split([s.numel() for s in shapes])
        params = {
            n: c.view(s) for n, c, s in zip(names, chunks, shapes, strict=True)
        }
        return 0.5 * (functional_call(model, params, (x,)) - y).pow(2).mean()

    return loss_fn, theta


# --8<-- [start:hvp]
def hvp(
    loss_fn: Callable[[Tensor], Tensor], theta: Tensor, v: Tensor
) -> Tensor:
    """H v without forming H: differentiate (grad L . v) once more. Shapes (P,)
    -> (P,)."""
    theta = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(
        loss_fn(theta), theta, create_graph=True
    )  # g keeps its graph
    (hv,) = torch.autograd.grad(
        g @ v, theta
    )  # d/dtheta (g . v) = H v, since H is symmetric
    return hv
# --8<-- [end:hvp]


# --8<-- [start:power]
def power_iteration(
    matvec: Callable[[Tensor], Tensor],
    v: Tensor,
    iters: int = 100,
) -> tuple[float, Tensor, list[float]]:
    """Eigenvalue of largest magnitude of a symmetric operator, by repeated
    products."""
    v = v / v.norm()
    history = []
    for _ in range(iters):
        hv = matvec(v)
        history.append(float(v @ hv))  # Rayleigh quotient v^T H v with |v| = 1
        v = hv / hv.norm()
    return history[-1], v, history
# --8<-- [end:power]


def main() -> None:
    torch.manual_seed(0)
    model, x, y = make_problem()
    loss_fn, theta = flat_loss(model, x, y)
    hessian = torch.autograd.functional.hessian(
        loss_fn, theta
    )  # (P, P), P HVPs' worth of work
    print(
        f"P = {theta.numel()} parameters, Hessian shape {tuple(hessian.shape)}"
    )
    v = torch.randn(theta.numel(), dtype=torch.float64)
    same = torch.allclose(
        hvp(loss_fn, theta, v), hessian @ v, rtol=1e-12, atol=1e-12
    )
    print(f"hvp(v) equals H @ v to 1e-12: {same}")

    eigs = torch.linalg.eigvalsh(hessian)
    top, _, history = power_iteration(
        lambda u: hvp(loss_fn, theta, u), v, iters=40
    )
    print(
        f"eigvalsh: largest {eigs[-1]:.6g}, second {eigs[-2]:.6g}, "
        f"smallest {eigs[0]:.4g}, "
        f"{int((eigs < 0).sum())} of {len(eigs)} negative"
    )
    print(
        f"power iteration, 40 HVPs: {top:.6g}, equal to eigvalsh's to 1e-12: "
        f"{abs(top / eigs[-1].item() - 1) < 1e-12}"
    )
    err = [abs(h / eigs[-1].item() - 1) for h in history]
    print(
        "relative error after 5, 10, 20 HVPs: "
        f"{err[4]:.2e}, {err[9]:.2e}, {err[19]:.2e}"
    )

    _, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax0.plot(
        eigs.flip(0), ".", color="C0", label=r"eigenvalues of $H$ (eigvalsh)"
    )
    ax0.plot(0, top, "x", color="C1", markersize=10, label="power iteration")
    ax0.set_yscale("symlog", linthresh=1e-4)
    ax0.set(
        xlabel="rank (largest first)",
        ylabel=r"eigenvalue $\lambda_i$ (symlog)",
        title=f"Hessian spectrum of a {theta.numel()}-parameter MLP",
    )
    ax0.legend()
    ax1.semilogy(
        range(1, len(err) + 1),
        err,
        "o-",
        color="C0",
        markersize=3,
        label=r"$|\hat\lambda_k / \lambda_{max} - 1|$",
    )
    ratio = (eigs[-2] / eigs[-1]).item()
    rate = [(k + 1, err[0] * ratio ** (2 * k)) for k in range(len(err))]
    ax1.semilogy(
        *zip(*[(k, r) for k, r in rate if r > 1e-17], strict=True),
        "--",
        color="C1",
        label=r"$\propto (\lambda_2/\lambda_1)^{2k}$",
    )
    ax1.set(
        xlabel="Hessian-vector products $k$",
        ylabel="relative error",
        title="Power iteration converges geometrically",
    )
    ax1.legend()
    plt.show()


if __name__ == "__main__":
    main()
