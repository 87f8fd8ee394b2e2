"""Checks for hessian_power_iteration.py: HVPs by double backward, power iteration."""

from __future__ import annotations

import math

import hessian_power_iteration as hp
import pytest
import torch


@pytest.fixture(scope="module")
def problem(device):
    model, x, y = hp.make_problem(device=device)
    loss_fn, theta = hp.flat_loss(model, x, y)
    hessian = torch.autograd.functional.hessian(loss_fn, theta)
    return loss_fn, theta, hessian


def test_parameter_count_and_loss(problem, device) -> None:
    loss_fn, theta, hessian = problem
    assert theta.numel() == (4 * 16 + 16) + (16 * 16 + 16) + (16 + 1) == 369
    assert hessian.shape == (369, 369)
    model, x, y = hp.make_problem(device=device)
    assert loss_fn(theta).item() == pytest.approx(
        0.5 * torch.nn.functional.mse_loss(model(x), y).item(), rel=1e-12
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hvp_equals_full_hessian_times_v(problem, seed, device) -> None:
    loss_fn, theta, hessian = problem
    v = torch.randn(
        theta.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(seed)
    ).to(device)
    torch.testing.assert_close(hp.hvp(loss_fn, theta, v), hessian @ v, rtol=1e-10, atol=1e-12)


def test_hvp_equals_central_differences_of_the_gradient(problem, device) -> None:
    loss_fn, theta, _ = problem

    def gradient(t):
        t = t.detach().requires_grad_(True)
        return torch.autograd.grad(loss_fn(t), t)[0]

    v = torch.randn(
        theta.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(3)
    ).to(device)
    h = 1e-5
    fd = (gradient(theta + h * v) - gradient(theta - h * v)) / (2 * h)
    torch.testing.assert_close(hp.hvp(loss_fn, theta, v), fd, rtol=1e-6, atol=1e-8)


def test_hessian_is_symmetric_and_indefinite_at_init(problem) -> None:
    _, _, hessian = problem
    torch.testing.assert_close(hessian, hessian.T, rtol=1e-12, atol=1e-14)
    eigs = torch.linalg.eigvalsh(hessian)
    assert eigs[0] < 0 < eigs[-1]
    assert abs(eigs[0]) < eigs[-1]  # so the largest-magnitude eigenvalue is the top one


def test_power_iteration_finds_eigvalsh_top_eigenvalue(problem, device) -> None:
    loss_fn, theta, hessian = problem
    eigs, vecs = torch.linalg.eigh(hessian)
    v0 = torch.randn(
        theta.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    ).to(device)
    lam, v, history = hp.power_iteration(lambda u: hp.hvp(loss_fn, theta, u), v0, iters=40)
    assert lam == pytest.approx(eigs[-1].item(), rel=1e-12)
    assert abs((v @ vecs[:, -1]).item()) == pytest.approx(1.0, abs=1e-6)  # the eigenvector
    torch.testing.assert_close(hessian @ v, lam * v, rtol=0, atol=1e-6)
    assert len(history) == 40


def test_rayleigh_quotient_error_shrinks_like_ratio_squared(problem, device) -> None:
    """Error of v^T H v after k steps ~ (lambda_2 / lambda_1)^(2k), lambda_2 the runner-up."""
    loss_fn, theta, hessian = problem
    eigs = torch.linalg.eigvalsh(hessian)
    lam1, lam2 = eigs[-1].item(), max(eigs[-2].item(), abs(eigs[0].item()))
    v0 = torch.randn(
        theta.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    ).to(device)
    _, _, history = hp.power_iteration(lambda u: hp.hvp(loss_fn, theta, u), v0, iters=25)
    err = [abs(h / lam1 - 1) for h in history]
    slope = (math.log(err[24]) - math.log(err[9])) / 15
    assert slope == pytest.approx(2 * math.log(lam2 / lam1), rel=0.05)


def test_power_iteration_returns_the_largest_magnitude_not_the_largest(device) -> None:
    q, _ = torch.linalg.qr(
        torch.randn(6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    )
    q = q.to(device)
    lams = torch.tensor([-5.0, -1.0, 0.5, 1.0, 2.0, 3.0], dtype=torch.float64, device=device)
    a = q @ torch.diag(lams) @ q.T
    v0 = torch.ones(6, dtype=torch.float64, device=device)
    lam, _, _ = hp.power_iteration(lambda u: a @ u, v0, iters=200)
    assert lam == pytest.approx(-5.0, rel=1e-10)
    # shifting by the magnitude makes the top eigenvalue dominant: H + 5 I has 8 on top
    shifted, _, _ = hp.power_iteration(lambda u: a @ u + 5.0 * u, v0, iters=200)
    assert shifted - 5.0 == pytest.approx(3.0, rel=1e-10)


# torch's forward-mode AD loads TorchScript decompositions on first use, which warns
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_forward_over_reverse_gives_the_same_product(problem, device) -> None:
    """The page's aside: torch.func.jvp(grad(f), (theta,), (v,)) is also H v."""
    from torch.func import grad, jvp

    loss_fn, theta, _ = problem
    v = torch.randn(
        theta.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(4)
    ).to(device)
    _, hv = jvp(grad(loss_fn), (theta,), (v,))
    torch.testing.assert_close(hp.hvp(loss_fn, theta, v), hv, rtol=1e-10, atol=1e-12)


def test_one_gradient_graph_serves_many_products(problem, device) -> None:
    """The page's advice: compute g once with create_graph=True and take every further HVP
    through that graph with retain_graph=True; the products equal the helper's, which
    recomputes g each time."""
    loss_fn, theta, _ = problem
    leaf = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(loss_fn(leaf), leaf, create_graph=True)
    gen = torch.Generator().manual_seed(5)
    for _ in range(3):
        v = torch.randn(theta.numel(), dtype=torch.float64, generator=gen).to(device)
        (hv,) = torch.autograd.grad(g, leaf, grad_outputs=v, retain_graph=True)
        torch.testing.assert_close(hv, hp.hvp(loss_fn, theta, v), rtol=1e-12, atol=1e-14)
    with pytest.raises(RuntimeError):  # without retain_graph the graph is gone after one use
        torch.autograd.grad(g, leaf, grad_outputs=v)
        torch.autograd.grad(g, leaf, grad_outputs=v)


def test_machine_precision_after_about_thirty_products(problem, device) -> None:
    loss_fn, theta, hessian = problem
    top = torch.linalg.eigvalsh(hessian)[-1].item()
    v0 = torch.randn(
        theta.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    ).to(device)
    _, _, history = hp.power_iteration(lambda u: hp.hvp(loss_fn, theta, u), v0, iters=40)
    err = [abs(h / top - 1) for h in history]
    assert err[24] > 1e-13  # still converging after 25 products
    assert max(err[32:]) < 1e-14  # at the float64 floor from 33 on
