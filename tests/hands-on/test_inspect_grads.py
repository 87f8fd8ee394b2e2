"""Checks for inspect_grads.py: .grad, zero_grad, retain_grad, autograd.grad."""

from __future__ import annotations

import warnings

import inspect_grads as ig
import pytest
import torch
from torch import nn


def test_grad_norms_reads_every_grad_and_skips_missing(device) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2)).to(device)
    model[2].bias.requires_grad_(False)  # never gets a .grad
    model(torch.randn(3, 5, device=device)).sum().backward()
    norms = ig.grad_norms(model)
    assert set(norms) == {"0.weight", "0.bias", "2.weight"}
    for name, p in model.named_parameters():
        if name in norms:
            assert norms[name] == pytest.approx(torch.sqrt((p.grad**2).sum()).item(), rel=1e-6)


@pytest.mark.parametrize(("n", "d"), [(1, 10), (4, 10), (7, 3)])
def test_hand_formula_matches_autograd(n, d, device) -> None:
    torch.manual_seed(n + d)
    W = torch.randn(1, d, dtype=torch.float64, device=device, requires_grad=True)
    b = torch.randn(1, dtype=torch.float64, device=device, requires_grad=True)
    x = torch.randn(n, d, dtype=torch.float64, device=device)
    y = torch.randn(n, 1, dtype=torch.float64, device=device)
    nn.functional.mse_loss(x @ W.T + b, y).backward()
    dW, db = ig.linear_mse_grads(W.detach(), b.detach(), x, y)
    torch.testing.assert_close(dW, W.grad)
    torch.testing.assert_close(db, b.grad)


def test_backward_accumulates_into_grad(device) -> None:
    torch.manual_seed(0)
    model = nn.Linear(6, 1).to(device)
    x, y = torch.randn(5, 6, device=device), torch.randn(5, 1, device=device)
    once = ig.grad_after_backwards(model, x, y, times=1)
    thrice = ig.grad_after_backwards(model, x, y, times=3)
    torch.testing.assert_close(thrice, 3 * once)


def test_zero_grad_sets_none_by_default_and_zeros_on_request(device) -> None:
    model = nn.Linear(3, 1).to(device)
    model(torch.randn(2, 3, device=device)).sum().backward()
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None
    model(torch.randn(2, 3, device=device)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert torch.equal(model.weight.grad, torch.zeros_like(model.weight))


def test_hidden_grad_matches_hand_derivation(device) -> None:
    torch.manual_seed(1)
    mlp = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1)).to(device)
    x = torch.randn(4, 10, device=device)
    a1_grad, (dW2,) = ig.hidden_grad(mlp, x)
    with torch.no_grad():
        a1 = torch.relu(mlp[0](x))
        out = mlp[2](a1)  # (N, 1); loss = mean(out^2) so dL/dout = 2 out / N
        dout = 2 * out / out.numel()
    torch.testing.assert_close(a1_grad, dout @ mlp[2].weight)  # (N, 16)
    torch.testing.assert_close(dW2, dout.T @ a1)
    torch.testing.assert_close(mlp[2].weight.grad, dout.T @ a1)


def test_non_leaf_grad_is_not_kept_without_retain_grad(device) -> None:
    w = torch.randn(3, device=device, requires_grad=True)
    h = w * 2
    h.sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns when a non-leaf's .grad is read
        assert h.grad is None
    assert not h.retains_grad


def test_autograd_grad_leaves_dot_grad_alone(device) -> None:
    w = torch.randn(3, device=device, requires_grad=True)
    (g,) = torch.autograd.grad((w**2).sum(), w)
    torch.testing.assert_close(g, 2 * w.detach())
    assert w.grad is None


def test_optimizer_skips_none_grads_but_moves_on_zero_grads(device) -> None:
    """After one real step, Adam moves a zero-gradient parameter (momentum) but not a None one."""
    for set_to_none, should_move in ((True, False), (False, True)):
        torch.manual_seed(0)
        model = nn.Linear(3, 1).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
        model(torch.randn(4, 3, device=device)).sum().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=set_to_none)
        before = model.weight.detach().clone()
        optimizer.step()  # no backward in between
        assert (not torch.equal(model.weight, before)) == should_move
