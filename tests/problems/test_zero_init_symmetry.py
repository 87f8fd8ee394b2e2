"""Checks for zero_init_symmetry.py: constant init gives identical units, forever."""

from __future__ import annotations

import re

import pytest
import torch
import zero_init_symmetry as zs
from sitecheck import expanded_page
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


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
    """main()'s three runs, and what the page says about them: zero init ends at the targets'
    variance (only the output bias learns), constant 0.5 gives identical gradient rows and units
    stuck at a high loss, random init breaks the symmetry and learns."""
    page = " ".join(expanded_page("docs/problems/initialization.md").split())
    x, y = _data(torch.device("cpu"))
    final, grads = {}, {}
    for name, value in [("zero", 0.0), ("const", 0.5), ("random", None)]:
        torch.manual_seed(1)
        model = zs.mlp(2, 8, nn.Tanh())
        if value is not None:
            zs.fill_(model, value)
        grads[name] = zs.unit_gradients(model, x, y)
        final[name] = zs.train(model, x, y, steps=2000, lr=0.1)[-1]
        spread = zs.unit_spread(zs.unit_parameters(model))
        assert (spread == 0.0) == (value is not None)
    assert final["zero"] == pytest.approx(float(y.var(unbiased=False)), rel=1e-3)  # only b2
    assert final["random"] < 0.1 * final["const"]
    assert zs.unit_spread(grads["const"]) == 0.0

    def quoted(pattern: str) -> list[float]:
        found = re.search(pattern, page)
        assert found, pattern
        return [float(v) for v in found.groups()]

    number = r"\$([-+]?[\d.]+)\$"
    (zero,) = quoted(r"the final loss " + number + r" is the targets' variance")
    assert zero == pytest.approx(final["zero"], abs=2e-4)
    row = quoted(r"identical, \$\(" + r", ".join([r"([-+][\d.]+)"] * 4) + r"\)\$ for every unit")
    assert row == pytest.approx(grads["const"][0].tolist(), abs=2e-4)
    (const,) = quoted(r"stuck at a loss of " + number)
    (random,) = quoted(r"breaks the symmetry and reaches " + number)
    assert (const, random) == pytest.approx((final["const"], final["random"]), abs=2e-4)
