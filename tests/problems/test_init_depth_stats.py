"""Checks for init_depth_stats.py: per-layer std against the variance argument."""

from __future__ import annotations

import math

import init_depth_stats as ids
import pytest
import torch
from torch import nn

DEPTH, WIDTH, BATCH = 50, 128, 256


def test_build_uses_the_stated_std(device: torch.device) -> None:
    torch.manual_seed(0)
    model = ids.build(nn.ReLU, math.sqrt(2), 4, 256).to(device)
    linears = [m for m in model if isinstance(m, nn.Linear)][:-1]
    w = torch.cat([m.weight.detach().flatten() for m in linears])
    assert float(w.std()) == pytest.approx(math.sqrt(2 / 256), rel=0.01)
    assert all(bool((m.bias == 0).all()) for m in linears)
    default = ids.build(nn.ReLU, None, 2, 256)
    assert float(default[0].weight.detach().abs().max()) <= 1 / 16  # nn.Linear's own init kept


def test_layer_stats_match_a_manual_pass(device: torch.device) -> None:
    torch.manual_seed(0)
    model = ids.build(nn.Tanh, 1.0, 3, 8).to(device)
    x = torch.randn(16, 8, dtype=torch.float64, device=device)
    y = torch.randn(16, 1, dtype=torch.float64, device=device)
    a_std, g_std = ids.layer_stats(model, x, y)
    # by hand: a_l = tanh(z_l); dL/dz_l from autograd.grad on the explicit z list
    zs, h = [], x
    for lin in [m for m in model if isinstance(m, nn.Linear)][:-1]:
        z = lin(h)
        zs.append(z)
        h = torch.tanh(z)
    loss = nn.functional.mse_loss(model[-1](h), y)
    grads = torch.autograd.grad(loss, zs)
    assert a_std[-1] == pytest.approx(float(h.detach().std()))
    assert g_std == pytest.approx([float(g.std()) for g in grads])


@pytest.fixture(scope="module")
def page_stats() -> dict[tuple[str, str], tuple[list[float], list[float]]]:
    torch.manual_seed(0)
    x = torch.randn(BATCH, WIDTH, dtype=torch.float64)
    y = torch.randn(BATCH, 1, dtype=torch.float64)
    stats = {}
    for act_name, activation in [("tanh", nn.Tanh), ("ReLU", nn.ReLU)]:
        for init_name, scale in ids.INITS.items():
            torch.manual_seed(1)
            stats[act_name, init_name] = ids.layer_stats(
                ids.build(activation, scale, DEPTH, WIDTH), x, y
            )
    return stats


def _factor(values: list[float], lo: int, hi: int) -> float:
    """Geometric-mean ratio per layer from layer lo to layer hi (1-based)."""
    return (values[hi - 1] / values[lo - 1]) ** (1 / (hi - lo))


KEYS = list(ids.INITS)
SMALL, LARGE, XAVIER, HE, DEFAULT = KEYS


def test_relu_he_keeps_both_level(page_stats) -> None:
    a, g = page_stats["ReLU", HE]
    assert 0.1 < a[-1] < 3
    assert max(g) / min(g) < 10


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (SMALL, 0.5 / math.sqrt(2)),  # Var factor n * (0.25/n) * 1/2
        (XAVIER, 1 / math.sqrt(2)),  # n * (1/n) * 1/2: Xavier is half of what ReLU needs
        (LARGE, 3 / math.sqrt(2)),
    ],
)
def test_relu_forward_and_backward_factor_per_layer(key: str, expected: float, page_stats) -> None:
    a, g = page_stats["ReLU", key]
    assert _factor(a, 10, 50) == pytest.approx(expected, rel=0.05)
    assert 1 / _factor(g, 10, 50) == pytest.approx(expected, rel=0.05)


def test_relu_pytorch_default_gradient_shrinks_by_sqrt_six(page_stats) -> None:
    """Var[w] = 1/(3n): the backward factor is sqrt(n * 1/(3n) * 1/2) = 1/sqrt(6) per layer."""
    _, g = page_stats["ReLU", DEFAULT]
    assert 1 / _factor(g, 10, 50) == pytest.approx(1 / math.sqrt(6), rel=0.05)


def test_tanh_small_init_is_linear_regime(page_stats) -> None:
    """Small pre-activations: tanh(z) ~ z, so both directions scale by 0.5 per layer."""
    a, g = page_stats["tanh", SMALL]
    assert _factor(a, 10, 50) == pytest.approx(0.5, rel=0.02)
    assert 1 / _factor(g, 10, 50) == pytest.approx(0.5, rel=0.02)


def test_tanh_default_gradient_vanishes_like_one_over_sqrt3(page_stats) -> None:
    _, g = page_stats["tanh", DEFAULT]
    assert 1 / _factor(g, 10, 50) == pytest.approx(1 / math.sqrt(3), rel=0.05)
    assert g[0] / g[-1] < 1e-10


def test_tanh_large_init_saturates_and_gradients_grow_toward_the_input(page_stats) -> None:
    a, g = page_stats["tanh", LARGE]
    assert min(a) > 0.8  # most units near +-1
    assert g[0] / g[-1] > 1e5


def test_tanh_xavier_and_he_keep_gradients_within_a_factor_of_twenty(page_stats) -> None:
    for key in (XAVIER, HE):
        _, g = page_stats["tanh", key]
        assert max(g) / min(g) < 20


def test_mean_slope_matches_autograd(device: torch.device) -> None:
    torch.manual_seed(2)
    model = ids.build(nn.Tanh, 1.0, 4, 32).to(device)
    x = torch.randn(16, 32, dtype=torch.float64, device=device)
    slopes, h = [], x
    for module in model[:-1]:
        if isinstance(module, nn.Tanh):
            z = h.detach().requires_grad_()
            (slope,) = torch.autograd.grad(torch.tanh(z).sum(), z)
            slopes.append(slope.mean())
        h = module(h)
    assert ids.mean_slope(model, x) == pytest.approx(float(torch.stack(slopes).mean()))


def test_small_weights_are_the_linear_regime_not_the_flat_one() -> None:
    """The page's "Get right": too-small weights keep tanh' near 1 (linear regime); it is the
    too-large weights that saturate. On three seeds."""
    for seed in range(3):
        torch.manual_seed(seed)
        x = torch.randn(BATCH, WIDTH, dtype=torch.float64)
        small = ids.mean_slope(ids.build(nn.Tanh, 0.5, DEPTH, WIDTH), x)
        large = ids.mean_slope(ids.build(nn.Tanh, 3.0, DEPTH, WIDTH), x)
        assert small > 0.98 and large < 0.4
