"""Checks for accumulation_tokens.py: per-token loss over the step vs mean / M."""

from __future__ import annotations

import accumulation_tokens as at
import pytest
import torch
from torch import nn


def _grads(per_token: bool, m: int = at.M) -> tuple[torch.Tensor, torch.Tensor]:
    model, batch = at.make_model(), at.make_batch()
    ref = at.full_batch_grad(model, batch)
    return at.accumulated_grad(model, batch, m, per_token), ref


def test_per_token_over_the_step_is_the_full_batch_gradient() -> None:
    g, ref = _grads(per_token=True)
    assert at.relative_error(g, ref) < 1e-12


def test_mean_over_m_is_not() -> None:
    g, ref = _grads(per_token=False)
    assert at.relative_error(g, ref) > 0.05


def test_mean_over_m_is_a_reweighted_full_batch() -> None:
    """mean / M equals the full batch with each token weighted N / (M n_m)."""
    model, batch = at.make_model(), at.make_batch()
    g = at.accumulated_grad(model, batch, at.M, per_token=False)
    weights = torch.cat(
        [torch.full((n,), w, dtype=torch.float64) for n, w in at.token_weights(at.M)]
    )
    x, y = at.micro_batches(batch, 1)[0]
    model.zero_grad()
    per_token = nn.functional.cross_entropy(model(x), y, reduction="none")
    (per_token * weights).mean().backward()
    assert at.relative_error(g, at.flat_grad(model)) < 1e-12


def test_token_weights_follow_the_lengths() -> None:
    rows = at.token_weights(at.M)
    sizes = [n for n, _ in rows]
    assert sizes == [sum(at.LENGTHS[2 * i : 2 * i + 2]) for i in range(at.M)]
    total = sum(sizes)
    for n, w in rows:
        assert w == pytest.approx(total / (at.M * n), rel=1e-15)
    assert max(w for _, w in rows) > 2 and min(w for _, w in rows) < 0.6


def test_equal_lengths_make_mean_over_m_exact(monkeypatch) -> None:
    monkeypatch.setattr(at, "LENGTHS", [10] * 8)
    g, ref = _grads(per_token=False)
    assert at.relative_error(g, ref) < 1e-12
