"""Checks for per_example_grads.py: torch.func per-example gradients, three ways."""

from __future__ import annotations

import per_example_grads as peg
import pytest
import torch
from torch import nn


def _setup(device, n=12, d=5, classes=3):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(d, 7), nn.Tanh(), nn.Linear(7, classes)).to(device)
    x = torch.randn(n, d, device=device)
    y = torch.randint(0, classes, (n,), device=device)
    return model, x, y


def test_vmap_equals_loop(device) -> None:
    model, x, y = _setup(device)
    fast = peg.per_example_grads(model, x, y)
    slow = peg.per_example_grads_loop(model, x, y)
    assert set(fast) == set(slow) == {name for name, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        assert fast[name].shape == (len(x), *p.shape)
        torch.testing.assert_close(fast[name], slow[name], atol=1e-6, rtol=1e-5)


def test_mean_of_per_example_grads_is_the_batch_gradient(device) -> None:
    model, x, y = _setup(device)
    fast = peg.per_example_grads(model, x, y)
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(fast[name].mean(0), p.grad, atol=1e-6, rtol=1e-5)


def test_softmax_regression_closed_form(device) -> None:
    """dL_i/dW = (softmax(W x_i + b) - onehot(y_i)) x_i^T, dL_i/db = softmax - onehot."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 3)).to(device).double()
    x = torch.randn(9, 4, device=device, dtype=torch.float64)
    y = torch.randint(0, 3, (9,), device=device)
    grads = peg.per_example_grads(model, x, y)
    with torch.no_grad():
        r = torch.softmax(model(x), dim=1) - nn.functional.one_hot(y, 3).double()  # (N, C)
    torch.testing.assert_close(grads["0.weight"], r[:, :, None] * x[:, None, :])
    torch.testing.assert_close(grads["0.bias"], r)


def test_flat_norms() -> None:
    grads = {"a": torch.tensor([[3.0], [0.0]]), "b": torch.tensor([[4.0, 0.0], [0.0, 2.0]])}
    torch.testing.assert_close(peg.flat_norms(grads), torch.tensor([5.0, 2.0]))


def test_batchnorm_in_training_mode_has_no_per_example_gradient() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Linear(6, 2))
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    with pytest.raises(RuntimeError):
        peg.per_example_grads(model, x, y)
    model.eval()  # running statistics: each example's loss depends on that example only
    fast = peg.per_example_grads(model, x, y)
    slow = peg.per_example_grads_loop(model, x, y)
    for name in fast:
        torch.testing.assert_close(fast[name], slow[name], atol=1e-6, rtol=1e-5)
