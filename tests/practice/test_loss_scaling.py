"""Checks for loss_scaling.py: scaling the loss rescues float16 gradients."""

from __future__ import annotations

import loss_scaling as ls
import pytest
import torch

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def test_power_of_two_scaling_is_exact_in_float32(device) -> None:
    model, x, y = ls.make_problem(device)
    plain = ls.scaled_gradients(model, x, y, 1e-4, 1.0, dtype=None)
    for scale in (2.0**8, 2.0**16, 2.0**24):
        assert torch.equal(ls.scaled_gradients(model, x, y, 1e-4, scale, dtype=None), plain)


def test_float16_underflow_and_its_fix(device) -> None:
    model, x, y = ls.make_problem(device)
    unscaled = ls.compare(model, x, y, 1e-4, 1.0)
    assert unscaled["median_abs_ref"] < 1e-6
    assert unscaled["zero"] > 0.3 and unscaled["rel_error"] > 0.1
    scaled = ls.compare(model, x, y, 1e-4, 2.0**16)
    assert scaled["zero"] == 0.0 and scaled["rel_error"] < 0.01 and scaled["finite"]
    healthy = ls.compare(model, x, y, 1.0, 1.0)
    assert healthy["zero"] == 0.0 and healthy["rel_error"] < 0.01
    # the remaining error is the float16 forward pass, the same with or without the loss weight
    assert abs(scaled["rel_error"] - healthy["rel_error"]) < 0.2 * healthy["rel_error"]


def test_too_large_a_scale_overflows(device) -> None:
    model, x, y = ls.make_problem(device)
    assert not ls.compare(model, x, y, 1.0, 2.0**24)["finite"]
    assert ls.compare(model, x, y, 1.0, 2.0**16)["finite"]


def test_bfloat16_needs_no_scaling(device) -> None:
    model, x, y = ls.make_problem(device)
    for weight in (1.0, 1e-4):
        r = ls.compare(model, x, y, weight, 1.0, torch.bfloat16)
        assert r["zero"] == 0.0 and r["finite"] and r["rel_error"] < 0.02
