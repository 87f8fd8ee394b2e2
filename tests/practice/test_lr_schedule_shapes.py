"""Checks for lr_schedule_shapes.py: WSD and inverse square root against their
closed forms, and the best peak lr's growth with batch size for SGD and Adam."""

from __future__ import annotations

import math

import lr_schedule_shapes as lss
import pytest
import torch
from sitecheck import expanded_page
from torch import nn, optim
from torch.optim import lr_scheduler

T, W, D, LR = lss.STEPS, lss.WARMUP, lss.DECAY, lss.BASE_LR


def _wsd(t: int, cooldown) -> float:
    if t < W:
        return LR * (t + 1) / W
    if t < T - D:
        return LR
    return LR * cooldown((t - (T - D)) / D)


@pytest.mark.parametrize(
    ("shape", "cooldown"), [("linear", lambda x: 1 - x), ("1-sqrt", lambda x: 1 - x**0.5)]
)
def test_wsd_matches_its_closed_form(shape, cooldown) -> None:
    curve = lss.lr_curve(lss.wsd(T, W, D, shape))
    assert len(curve) == T
    for t, value in enumerate(curve):
        assert value == pytest.approx(_wsd(t, cooldown), rel=1e-12, abs=1e-18), (shape, t)
    assert curve[W - 1] == curve[T - D] == LR  # the stable phase is exactly the peak
    assert curve[-1] < LR / 100  # and the decay ends near 0


def test_wsd_linear_is_sequential_lr_of_three_linear_pieces() -> None:
    opt = optim.SGD([nn.Parameter(torch.zeros(1))], lr=LR)
    sched = lr_scheduler.SequentialLR(
        opt,
        [
            lr_scheduler.LinearLR(opt, start_factor=1 / W, end_factor=1.0, total_iters=W - 1),
            lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0),
            lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0, total_iters=D),
        ],
        milestones=[W, T - D],
    )
    sequential = []
    for _ in range(T):
        sequential.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert sequential == pytest.approx(lss.lr_curve(lss.wsd(T, W, D)), rel=1e-9, abs=1e-18)


def test_inverse_sqrt_is_vaswanis_schedule() -> None:
    d_model, warmup, steps = 512, 4000, 16_000
    curve = lss.lr_curve(lss.inverse_sqrt(warmup), steps, peak=(d_model * warmup) ** -0.5)
    for t, value in enumerate(curve):
        s = t + 1  # Vaswani et al. count steps from 1
        vaswani = d_model**-0.5 * min(s**-0.5, s * warmup**-1.5)
        assert value == pytest.approx(vaswani, rel=1e-12), t
    assert max(curve) == pytest.approx(curve[warmup - 1])
    # after the peak, four times the steps halves the rate
    assert curve[4 * warmup - 1] == pytest.approx(curve[warmup - 1] / 2)


def test_best_lr_is_the_vertex_of_a_parabola_in_log_space() -> None:
    lrs = [1e-3 * k for k in lss.GRID]
    true_best = 1e-3 * 2**2.3  # off the grid
    losses = torch.tensor(
        [math.exp(math.log2(lr / true_best) ** 2) for lr in lrs], dtype=torch.float64
    )
    assert lss.best_lr(lrs, losses) == pytest.approx(true_best, rel=1e-9)


@pytest.fixture(scope="module")
def ratios() -> dict[str, list[float]]:
    """Best lr at batch 32 over best lr at batch 8, three seeds."""
    out: dict[str, list[float]] = {}
    for name, low in lss.LRS.items():
        lrs = [low * k for k in lss.GRID]
        out[name] = []
        for seed in range(3):
            best = {b: lss.best_lr(lrs, lss.excess_loss(name, b, lrs, seed)) for b in (8, 32)}
            # the best lr lies inside the swept grid, not at its edge
            assert all(lrs[1] < v < lrs[-2] for v in best.values()), (name, seed)
            out[name].append(best[32] / best[8])
    return out


@pytest.mark.trajectory
def test_batch_x4_scales_best_lr_x4_for_sgd_and_x2_for_adam(ratios) -> None:
    """Measured over seeds 0-5: SGD 3.78-4.19, Adam 1.95-2.15; margins sit outside that."""
    assert all(3.3 < r < 4.7 for r in ratios["SGD"]), ratios
    assert all(1.6 < r < 2.5 for r in ratios["Adam"]), ratios


def test_the_page_section_shows_the_schedules_and_the_scaling_rules() -> None:
    page = " ".join(expanded_page("docs/practice/lr-schedules.md").split())
    for phrase in ("Warmup-stable-decay", "LambdaLR", "Malladi", "square root", "#goyal2017"):
        assert phrase in page
    assert "../deeper/noise-scale.md#" in page
    noise = expanded_page("docs/deeper/noise-scale.md")
    assert "lr-schedules.md#how-the-peak-rate-scales-with-batch-size" in noise
