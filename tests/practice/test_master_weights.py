"""Checks for master_weights.py: lost updates in float16, kept by a float32 master copy."""

from __future__ import annotations

import master_weights as mw
import pytest
import torch

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def test_small_updates_are_lost_in_low_precision() -> None:
    for dtype in (torch.float16, torch.bfloat16):
        path = mw.apply_updates(1.0, 1e-4, 2000, dtype)
        assert torch.all(path == 1.0)


def test_float32_and_master_copies_keep_the_updates() -> None:
    exact = 1.0 + 2000 * 1e-4
    f32 = mw.apply_updates(1.0, 1e-4, 2000, torch.float32)
    assert f32[-1].item() == pytest.approx(exact, abs=1e-4)
    for dtype, spacing in ((torch.float16, 2.0**-10), (torch.bfloat16, 2.0**-7)):
        path = mw.apply_updates_with_master(1.0, 1e-4, 2000, dtype)
        assert abs(path[-1].item() - exact) <= spacing / 2 + 1e-4  # one rounding of the copy
        assert path[-1].item() == torch.tensor(f32[-1].item()).to(dtype).item()


def test_threshold_is_half_the_spacing_at_one() -> None:
    half_gap = 2.0**-11
    assert half_gap == pytest.approx(4.883e-4, rel=1e-3)
    assert mw.apply_updates(1.0, 0.9 * half_gap, 1, torch.float16)[0].item() == 1.0
    assert mw.apply_updates(1.0, 1.1 * half_gap, 1, torch.float16)[0].item() == 1 + 2.0**-10
