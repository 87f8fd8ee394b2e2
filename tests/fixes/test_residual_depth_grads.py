"""Checks for residual_depth_grads.py: per-block gradient gains against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import residual_depth_grads as rdg
import torch


@pytest.mark.parametrize("label", list(rdg.SETUPS))
def test_gain_per_block_matches_prediction(label, device):
    """E||(I + s D W^T) d||^2 = (1 + s^2 n Var(w) / 2) ||d||^2; a plain block lacks the 1."""
    residual, init, scale, predicted = rdg.SETUPS[label]
    var_w = 2 / 64 if init == "he" else 1 / (3 * 64)  # default: U(-1/sqrt(n), 1/sqrt(n))
    closed = math.sqrt(int(residual) + scale**2 * 64 * var_w / 2)
    assert predicted == pytest.approx(closed)
    gains = []
    for seed in range(3):
        torch.manual_seed(seed)
        gains.append(rdg.gain_per_block(rdg.input_grad_norms(residual, init, scale, device=device)))
    assert float(np.mean(gains)) == pytest.approx(predicted, rel=0.05)


def test_plain_default_vanishes_and_residual_never_does(device):
    torch.manual_seed(0)
    plain = rdg.input_grad_norms(False, "default", 1.0, device=device)
    assert len(plain) == 65
    assert plain[0] / plain[-1] < 1e-20
    for label, (residual, init, scale, _) in rdg.SETUPS.items():
        if residual:
            norms = rdg.input_grad_norms(residual, init, scale, device=device)
            assert min(norms) >= 0.5 * norms[-1], label
