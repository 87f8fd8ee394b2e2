"""Checks for activation_variance_map.py: the variance map and GELU's fading."""

from __future__ import annotations

import itertools
import math

import activation_variance_map as vm
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sitecheck import expanded_page

QS = np.logspace(-4, 4, 41).tolist()


def test_grid_expectation_matches_closed_forms() -> None:
    """E[z^2] = q; E[relu(z)^2] = q/2; tanh's small-signal slope is 1."""
    assert vm.variance_ratio(lambda z: z, 1.0, 3.0) == pytest.approx(1.0, abs=1e-9)
    for q in [1e-4, 1.0, 1e4]:
        assert vm.variance_ratio(torch.relu, 2**0.5, q) == pytest.approx(1.0, abs=1e-6)
    assert vm.variance_ratio(torch.tanh, 1.0, 1e-8) == pytest.approx(1.0, abs=1e-6)


def test_variance_map_matches_a_wide_random_layer() -> None:
    """The mean-field ratio is what a wide layer with std gain/sqrt(n) weights does."""
    torch.manual_seed(0)
    n, q, gain = 2048, 1.0, 2**0.5
    z = torch.randn(4096, n, dtype=torch.float64) * math.sqrt(q)
    w = torch.randn(n, n, dtype=torch.float64) * gain / math.sqrt(n)
    measured = float((F.gelu(z) @ w.T).var()) / q
    assert measured == pytest.approx(vm.variance_ratio(F.gelu, gain, q), rel=0.03)


@pytest.mark.parametrize("name", ["GELU", "SiLU"])
@pytest.mark.parametrize("gain", [1.0, 2**0.5, 1.8, 2.0, 3.0])
def test_gelu_silu_map_rises_from_quarter_to_half_gain_squared(name: str, gain: float) -> None:
    """The ratio rises monotonically from gain^2/4 (slope 1/2 at 0) to gain^2/2 (the ReLU
    limit), so a fixed point, where there is one, is unstable at every gain."""
    f = vm.ACTIVATIONS[name][0]
    ratios = [vm.variance_ratio(f, gain, q) for q in QS]
    assert all(b > a for a, b in itertools.pairwise(ratios))
    assert ratios[0] == pytest.approx(gain**2 / 4, rel=2e-3)
    assert ratios[-1] == pytest.approx(gain**2 / 2, rel=2e-3)


def test_tanh_map_falls_so_its_fixed_point_is_stable() -> None:
    ratios = [vm.variance_ratio(torch.tanh, 5 / 3, q) for q in QS]
    assert all(b < a for a, b in itertools.pairwise(ratios))
    assert ratios[0] > 1 > ratios[-1]


def test_gelu_stack_ratio_is_level_while_the_level_fades() -> None:
    """||dL/dW_l|| ~ ||dL/dz_l|| ||a_(l-1)||: the input shrinks by ~sqrt(2)/2 per layer
    going forward, the gradient at z grows by ~sqrt(2) per layer, and the product is level."""
    for seed in range(3):
        torch.manual_seed(seed)
        x = torch.randn(256, 128, dtype=torch.float64)
        y = torch.randn(256, 1, dtype=torch.float64)
        stack = vm.fading_stack(F.gelu, 2**0.5, 50, x, y)
        assert vm.per_layer(stack["input"], 30, 50) == pytest.approx(2**-0.5, rel=0.05)
        assert vm.per_layer(stack["delta"], 30, 50) == pytest.approx(2**0.5, rel=0.05)
        assert vm.per_layer(stack["weight"], 30, 50) == pytest.approx(1.0, abs=0.08)
        assert stack["input"][-1] / stack["input"][0] < 1e-3


def test_page_states_the_no_fixed_point_argument() -> None:
    page = expanded_page("docs/problems/activations.md")
    assert "no stable" in page and "snippets/problems/activation_variance_map.py" in page
