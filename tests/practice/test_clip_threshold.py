"""Checks for clip_threshold.py: percentile thresholds and too-tight clipping."""

from __future__ import annotations

import clip_threshold as ct
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


@pytest.fixture(scope="module")
def unclipped(device) -> dict[str, list[float]]:
    return ct.train(None, device=device)


def test_teacher_is_shared_between_train_and_test_sets() -> None:
    x_a, y_a = ct.make_data(64, seed=0, noise_scale=0.0)
    x_b, y_b = ct.make_data(64, seed=5, noise_scale=0.0)
    both_x, both_y = torch.cat([x_a, x_b]), torch.cat([y_a, y_b])
    assert not torch.equal(x_a, x_b)
    # y = tanh(x W1) W2 for one (W1, W2): refit W2 on set a, predict set b exactly.
    teacher = torch.Generator().manual_seed(1234)
    w1 = torch.randn(16, 32, generator=teacher) / 4
    w2 = torch.linalg.lstsq(torch.tanh(x_a @ w1).double(), y_a.double()).solution
    torch.testing.assert_close(
        torch.tanh(both_x @ w1).double() @ w2, both_y.double(), rtol=1e-4, atol=1e-5
    )


def test_percentile_threshold_clips_the_expected_fraction(unclipped) -> None:
    norms = unclipped["norm"]
    for q in (50, 90, 99):
        threshold = float(np.percentile(norms, q))
        assert float(torch.quantile(torch.tensor(norms), q / 100)) == pytest.approx(
            threshold, rel=1e-5
        )
        expected = sum(n > threshold for n in norms) / len(norms)
        assert ct.fraction_clipped(norms, threshold) == expected
        assert abs(expected - (1 - q / 100)) <= 1.5 / len(norms)


def test_a_threshold_above_every_norm_changes_nothing(unclipped, device) -> None:
    loose = ct.train(max(unclipped["norm"]) * 2, device=device)
    assert loose["norm"] == unclipped["norm"]
    assert loose["test_loss"] == unclipped["test_loss"]


def test_high_percentile_clipping_barely_changes_the_result(unclipped, device) -> None:
    p90 = float(np.percentile(unclipped["norm"], 90))
    run = ct.train(p90, device=device)
    assert 0.02 < ct.fraction_clipped(run["norm"], p90) < 0.3
    assert run["test_loss"][-1] == pytest.approx(unclipped["test_loss"][-1], rel=0.1)


def test_too_tight_clipping_is_a_smaller_learning_rate(unclipped, device) -> None:
    lr = 0.05
    tight = float(np.median(unclipped["norm"])) / 20
    run = ct.train(tight, lr, device=device)
    assert ct.fraction_clipped(run["norm"], tight) == 1.0
    effective = lr * tight / torch.tensor(run["norm"])
    assert effective.max().item() < lr / 10
    assert run["test_loss"][-1] > 2 * unclipped["test_loss"][-1]
    slow = ct.train(None, effective.median().item(), device=device)
    ratio = np.array(run["test_loss"]) / np.array(slow["test_loss"])
    assert np.all((ratio > 0.6) & (ratio < 1.6))  # the two curves track each other
