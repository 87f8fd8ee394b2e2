"""Checks for failure_clip_after_step.py: the symptom of clipping too late, and the fix."""

from __future__ import annotations

import failure_clip_after_step as fc
import pytest
import torch

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it

LR, BAD = 0.05, 60
IDX = BAD - 1  # list index of the bad step


@pytest.fixture(scope="module")
def runs():
    batches = fc.regression_batches(120, 32, bad_step=BAD, gen=torch.Generator().manual_seed(0))
    return {
        order: fc.train(batches, order, LR)
        for order in ["clip_after_step", "clip_before_step", "no_clip"]
    }


def test_clip_after_step_is_exactly_no_clipping(runs) -> None:
    (broken, w_broken), (plain, w_plain) = runs["clip_after_step"], runs["no_clip"]
    assert torch.equal(w_broken, w_plain)
    assert broken["loss"] == plain["loss"]


def test_symptom_the_bad_batch_gradient_reaches_the_weights(runs) -> None:
    broken, _ = runs["clip_after_step"]
    fixed, _ = runs["clip_before_step"]
    assert broken["seen"][IDX] > 100 * fc.MAX_NORM  # the outlier batch's gradient is huge
    # plain SGD: |Delta theta| = lr |g| for the gradient the step used
    assert broken["update"][IDX] == pytest.approx(LR * broken["seen"][IDX], rel=1e-4)
    assert broken["loss"][IDX + 10] > 100 * fixed["loss"][IDX + 10]


def test_fix_bounds_every_update_by_lr_times_max_norm(runs) -> None:
    fixed, _ = runs["clip_before_step"]
    assert max(fixed["seen"]) <= fc.MAX_NORM * (1 + 1e-5)
    for update in fixed["update"]:
        assert update <= LR * fc.MAX_NORM * (1 + 1e-4)
    assert fixed["update"][IDX] == pytest.approx(LR * fc.MAX_NORM, rel=1e-4)


def test_bad_batch_is_the_only_scaled_one() -> None:
    gen_a, gen_b = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    bad = fc.regression_batches(5, 4, bad_step=3, gen=gen_a)
    clean = fc.regression_batches(5, 4, bad_step=-1, gen=gen_b)
    for i, ((xa, ya), (xb, yb)) in enumerate(zip(bad, clean, strict=True)):
        torch.testing.assert_close(xa, xb)
        torch.testing.assert_close(ya, 100 * yb if i == 2 else yb)
