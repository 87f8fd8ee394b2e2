"""Checks for sigmoid_gain_sweep.py: sigma' <= 1/4 does not stop a sigmoid stack from
exploding once the weights are large enough."""

from __future__ import annotations

import itertools
import math

import pytest
import sigmoid_gain_sweep as sg
import torch
from sitecheck import expanded_page

DEPTH, WIDTH, BATCH = 50, 128, 256
SEEDS = [0, 1, 2, 3]


def hand_backward(
    weights: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> list[torch.Tensor]:
    """The delta recursion in row form: delta_l = (delta_{l+1} W_{l+1}) * sigma'(z_l)."""
    acts = [x]
    for W in weights:
        acts.append(torch.sigmoid(acts[-1] @ W.T))
    a_out = acts[-1]
    delta = 2 * (a_out - y) / a_out.numel() * a_out * (1 - a_out)
    grads = []
    for layer in reversed(range(len(weights))):
        grads.append(delta.T @ acts[layer])  # dL/dW_l = delta_l^T a_{l-1}
        a = acts[layer]
        delta = (delta @ weights[layer]) * a * (1 - a)
    return grads[::-1]


def ratios_for_seed(seed: int) -> dict[float, tuple[float, float, float]]:
    """gain -> (first-to-last ratio, factor per layer, RMS sigma'), data and weights from seed."""
    torch.manual_seed(100 + seed)
    x = torch.randn(BATCH, WIDTH, dtype=torch.float64)
    y = torch.randn(BATCH, WIDTH, dtype=torch.float64)
    out = {}
    for gain in sg.GAINS:
        torch.manual_seed(seed)
        norms, rms = sg.sigmoid_stack_grads(sg.gained_weights(DEPTH, WIDTH, gain), x, y)
        out[gain] = (norms[0] / norms[-1], sg.factor_per_layer(norms), rms)
    return out


@pytest.fixture(scope="module")
def sweeps() -> dict[int, dict[float, tuple[float, float, float]]]:
    return {seed: ratios_for_seed(seed) for seed in SEEDS}


def test_gradients_match_the_hand_written_recursion() -> None:
    torch.manual_seed(0)
    x = torch.randn(16, 12, dtype=torch.float64)
    y = torch.randn(16, 12, dtype=torch.float64)
    for gain in [1.0, 16.0]:
        weights = sg.gained_weights(6, 12, gain)
        norms, _ = sg.sigmoid_stack_grads(weights, x, y)
        expected = [float(g.norm()) for g in hand_backward(weights, x, y)]
        assert norms == pytest.approx(expected, rel=1e-12)


def test_weights_have_the_stated_std() -> None:
    torch.manual_seed(0)
    ws = sg.gained_weights(4, 256, 8.0)
    assert all(W.dtype == torch.float64 and W.shape == (256, 256) for W in ws)
    assert float(torch.cat([W.flatten() for W in ws]).std()) == pytest.approx(
        8 / math.sqrt(256), rel=0.01
    )


def test_the_activation_factor_stays_below_a_quarter_at_every_gain(sweeps) -> None:
    """sigma' <= 1/4 holds everywhere; larger weights only saturate more units."""
    for sweep in sweeps.values():
        slopes = [rms for _, _, rms in sweep.values()]
        assert all(s <= 0.25 for s in slopes)
        assert all(a > b for a, b in itertools.pairwise(slopes))


def test_vanishes_at_small_gain_and_grows_at_large_gain(sweeps) -> None:
    """Across seeds (measured: gain 1 about 3e-32 to 4e-32, gain 12 from 5 to 11, gain 16
    from 5e3 to 2.4e4), with margins of orders of magnitude except at gain 12 (5x)."""
    for seed, sweep in sweeps.items():
        ratio = {gain: r for gain, (r, _, _) in sweep.items()}
        assert ratio[1.0] < 1e-25, seed
        assert ratio[8.0] < 0.1, seed
        assert ratio[12.0] > 1, seed
        assert ratio[16.0] > 1e3, seed
        assert all(a < b for a, b in itertools.pairwise(ratio.values())), seed


def test_the_factor_per_layer_is_gain_times_rms_slope(sweeps) -> None:
    """Mean field: a layer multiplies the gradient by about g * RMS(sigma'); measured 0.95-0.98."""
    for sweep in sweeps.values():
        for gain, (_, factor, rms) in sweep.items():
            assert 0.9 < factor / (gain * rms) < 1.02, gain


def test_the_page_states_the_rule_with_its_condition() -> None:
    page = " ".join(expanded_page("docs/problems/vanishing-exploding.md").split())
    assert "## A sigmoid stack can explode too" in page
    assert "every sigmoid layer costs at least a factor of four" not in page.lower()
    assert "length-preserving" in page
