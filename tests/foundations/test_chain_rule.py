"""Checks for chain_rule.py: three routes to one derivative, VJPs, the training step."""

from __future__ import annotations

import itertools

import chain_rule as cr
import pytest
import torch


def test_three_ways_agree(device: torch.device) -> None:
    x = torch.linspace(-3, 3, 61, dtype=torch.float64, device=device)
    by_hand = cr.dL_dx_by_hand(x)
    local, _ = cr.dL_dx_local_derivatives(x)
    torch.testing.assert_close(local, by_hand)
    torch.testing.assert_close(cr.dL_dx_autograd(x), by_hand)


def test_each_local_derivative_is_autograds(device: torch.device) -> None:
    x = torch.tensor([0.3, 1.1, 2.0], dtype=torch.float64, device=device)
    _, (df_dv, dg_du, dh_dx) = cr.dL_dx_local_derivatives(x)
    u = cr.h(x)
    v = cr.g(u)
    for fn, at, expected in ((cr.f, v, df_dv), (cr.g, u, dg_du), (cr.h, x, dh_dx)):
        at = at.detach().requires_grad_(True)
        (d,) = torch.autograd.grad(fn(at).sum(), at)
        torch.testing.assert_close(d, expected)


def test_scalar_chain_gradcheck() -> None:
    x = torch.tensor([0.3, 1.1, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: cr.f(cr.g(cr.h(t))), (x,))


@pytest.mark.parametrize(("n", "m"), [(3, 4), (1, 1), (7, 2), (5, 9)])
def test_jacobian_product_and_vjp_equal_autograd(n: int, m: int, device: torch.device) -> None:
    gen = torch.Generator().manual_seed(n * 10 + m)
    x, A, t = (
        torch.randn(*s, generator=gen, dtype=torch.float64).to(device) for s in ((n,), (m, n), (m,))
    )
    J = cr.jacobians(x, A, t)
    assert [tuple(j.shape) for j in J] == [(1, m), (m, m), (m, n)]
    u = A @ x
    v = torch.tanh(u)
    torch.testing.assert_close(
        J[0],
        torch.autograd.functional.jacobian(lambda vv: 0.5 * (vv - t).pow(2).sum(), v).unsqueeze(0),
    )
    torch.testing.assert_close(J[1], torch.autograd.functional.jacobian(torch.tanh, u))
    torch.testing.assert_close(J[2], torch.autograd.functional.jacobian(lambda xx: A @ xx, x))
    xr = x.detach().requires_grad_(True)
    (expected,) = torch.autograd.grad(cr.vector_chain(xr, A, t), xr)
    torch.testing.assert_close((J[0] @ J[1] @ J[2]).squeeze(0), expected)
    torch.testing.assert_close(cr.grad_by_vjp(x, A, t), expected)
    _, vjp = torch.func.vjp(lambda xx: cr.vector_chain(xx, A, t), x)
    torch.testing.assert_close(vjp(torch.ones((), dtype=x.dtype, device=device))[0], expected)


def test_backward_accumulates_and_zero_grad_clears() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1).double()
    X, Y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 1, dtype=torch.float64)
    torch.nn.functional.mse_loss(model(X), Y).backward()
    once = model.weight.grad.clone()
    torch.nn.functional.mse_loss(model(X), Y).backward()
    torch.testing.assert_close(model.weight.grad, 2 * once)
    torch.optim.SGD(model.parameters(), lr=0.1).zero_grad()
    assert model.weight.grad is None and model.bias.grad is None


def test_training_step_is_one_sgd_update(device: torch.device) -> None:
    torch.manual_seed(1)
    model = torch.nn.Linear(3, 1).double().to(device)
    X = torch.randn(8, 3, dtype=torch.float64, device=device)
    Y = torch.randn(8, 1, dtype=torch.float64, device=device)
    lr = 0.1
    W, b = model.weight.detach().clone(), model.bias.detach().clone()
    residual = X @ W.T + b - Y  # mse_loss = mean(residual^2)
    dW = 2 * residual.T @ X / 8
    db = 2 * residual.sum(0) / 8
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss = cr.training_step(model, optimizer, X, Y)
    assert loss == pytest.approx(residual.pow(2).mean().item())
    torch.testing.assert_close(model.weight.detach(), W - lr * dW)
    torch.testing.assert_close(model.bias.detach(), b - lr * db)
    assert model.weight.grad is None  # cleared for the next step


def test_training_steps_reduce_the_loss() -> None:
    torch.manual_seed(2)
    model = torch.nn.Linear(3, 1).double()
    X, Y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 1, dtype=torch.float64)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = [cr.training_step(model, optimizer, X, Y) for _ in range(5)]
    assert all(a > b for a, b in itertools.pairwise(losses))
