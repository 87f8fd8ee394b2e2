"""Checks for clip_order.py: what each ordering of backward/clip/step/zero_grad does."""

from __future__ import annotations

import clip_order as co
import pytest
import torch
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it

LR, MAX_NORM = 0.1, 1.0


def _run(order, device, steps=3):
    return co.update_norms(
        order, steps=steps, lr=LR, max_norm=MAX_NORM, device=device, dtype=torch.float64
    )


def test_correct_order_bounds_every_update(device) -> None:
    updates, seen = _run(["backward", "clip", "step", "zero_grad"], device)
    for u, n in zip(updates, seen, strict=True):
        assert n > MAX_NORM  # the outlier batch makes clipping active
        assert u == pytest.approx(LR * MAX_NORM * n / (n + 1e-6), rel=1e-9)


def test_clip_after_step_is_plain_unclipped_sgd(device) -> None:
    wrong, seen = _run(["backward", "step", "clip", "zero_grad"], device)
    unclipped, _ = _run(["backward", "step", "zero_grad"], device)
    assert wrong == pytest.approx(unclipped, rel=1e-12)
    assert wrong[0] == pytest.approx(LR * seen[0], rel=1e-9)  # the full, unclipped gradient
    assert wrong[-1] > 1000 * LR * MAX_NORM


def test_clip_before_backward_sees_no_gradient(device) -> None:
    wrong, seen = _run(["clip", "backward", "step", "zero_grad"], device)
    unclipped, _ = _run(["backward", "step", "zero_grad"], device)
    assert seen == [0.0, 0.0, 0.0]
    assert wrong == pytest.approx(unclipped, rel=1e-12)


def test_zero_grad_before_step_means_no_update(device) -> None:
    updates, seen = _run(["backward", "zero_grad", "clip", "step"], device)
    assert updates == [0.0, 0.0, 0.0] and seen == [0.0, 0.0, 0.0]


def test_missing_zero_grad_adds_the_stale_clipped_gradient(device) -> None:
    _, seen_ok = _run(["backward", "clip", "step", "zero_grad"], device, steps=2)
    _, seen_bad = _run(["backward", "clip", "step"], device, steps=2)
    assert seen_ok[0] == pytest.approx(seen_bad[0], rel=1e-12)  # step 1 is identical
    # Rebuild step 2 by hand: fresh gradient g2 plus the clipped g1 left in .grad.
    torch.manual_seed(0)
    model = nn.Linear(8, 1).to(device, torch.float64)
    x = torch.randn(16, 8, device=device, dtype=torch.float64)
    y = torch.randn(16, 1, device=device, dtype=torch.float64)
    x[0] *= 30.0
    params = list(model.parameters())
    g1 = torch.autograd.grad(nn.functional.mse_loss(model(x), y), params)
    n1 = torch.sqrt(sum(g.pow(2).sum() for g in g1))
    clipped_g1 = [g * min(1.0, MAX_NORM / (n1.item() + 1e-6)) for g in g1]
    with torch.no_grad():
        for p, g in zip(params, clipped_g1, strict=True):
            p -= LR * g
    g2 = torch.autograd.grad(nn.functional.mse_loss(model(x), y), params)
    fresh = torch.sqrt(sum(g.pow(2).sum() for g in g2)).item()
    stale = torch.sqrt(sum((a + b).pow(2).sum() for a, b in zip(g2, clipped_g1, strict=True)))
    assert seen_ok[1] == pytest.approx(fresh, rel=1e-9)
    assert seen_bad[1] == pytest.approx(stale.item(), rel=1e-9)
    assert abs(seen_bad[1] - seen_ok[1]) > 0.1


def test_orders_table_lists_the_correct_order_first() -> None:
    first = next(iter(co.ORDERS.values()))
    assert first == ["backward", "clip", "step", "zero_grad"]
