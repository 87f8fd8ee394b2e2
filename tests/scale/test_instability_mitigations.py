"""Checks for instability_mitigations.py: which mitigations stop the logit growth."""

from __future__ import annotations

import functools
import math

import instability_logits as il
import instability_mitigations as im
import pytest

pytestmark = pytest.mark.trajectory  # claims about runs: test_kernels.py repeats them


@functools.cache
def _summary(name: str) -> dict:
    return il.summary(il.train(im.MITIGATIONS[name]))


def test_each_mitigation_changes_one_setting_of_the_failing_run() -> None:
    base = im.FAILING
    assert base.lr == 0.1 and base.beta2 == 0.999 and base.eps == 1e-8
    for name, cfg in im.MITIGATIONS.items():
        changed = [f for f in base.__dataclass_fields__ if getattr(cfg, f) != getattr(base, f)]
        assert len(changed) == (0 if cfg is base else 1), name


def test_qk_layernorm_bounds_the_logits_and_trains_better() -> None:
    """QK-LayerNorm caps |q.k|/sqrt(d_head) at sqrt(d_head) = 4 (measured 3.9-4.0);
    its final loss is below the failing run's for every seed (measured by 0.1-0.2)."""
    qk, base = _summary("QK-LayerNorm"), _summary("none (lr 0.1)")
    assert not qk["collapsed"].any()
    assert (qk["max_logit"] <= math.sqrt(im.FAILING.d // im.FAILING.heads) + 1e-4).all()
    assert (qk["final_loss"] < base["final_loss"] - 0.05).all()


@pytest.mark.parametrize("name", ["z-loss 1e-4", "beta2 0.95", "eps 1e-15", "clip norm 0.1"])
def test_other_mitigations_do_not_stop_the_collapse(name: str) -> None:
    """Measured: every seed still passes 100 (median max logits about 650-800),
    within a step of the failing run's collapse."""
    s, base = _summary(name), _summary("none (lr 0.1)")
    assert s["collapsed"].all() and (s["max_logit"] > 3 * il.COLLAPSED).all()
    assert (abs(s["first_collapse"] - base["first_collapse"]) <= 6).all()


def test_longer_warmup_only_delays_the_collapse() -> None:
    """Measured: the collapse moves from about step 23 to about step 47."""
    s, base = _summary("warmup 50"), _summary("none (lr 0.1)")
    assert s["collapsed"].all()
    assert (s["first_collapse"] > base["first_collapse"] + 12).all()
