"""Checks for dying_relu.py: dead units get exactly zero gradient; Leaky ones recover."""

from __future__ import annotations

import itertools

import dying_relu as dr
import pytest
import torch
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def test_dead_mask_definition(device: torch.device) -> None:
    layer = nn.Linear(2, 3).to(device)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, -1.0], [0.0, 1.0]]))
        layer.bias.copy_(torch.tensor([0.0, -0.1, -5.0]))
    x = torch.rand(50, 2, device=device)  # non-negative inputs in [0, 1)
    assert dr.dead_mask(layer, x).tolist() == [False, True, True]
    assert dr.dead_fraction(layer, x) == pytest.approx(2 / 3)


def test_dead_relu_units_get_exactly_zero_gradient(device: torch.device) -> None:
    torch.manual_seed(0)
    x, y = dr.teacher_data(256, 8)
    x, y = x.to(device), y.to(device)
    model = dr.MeanReadoutNet(8, 32, nn.ReLU()).to(device)
    with torch.no_grad():
        model.hidden.bias[:10] = -100.0  # units 0..9 are dead for every input
    model.zero_grad()
    dr.mse(model, x, y).backward()
    dead = dr.dead_mask(model.hidden, x)
    assert bool(dead[:10].all())
    assert bool((model.hidden.weight.grad[dead] == 0).all())
    assert bool((model.hidden.bias.grad[dead] == 0).all())


def test_leaky_units_below_zero_still_get_a_gradient(device: torch.device) -> None:
    torch.manual_seed(0)
    x, y = dr.teacher_data(256, 8)
    x, y = x.to(device), y.to(device)
    model = dr.MeanReadoutNet(8, 32, nn.LeakyReLU(0.01)).to(device)
    with torch.no_grad():
        model.hidden.bias[:10] = -100.0
    model.zero_grad()
    dr.mse(model, x, y).backward()
    # dL/db_j = 0.01 * (1/H) * mean(2 (y_hat - y)) for a unit that is negative everywhere
    residual = 2 * (model(x) - y).detach().mean()
    expected = 0.01 / 32 * residual
    torch.testing.assert_close(model.hidden.bias.grad[:10], expected.expand(10))
    assert bool((model.hidden.bias.grad[:10] != 0).all())


@pytest.fixture(scope="module")
def page_runs() -> dict[str, dict]:
    torch.manual_seed(0)
    x, y = dr.teacher_data(512, 8)
    return {
        "relu": dr.experiment(nn.ReLU(), x, y),
        "leaky": dr.experiment(nn.LeakyReLU(0.01), x, y),
    }


def test_large_step_kills_many_units(page_runs) -> None:
    for run in page_runs.values():
        assert float(run["killed"].float().mean()) > 0.5
        assert run["dead"][300] > 3 * run["dead"][299]


def test_relu_dead_set_never_shrinks(page_runs) -> None:
    run = page_runs["relu"]
    assert run["grad_dead"] == 0.0
    assert bool((run["still"] | ~run["killed"]).all())  # every killed unit is still dead
    after = run["dead"][300:]
    assert all(a <= b for a, b in itertools.pairwise(after))


def test_leaky_units_come_back_and_the_loss_is_lower(page_runs) -> None:
    relu, leaky = page_runs["relu"], page_runs["leaky"]
    assert leaky["grad_dead"] > 0
    back = int((leaky["killed"] & ~leaky["still"]).sum())
    assert back >= 0.9 * int(leaky["killed"].sum())
    assert max(leaky["dead"][309:]) == 0.0  # none left ten steps after the large one
    assert 10 < relu["loss"][-1] / leaky["loss"][-1] < 15
