"""Checks for accumulation_clip.py: clip once per step, on the accumulated gradient."""

from __future__ import annotations

import accumulation_clip as ac
import pytest
import torch
from torch import nn


def _update(m: int, clip: str) -> torch.Tensor:
    return ac.accumulation_step(*ac.make_problem(), m, clip)


def _rel(u: torch.Tensor, ref: torch.Tensor) -> float:
    return ((u - ref).norm() / ref.norm()).item()


def test_full_batch_step_is_clipped() -> None:
    model, x, y = ac.make_problem()
    g = torch.autograd.grad(nn.functional.mse_loss(model(x), y), model.parameters())
    assert torch.sqrt(sum(t.pow(2).sum() for t in g)).item() > 2 * ac.MAX_NORM
    ref = ac.full_batch_update(*ac.make_problem())
    assert ref.norm().item() == pytest.approx(ac.LR * ac.MAX_NORM, rel=1e-5)


def test_clip_once_matches_the_full_batch() -> None:
    ref = ac.full_batch_update(*ac.make_problem())
    assert _rel(_update(ac.M, "once"), ref) < 1e-12


@pytest.mark.parametrize("clip", ["every backward", "each micro-batch"])
def test_clipping_inside_the_loop_changes_the_update(clip: str) -> None:
    ref = ac.full_batch_update(*ac.make_problem())
    assert _rel(_update(ac.M, clip), ref) > 0.1


def test_each_micro_batch_is_the_sum_of_clipped_micro_gradients() -> None:
    model, x, y = ac.make_problem()
    total = None
    for xb, yb in zip(x.chunk(ac.M), y.chunk(ac.M), strict=True):
        g = torch.autograd.grad(nn.functional.mse_loss(model(xb), yb) / ac.M, model.parameters())
        norm = torch.sqrt(sum(t.pow(2).sum() for t in g)).item()
        factor = min(1.0, ac.MAX_NORM / (norm + 1e-6))
        flat = torch.cat([t.flatten() for t in g]) * factor
        total = flat if total is None else total + flat
    assert _rel(_update(ac.M, "each micro-batch"), -ac.LR * total) < 1e-12
