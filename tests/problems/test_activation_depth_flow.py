"""Checks for activation_depth_flow.py: gains, init std, and the 50-layer picture."""

from __future__ import annotations

import math

import activation_depth_flow as af
import pytest
import torch
from torch import nn

DEPTH, WIDTH, BATCH = 50, 128, 256


def test_gains_are_torchs_where_torch_has_one() -> None:
    gains = {name: gain for name, (_, _, gain) in af.SETUPS.items()}
    assert gains["sigmoid"] == nn.init.calculate_gain("sigmoid") == 1
    assert gains["tanh"] == pytest.approx(5 / 3)
    assert gains["ReLU"] == pytest.approx(math.sqrt(2))
    assert gains["Leaky ReLU"] == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert gains["SELU"] == 1.0


def test_stack_has_the_stated_init(device: torch.device) -> None:
    torch.manual_seed(0)
    model = af.activation_stack(nn.Tanh, {}, 5 / 3, 6, 256).to(device)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    w = torch.cat([m.weight.detach().flatten() for m in linears[:-1]])
    assert float(w.std()) == pytest.approx((5 / 3) / 16, rel=0.01)
    assert all(bool((m.bias == 0).all()) for m in linears[:-1])
    assert len(linears) == 7 and sum(isinstance(m, nn.Tanh) for m in model) == 6


@pytest.fixture(scope="module")
def page_results() -> dict[str, tuple[list[float], nn.Sequential, torch.Tensor]]:
    torch.manual_seed(0)
    x = torch.randn(BATCH, WIDTH)
    y = torch.randn(BATCH, 1)
    out = {}
    for name, (activation, kwargs, gain) in af.SETUPS.items():
        torch.manual_seed(1)
        model = af.activation_stack(activation, kwargs, gain, DEPTH, WIDTH)
        out[name] = (af.weight_grad_norms(model, x, y), model, x)
    return out


def _ratio(norms: list[float]) -> float:
    return norms[0] / norms[-1]


def _hidden_stds(model: nn.Sequential, x: torch.Tensor) -> list[float]:
    stds, h = [], x
    with torch.no_grad():
        for m in model[:-1]:
            h = m(h)
            if not isinstance(m, nn.Linear):
                stds.append(float(h.std()))
    return stds


def test_sigmoid_vanishes(page_results) -> None:
    norms = page_results["sigmoid"][0]
    assert _ratio(norms) < 1e-25


def test_float32_norm_of_tiny_gradients_underflows(page_results) -> None:
    """The first sigmoid layer's entries are non-zero, but their squares (~1e-66) are below
    float32's range, so a float32 norm reports 0; the snippet takes norms in float64."""
    _, model, _ = page_results["sigmoid"]
    grad = model[0].weight.grad
    assert grad.dtype == torch.float32 and bool((grad != 0).all())
    assert float(grad.norm()) == 0.0
    assert float(grad.double().norm()) == pytest.approx(page_results["sigmoid"][0][0])


def test_relu_family_stays_level(page_results) -> None:
    for name in ["ReLU", "Leaky ReLU", "ELU"]:
        norms = page_results[name][0]
        assert max(norms) / min(norms) < 10


def test_tanh_with_gain_five_thirds_grows_towards_the_input(page_results) -> None:
    assert 10 < _ratio(page_results["tanh"][0]) < 1000


def test_selu_self_normalises(page_results) -> None:
    _, model, x = page_results["SELU"]
    assert _hidden_stds(model, x)[-1] == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("name", ["GELU", "SiLU"])
def test_gelu_silu_shrink_like_half_slope_times_gain(name: str, page_results) -> None:
    """Near 0, GELU(x) ~ x/2 and SiLU(x) ~ x/2, so a small signal is scaled by about
    gain * 1/2 = sqrt(2)/2 ~ 0.707 per layer."""
    _, model, x = page_results[name]
    stds = _hidden_stds(model, x)
    assert stds[-1] < 1e-3
    per_layer = (stds[-1] / stds[29]) ** (1 / 20)
    assert per_layer == pytest.approx(math.sqrt(2) / 2, rel=0.05)
