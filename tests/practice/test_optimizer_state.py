"""Checks for optimizer_state.py: state buffers per parameter and the Lion optimizer."""

from __future__ import annotations

import optimizer_state as osm
import pytest
import torch
from torch import nn


def _stepped(device) -> tuple[nn.Module, dict[str, torch.optim.Optimizer]]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 12), nn.GELU(), nn.Linear(12, 3)).to(device)
    opts = osm.make_optimizers(model)
    for opt in opts.values():
        model.zero_grad()
        model(torch.randn(4, 6, device=device)).pow(2).mean().backward()
        opt.step()
    return model, opts


def test_buffer_counts_from_real_state_dicts(device) -> None:
    model, opts = _stepped(device)
    params = list(model.parameters())
    n = sum(p.numel() for p in params)
    expected = {"SGD": 0, "SGD + momentum": 1, "Adam": 2, "AdamW": 2, "Lion": 1}
    for name, k in expected.items():
        count = osm.state_per_parameter(opts[name])
        assert count["buffers"] == k, name
        assert count["numbers"] == k * n, name
    assert osm.state_per_parameter(opts["Adam"])["scalars"] == len(params)  # the step counter


def test_state_tensors_have_the_parameter_shapes(device) -> None:
    model, opts = _stepped(device)
    for name, keys in (
        ("Adam", {"exp_avg", "exp_avg_sq", "step"}),
        ("AdamW", {"exp_avg", "exp_avg_sq", "step"}),
        ("SGD + momentum", {"momentum_buffer"}),
        ("Lion", {"exp_avg"}),
    ):
        for p in model.parameters():
            state = opts[name].state[p]
            assert set(state) == keys, name
            for key in keys - {"step"}:
                assert state[key].shape == p.shape
    assert len(opts["SGD"].state_dict()["state"]) == 0 or all(
        v is None for s in opts["SGD"].state_dict()["state"].values() for v in s.values()
    )


def test_lion_memory_saving_is_a_quarter_of_the_total() -> None:
    model = nn.Linear(64, 32)
    n = sum(p.numel() for p in model.parameters())
    opts = osm.make_optimizers(model)
    model(torch.randn(2, 64)).sum().backward()
    for opt in opts.values():
        opt.step()
    adam = osm.state_per_parameter(opts["Adam"])["numbers"]
    lion = osm.state_per_parameter(opts["Lion"])["numbers"]
    assert lion / adam == 0.5
    assert (2 * n + lion) / (2 * n + adam) == 0.75


def test_lion_class_hand_computed_steps(device) -> None:
    # Same hand computation as in test_optimizers_from_scratch.py: theta 1 -> 0.89 -> 0.9811
    # -> 1.071289 for gradients 0.5, -2, 0.1 with lr = wd = 0.1 and betas (0.9, 0.99).
    p = nn.Parameter(torch.tensor([1.0], device=device, dtype=torch.float64))
    opt = osm.Lion([p], lr=0.1, weight_decay=0.1)
    for g, expected in ((0.5, 0.89), (-2.0, 0.9811), (0.1, 1.071289)):
        p.grad = torch.tensor([g], device=device, dtype=torch.float64)
        opt.step()
        assert p.item() == pytest.approx(expected, abs=1e-12)
    assert opt.state[p]["exp_avg"].item() == pytest.approx(-0.0138995, abs=1e-12)


def test_lion_class_defaults_and_skips_missing_grads(device) -> None:
    a = nn.Parameter(torch.ones(3, device=device))
    b = nn.Parameter(torch.ones(2, device=device))
    opt = osm.Lion([a, b])
    assert opt.defaults == {"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0}
    a.grad = torch.tensor([1.0, -1.0, 0.5], device=device)
    opt.step()
    torch.testing.assert_close(
        a.detach(), torch.tensor([1 - 1e-4, 1 + 1e-4, 1 - 1e-4], device=device)
    )
    assert torch.equal(b.detach(), torch.ones(2, device=device)) and b not in opt.state
