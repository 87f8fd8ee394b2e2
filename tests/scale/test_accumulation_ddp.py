"""Checks for accumulation_ddp.py: no_sync with DDP on two gloo ranks."""

from __future__ import annotations

import re

import accumulation_ddp as ad
import pytest


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return ad.run_ranks()


def _parse(line: str) -> tuple[int, str, int, bool]:
    match = re.fullmatch(
        r"rank (\d), no_sync (.+?): +all-reduces (\d+), error < 1e-12: (True|False)", line
    )
    assert match, line
    return int(match[1]), match[2], int(match[3]), match[4] == "True"


def test_every_rank_reports_every_mode_in_order(lines: list[str]) -> None:
    parsed = [_parse(line) for line in lines]
    assert [(r, m) for r, m, _, _ in parsed] == [(r, m) for r in range(ad.WORLD) for m in ad.MODES]


def test_gradient_equals_the_full_global_batch(lines: list[str]) -> None:
    assert all(exact for _, _, _, exact in map(_parse, lines))


def test_no_sync_around_forward_and_backward_saves_all_but_one_all_reduce(
    lines: list[str],
) -> None:
    counts = {m: n for _, m, n, _ in map(_parse, lines)}
    assert counts == {
        "forward and backward": 1,
        "backward only": ad.M,
        "nowhere": ad.M,
    }


def test_reference_is_the_mean_over_all_rows() -> None:
    x, _ = ad.make_data()
    assert x.shape[0] == ad.WORLD * ad.M * ad.ROWS
    assert ad.full_batch_grad().abs().max().item() > 0
