"""Checks for failure_nan_step_one.py: a huge step-1 gradient points at the init."""

from __future__ import annotations

import math

import failure_nan_step_one as fn
import pytest
import torch

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(0)
    return torch.randn(128, 64), torch.randn(128, 1)


def _run(std, lr, batch, device, steps=10):
    torch.manual_seed(0)
    x, y = batch
    return fn.first_steps(fn.relu_mlp(std).to(device), x.to(device), y.to(device), steps, lr)


def test_first_nonfinite() -> None:
    assert fn.first_nonfinite([1.0, 2.0]) is None
    assert fn.first_nonfinite([1.0, math.inf, math.nan]) == 2


def test_symptom_large_init_gives_a_huge_step_one(batch, device) -> None:
    losses, norms = _run(1.0, 0.01, batch, device)
    # E[z_l^2] grows by n * Var(w) / 2 = 32 per ReLU layer: about 64 * 32^5 = 2.1e9 at the output
    predicted = 64 * 32**5
    assert math.isfinite(losses[0]) and predicted / 100 < losses[0] < predicted * 100
    assert norms[0] > 1e6
    assert fn.first_nonfinite(losses) == 2


def test_learning_rate_cannot_change_the_step_one_gradient(batch, device) -> None:
    fast_losses, fast_norms = _run(None, 3.0, batch, device)
    slow_losses, slow_norms = _run(None, 0.01, batch, device)
    assert fast_norms[0] == slow_norms[0] < 1.0  # computed before any update
    assert fast_norms[1] > fast_norms[0]  # the high rate shows from step 2 on
    assert fn.first_nonfinite(fast_losses) is not None and fn.first_nonfinite(fast_losses) > 2
    assert fn.first_nonfinite(slow_losses) is None


def test_default_init_is_the_fix(batch, device) -> None:
    losses, norms = _run(None, 0.01, batch, device)
    assert all(math.isfinite(v) for v in losses)
    assert losses[0] < 10 and max(norms) < 1.0
