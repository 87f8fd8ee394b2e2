"""Checks for grad_scaler.py: the by-hand dynamic scaler against torch.amp.GradScaler."""

from __future__ import annotations

import random

import grad_scaler as gs
import pytest
import torch
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def test_gradscaler_defaults_on_cpu() -> None:
    s = torch.amp.GradScaler("cpu")
    assert s.is_enabled()
    assert s.get_scale() == 2.0**16 == 65536.0
    assert s.get_growth_factor() == 2.0
    assert s.get_backoff_factor() == 0.5
    assert s.get_growth_interval() == 2000


def test_update_scale_by_hand_sequence() -> None:
    state = {"scale": 8.0, "good_steps": 0}
    seen = []
    for found_inf in (False, False, False, True, False, False, False, False):
        gs.update_scale(state, found_inf, growth_interval=3)
        seen.append(state["scale"])
    assert seen == [8.0, 8.0, 16.0, 8.0, 8.0, 8.0, 16.0, 16.0]


def test_update_scale_matches_torch_kernel() -> None:
    rng = random.Random(0)
    scale = torch.tensor([2.0**16])
    tracker = torch.tensor([0], dtype=torch.int32)
    state = {"scale": 2.0**16, "good_steps": 0}
    for _ in range(500):
        found = rng.random() < 0.1
        torch._amp_update_scale_(scale, tracker, torch.tensor([float(found)]), 2.0, 0.5, 4)
        gs.update_scale(state, found, growth_interval=4)
        assert state["scale"] == scale.item() and state["good_steps"] == tracker.item()


def test_by_hand_and_gradscaler_agree_step_for_step(device) -> None:
    log = gs.run_both(steps=60, device=device)
    assert log["scale_hand"] == log["scale_torch"]
    assert log["stepped_hand"] == log["stepped_torch"]
    assert log["max_param_diff"][0] <= 1e-6
    assert not all(log["stepped_torch"]) and any(log["stepped_torch"])
    assert log["scale_torch"][0] == 2.0**24 and log["scale_torch"][1] == 2.0**23  # backed off


def test_a_skipped_step_leaves_the_weights_alone(device) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 1)).to(device)
    x = torch.randn(256, 32, device=device)
    y = torch.sin(x[:, :1] * 3) + x[:, 1:2]
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    before = [p.detach().clone() for p in model.parameters()]
    state = {"scale": 2.0**40, "good_steps": 0}
    assert gs.step_by_hand(model, opt, x, y, state, growth_interval=8) is False
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert state["scale"] == pytest.approx(2.0**39)
