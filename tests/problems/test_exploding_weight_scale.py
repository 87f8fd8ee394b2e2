"""Checks for exploding_weight_scale.py: per-layer gain and where float32 overflows."""

from __future__ import annotations

import math

import exploding_weight_scale as ew
import pytest
import torch
from sitecheck import expanded_page

DEPTH, WIDTH, BATCH = 50, 64, 64


def test_weights_have_the_stated_std() -> None:
    torch.manual_seed(0)
    ws = ew.scaled_he_weights(10, 256, 1.5)
    std = float(torch.cat([w.flatten() for w in ws[:-1]]).std())
    assert std == pytest.approx(1.5 * math.sqrt(2 / 256), rel=0.01)


def test_backward_signals_match_autograd(device: torch.device) -> None:
    torch.manual_seed(0)
    ws = ew.scaled_he_weights(4, 8, 1.0, device=device)
    x = torch.randn(5, 8, device=device)
    y = torch.randn(5, 1, device=device)
    loss, norms, grad_w1 = ew.backward_signals(ws, x, y)
    params = [w.clone().requires_grad_(True) for w in ws]
    a = x
    for w in params[:-1]:
        a = torch.relu(a @ w.T)
    ref = ((a @ params[-1].T - y) ** 2).mean()
    (g1,) = torch.autograd.grad(ref, params[0])
    assert loss == pytest.approx(float(ref.detach()), rel=1e-6)
    torch.testing.assert_close(grad_w1, g1)
    assert len(norms) == 4


@pytest.mark.parametrize("scale", [0.8, 1.2, 1.5])
def test_each_layer_multiplies_the_signal_by_about_s(scale: float) -> None:
    """E||delta_l||^2 = (1/2) n (2 s^2 / n) ||delta_{l+1}||^2 = s^2 ||delta_{l+1}||^2."""
    torch.manual_seed(0)
    x = torch.randn(BATCH, WIDTH)
    y = torch.randn(BATCH, 1)
    gains = []
    for seed in range(3):
        torch.manual_seed(seed + 1)
        _, norms, _ = ew.backward_signals(ew.scaled_he_weights(DEPTH, WIDTH, scale), x, y)
        gains.append(ew.mean_gain_per_layer(norms))
    assert sum(gains) / len(gains) == pytest.approx(scale, rel=0.05)


def test_mean_gain_per_layer_is_a_geometric_mean() -> None:
    assert ew.mean_gain_per_layer([8.0, 4.0, 2.0, 1.0]) == pytest.approx(2.0)
    assert ew.mean_gain_per_layer([1.0, 4.0, 1.0]) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def page_sweep() -> dict[float, tuple[float, float, bool]]:
    torch.manual_seed(0)
    x = torch.randn(BATCH, WIDTH)
    y = torch.randn(BATCH, 1)
    scales = [round(1.0 + 0.1 * i, 1) for i in range(21)]
    return ew.scale_sweep(scales, DEPTH, WIDTH, x, y), ew.scale_sweep(
        scales, DEPTH, WIDTH, x.double(), y.double()
    )


def test_overflow_scales_quoted_on_the_page(page_sweep) -> None:
    sweep32, _ = page_sweep
    loss_inf = min(s for s, (loss, _, _) in sweep32.items() if not math.isfinite(loss))
    overflow = min(s for s, (_, _, ok) in sweep32.items() if not ok)
    page = " ".join(expanded_page("docs/problems/vanishing-exploding.md").split())
    assert f"From $s = {loss_inf}$ the **loss** is `inf`" in page
    assert f"From $s = {overflow}$ an intermediate overflows to `inf`" in page
    assert f"the overflow scales are {loss_inf} (loss) and {overflow} (gradient)" in page


def test_overflow_is_predicted_by_the_same_net_in_float64(page_sweep) -> None:
    """Independent of float32: the float32 loss is inf exactly where the float64 sum of squared
    residuals (the mean's numerator) passes float32's max, and the gradient goes non-finite
    where the float64 gradient's entries would."""
    sweep32, sweep64 = page_sweep
    big = torch.finfo(torch.float32).max
    for s, (loss32, _, _) in sweep32.items():
        loss64 = sweep64[s][0]
        assert math.isfinite(loss64)
        assert math.isfinite(loss32) == (loss64 * BATCH < big)
    # the last finite float32 scale has its largest entry below float32 max; the float64 run
    # shows the first non-finite scale's gradient entries would exceed it
    overflow = min(s for s, (_, _, ok) in sweep32.items() if not ok)
    assert sweep64[round(overflow - 0.1, 1)][1] < big
    assert sweep64[overflow][1] > big


def test_float64_grads_grow_by_about_s_squared_per_layer(page_sweep) -> None:
    """dL/dW_1 carries the backward product (~s^L) and the forward output (~s^L): ~s^(2L)."""
    _, sweep64 = page_sweep
    slope = (math.log(sweep64[2.5][1]) - math.log(sweep64[2.0][1])) / (
        math.log(2.5) - math.log(2.0)
    )
    assert slope == pytest.approx(2 * DEPTH, rel=0.1)


def test_float32_norms_overflow_and_underflow_before_the_entries_do() -> None:
    big = torch.full((4,), 2e19)
    assert bool(torch.isfinite(big).all()) and float(big.norm()) == math.inf
    assert float(big.double().norm()) == pytest.approx(4e19)
    tiny = torch.full((4,), 1e-23)
    assert bool((tiny > 0).all()) and float(tiny.norm()) == 0.0
    assert float(tiny.double().norm()) == pytest.approx(2e-23, rel=1e-6)
