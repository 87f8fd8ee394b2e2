"""Checks for clip_from_scratch.py: the from-scratch clip equals clip_grad_norm_."""

from __future__ import annotations

import copy
import math

import clip_from_scratch as cs
import pytest
import torch
from torch import nn


def _two_copies(device: torch.device, dtype: torch.dtype, scale: float, seed: int = 0):
    torch.manual_seed(seed)
    a = cs.mixed_shape_model(device).to(dtype)
    b = copy.deepcopy(a)
    x = torch.randn(8, 3, 3, device=device, dtype=dtype)
    for m in (a, b):
        (scale * m(x).pow(2).mean()).backward()
    return a, b


@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1.0, 3.0])
@pytest.mark.parametrize("max_norm", [0.25, 1e4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_clip_grad_norm_(device, norm_type, max_norm, dtype) -> None:
    ours, theirs = _two_copies(device, dtype, scale=40.0)
    before = [p.grad.clone() for p in ours.parameters()]
    n_ours = cs.clip_grad_norm(ours.parameters(), max_norm, norm_type)
    n_torch = nn.utils.clip_grad_norm_(theirs.parameters(), max_norm, norm_type)
    tol = {"rtol": 1e-5, "atol": 1e-7} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 0}
    torch.testing.assert_close(n_ours, n_torch, **tol)
    for p, q, g0 in zip(ours.parameters(), theirs.parameters(), before, strict=True):
        torch.testing.assert_close(p.grad, q.grad, **tol)
        coef = min(1.0, max_norm / (n_torch.item() + 1e-6))
        torch.testing.assert_close(p.grad, g0 * coef, **tol)
    assert n_torch.item() > 1.0  # the batch was made large enough for clipping to matter


def test_mixed_shapes_and_norm_definition(device) -> None:
    ours, _ = _two_copies(device, torch.float64, scale=1.0)
    shapes = [tuple(p.shape) for p in ours.parameters()]
    assert shapes == [(16, 3, 3), (16,), (32, 16), (32,), (32,), (32,), (5, 32)]
    flat = torch.cat([p.grad.flatten() for p in ours.parameters()])
    grads = [p.grad for p in ours.parameters()]
    for p in (1.0, 2.0, 3.0, math.inf):
        expected = torch.linalg.vector_norm(flat, p)
        torch.testing.assert_close(cs.total_grad_norm(grads, p), expected, rtol=1e-12, atol=0)


def test_clipped_norm_is_just_below_max_norm(device) -> None:
    ours, _ = _two_copies(device, torch.float64, scale=40.0)
    total = cs.clip_grad_norm(ours.parameters(), 0.5).item()
    after = cs.total_grad_norm([p.grad for p in ours.parameters()]).item()
    assert after == pytest.approx(0.5 * total / (total + 1e-6), rel=1e-12)
    assert after < 0.5


def test_coefficient_is_clamped_at_one(device) -> None:
    ours, theirs = _two_copies(device, torch.float32, scale=1e-3)
    before = [p.grad.clone() for p in ours.parameters()]
    total = cs.clip_grad_norm(ours.parameters(), 10.0)
    nn.utils.clip_grad_norm_(theirs.parameters(), 10.0)
    assert total.item() < 10.0
    for p, q, g0 in zip(ours.parameters(), theirs.parameters(), before, strict=True):
        assert torch.equal(p.grad, g0) and torch.equal(q.grad, g0)  # never amplified


def test_parameters_without_grad_are_skipped(device) -> None:
    a = nn.Parameter(torch.ones(3, device=device))
    b = nn.Parameter(torch.ones(2, 2, device=device))
    c = nn.Parameter(torch.ones(4, device=device))
    a.grad = torch.tensor([3.0, 0.0, 4.0], device=device)
    c.grad = torch.tensor([0.0, 0.0, 0.0, 12.0], device=device)
    a2, b2, c2 = (copy.deepcopy(t) for t in (a, b, c))
    a2.grad, c2.grad = a.grad.clone(), c.grad.clone()
    n1 = cs.clip_grad_norm([a, b, c], 1.0)
    n2 = nn.utils.clip_grad_norm_([a2, b2, c2], 1.0)
    assert n1.item() == pytest.approx(13.0) and n2.item() == pytest.approx(13.0)
    assert b.grad is None and b2.grad is None
    torch.testing.assert_close(a.grad, a2.grad)
    torch.testing.assert_close(c.grad, c2.grad)


def test_no_gradients_gives_zero() -> None:
    p = nn.Parameter(torch.ones(3))
    assert cs.clip_grad_norm([p], 1.0).item() == 0.0
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_error_if_nonfinite(device, bad) -> None:
    for fn in (cs.clip_grad_norm, nn.utils.clip_grad_norm_):
        w = nn.Parameter(torch.ones(3, device=device))
        w.grad = torch.tensor([1.0, bad, 2.0], device=device)
        with pytest.raises(RuntimeError):
            fn([w], 1.0, error_if_nonfinite=True)
        assert w.grad[0].item() == 1.0  # it raised before touching the gradient
        norm = fn([w], 1.0)  # without the flag: no error, and the gradients are ruined
        assert not math.isfinite(norm.item())
        if bad == math.inf:
            assert w.grad[0].item() == 0.0 and math.isnan(w.grad[1].item())
        else:
            assert torch.isnan(w.grad).all()


def test_compare_with_torch_helper_reports_agreement(device) -> None:
    for norm_type in (2.0, math.inf):
        r = cs.compare_with_torch(0.5, norm_type, scale=40.0, device=device)
        assert r["norm_ours"] == pytest.approx(r["norm_torch"], rel=1e-6)
        assert r["max_grad_diff"] < 1e-6
        assert r["norm_after"] == pytest.approx(0.5, rel=1e-5)
