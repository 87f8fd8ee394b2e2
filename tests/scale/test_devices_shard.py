"""Checks for devices_shard.py: FSDP2 clipping and tensor-parallel norms."""

from __future__ import annotations

import re

import devices_shard as ds
import pytest
import torch
from torch import nn


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return ds.run_ranks()


def _numbers(lines: list[str], pattern: str) -> list[tuple[float, ...]]:
    found = [re.fullmatch(pattern, line) for line in lines]
    return [tuple(map(float, m.groups())) for m in found if m]


def _reference_grads() -> list[torch.Tensor]:
    """Unclipped gradients of the unsplit model on the whole batch."""
    model, (x, y) = ds.make_model(), ds.make_data()
    nn.functional.mse_loss(model(x), y).backward()
    return [p.grad for p in model.parameters()]


def _norm(grads: list[torch.Tensor]) -> float:
    return sum(g.pow(2).sum() for g in grads).item() ** 0.5


def test_every_rank_gets_the_total_norm(lines: list[str]) -> None:
    rows = _numbers(
        lines,
        r"rank \d: shard \|g\|\^2 (\S+); all-reduced \|g\| (\S+), get_total_norm (\S+)",
    )
    assert len(rows) == ds.WORLD
    total = _norm(_reference_grads())
    assert total > ds.CLIP  # clipping is active
    for _, by_hand, library in rows:
        assert by_hand == library == pytest.approx(total, abs=1e-4)
    assert sum(sq for sq, _, _ in rows) == pytest.approx(total**2, abs=1e-3)
    assert ds.reference()[0] == pytest.approx(total, rel=1e-12)


def test_clipped_shards_equal_the_unsharded_clip(lines: list[str]) -> None:
    flags = [line for line in lines if "clipped gradient vs one process" in line]
    assert len(flags) == ds.WORLD and all(f.endswith("True") for f in flags)


def test_clipping_local_shards_alone_is_wrong(lines: list[str]) -> None:
    shard_sq = [sq for sq, *_ in _numbers(lines, r"rank \d: shard \|g\|\^2 (\S+);.*")]
    local = _numbers(
        lines, r"rank \d: clip_grad_norm_ on the local shards returns (\S+), error (\S+)"
    )
    # each rank clips by its own shard's norm: different factors, wrong total
    for sq, (norm, _) in zip(shard_sq, local, strict=True):
        assert norm == pytest.approx(sq**0.5, abs=1e-3)
    assert local[0][0] != local[1][0]
    assert all(norm < _norm(_reference_grads()) for norm, _ in local)
    assert local[0][1] == local[1][1] > 0.1


def test_tensor_parallel_counts_replicas_once(lines: list[str]) -> None:
    parts = _numbers(lines, r"rank \d: \|g\|\^2 of its shards (\S+), of the replicas (\S+)")
    totals = _numbers(lines, r"rank \d: every rank's sum (\S+), replicas once (\S+)")
    grads = _reference_grads()  # LayerNorm weight, bias, W1, b1, W2, b2
    replicated = _norm([grads[0], grads[1], grads[5]]) ** 2
    total = _norm(grads)
    for _, replicas in parts:
        assert replicas == pytest.approx(replicated, abs=1e-4)
    assert sum(s for s, _ in parts) + replicated == pytest.approx(total**2, abs=1e-3)
    for naive, right in totals:
        assert right == pytest.approx(total, abs=1e-4)
        # the naive sum adds the replicas once per extra rank
        extra = (ds.WORLD - 1) * replicated
        assert naive == pytest.approx((total**2 + extra) ** 0.5, abs=1e-4)
