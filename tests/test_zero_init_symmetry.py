"""Checks for snippets/zero_init_symmetry.py: constant init gives identical units, forever."""

from __future__ import annotations

import pytest
import torch
import zero_init_symmetry as zs
from torch import nn


def _data(device: torch.device):
    torch.manual_seed(0)
    x = torch.rand(256, 2, device=device) * 4 - 2
    y = torch.sin(2 * x[:, :1]) * torch.cos(x[:, 1:])
    return x, y


def test_unit_rows_layout(device: torch.device) -> None:
    model = zs.mlp(2, 3, nn.Tanh()).to(device)
    rows = zs.unit_parameters(model)
    assert rows.shape == (3, 4)
    torch.testing.assert_close(rows[:, :2], model[0].weight.detach())
    torch.testing.assert_close(rows[:, 2], model[0].bias.detach())
    torch.testing.assert_close(rows[:, 3], model[2].weight.detach()[0])
    assert zs.unit_spread(torch.ones(3, 4)) == 0.0
    assert zs.unit_spread(torch.tensor([[0.0], [2.0], [-1.0]])) == 2.0


def test_zero_init_tanh_gets_no_gradient_except_the_output_bias(device: torch.device) -> None:
    """a1 = tanh(0) = 0 kills dL/dW2, and W2 = 0 kills delta1 = (W2^T delta2) * tanh'(z1)."""
    x, y = _data(device)
    model = zs.fill_(zs.mlp(2, 8, nn.Tanh()).to(device), 0.0)
    grads = zs.unit_gradients(model, x, y)
    assert bool((grads == 0).all())
    assert float(model[2].bias.grad.abs()) > 0
    zs.train(model, x, y, steps=50, lr=0.1)
    assert bool((zs.unit_parameters(model) == 0).all())


def test_zero_init_sigmoid_hidden_units_share_one_gradient(device: torch.device) -> None:
    """With sigmoid, a1 = 0.5 for every unit: dL/dW1 = 0 and all entries of dL/dW2 are equal."""
    x, y = _data(device)
    model = zs.fill_(zs.mlp(2, 8, nn.Sigmoid()).to(device), 0.0)
    grads = zs.unit_gradients(model, x, y)
    assert bool((grads[:, :3] == 0).all())
    assert zs.unit_spread(grads) == 0.0 and float(grads[0, 3].abs()) > 0
    zs.train(model, x, y, steps=200, lr=0.1)
    rows = zs.unit_parameters(model)
    assert zs.unit_spread(rows) == 0.0 and float(rows[0].abs().max()) > 0


def test_constant_init_units_stay_identical(device: torch.device) -> None:
    x, y = _data(device)
    model = zs.fill_(zs.mlp(2, 8, nn.Tanh()).to(device), 0.5)
    assert zs.unit_spread(zs.unit_gradients(model, x, y)) == 0.0
    zs.train(model, x, y, steps=300, lr=0.1)
    assert zs.unit_spread(zs.unit_parameters(model)) == 0.0


def test_page_runs() -> None:
    """main()'s three runs: constant inits are stuck near the best 1-unit fit; random learns."""
    x, y = _data(torch.device("cpu"))
    final = {}
    for name, value in [("zero", 0.0), ("const", 0.5), ("random", None)]:
        torch.manual_seed(1)
        model = zs.mlp(2, 8, nn.Tanh())
        if value is not None:
            zs.fill_(model, value)
        final[name] = zs.train(model, x, y, steps=2000, lr=0.1)[-1]
        spread = zs.unit_spread(zs.unit_parameters(model))
        assert (spread == 0.0) == (value is not None)
    assert final["zero"] == pytest.approx(float(y.var(unbiased=False)), rel=1e-3)  # only b2
    assert final["random"] < 0.1 * final["const"]
