"""Checks for lr_schedules.py: each torch scheduler against its closed form."""

from __future__ import annotations

import itertools
import math

import lr_schedules as lrs
import pytest
import torch

T, W, LR = lrs.STEPS, lrs.WARMUP, lrs.BASE_LR


def _warmup(t: int) -> float:
    return LR * (1 / W + (1 - 1 / W) * t / W)


def _cosine(t: int, lo: float, hi: float, period: int) -> float:
    return lo + (hi - lo) * (1 + math.cos(math.pi * t / period)) / 2


CLOSED_FORMS = {
    "constant": lambda t: LR,
    "step (x0.3 every 300)": lambda t: LR * 0.3 ** (t // 300),
    "cosine": lambda t: _cosine(t, 0.0, LR, T),
    "warmup + cosine to 10%": lambda t: (
        _warmup(t) if t < W else _cosine(t - W, 0.1 * LR, LR, T - W)
    ),
    "warmup + linear decay to 0": lambda t: _warmup(t) if t < W else LR * (1 - (t - W) / (T - W)),
}


@pytest.mark.parametrize("name", list(CLOSED_FORMS))
def test_scheduler_matches_closed_form(name) -> None:
    curve = lrs.lr_curve(lrs.schedules()[name])
    assert len(curve) == T
    for t, value in enumerate(curve):
        assert value == pytest.approx(CLOSED_FORMS[name](t), rel=1e-6, abs=1e-15), (name, t)


def test_warmup_shape() -> None:
    for name in ("warmup + cosine to 10%", "warmup + linear decay to 0"):
        curve = lrs.lr_curve(lrs.schedules()[name])
        assert curve[0] == pytest.approx(LR / W)
        assert curve[W] == pytest.approx(LR) and max(curve) == pytest.approx(LR)
        assert all(a < b for a, b in itertools.pairwise(curve[: W + 1]))
    assert lrs.lr_curve(lrs.schedules()["warmup + cosine to 10%"])[-1] == pytest.approx(
        0.1 * LR, rel=1e-3
    )


def test_stepping_the_scheduler_first_warns() -> None:
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    sched = lrs.schedules()["cosine"](opt)
    with pytest.warns(UserWarning, match="optimizer.step"):
        sched.step()  # before any optimizer.step()
