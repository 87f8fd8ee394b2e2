"""Checks for snippets/failure_zero_grad_accumulation.py: what a misplaced zero_grad leaves."""

from __future__ import annotations

import failure_zero_grad_accumulation as fz
import pytest
import torch
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def _setup(device):
    torch.manual_seed(0)
    x = torch.randn(64, 8, device=device)
    y = torch.sin(x[:, :1])
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)).to(device)
    return model, x, y


@pytest.mark.parametrize("micro", [2, 4, 8])
def test_fix_reproduces_the_full_batch_gradient(micro, device) -> None:
    model, x, y = _setup(device)
    reference = fz.full_batch_grad(model, x, y)
    torch.testing.assert_close(
        fz.accumulate(model, x, y, micro, zero_inside=False), reference, atol=1e-6, rtol=1e-5
    )


@pytest.mark.parametrize("micro", [2, 4, 8])
def test_symptom_only_the_last_micro_batch_survives(micro, device) -> None:
    model, x, y = _setup(device)
    broken = fz.accumulate(model, x, y, micro, zero_inside=True)
    model.zero_grad()
    last = slice(len(x) - len(x) // micro, None)
    (nn.functional.mse_loss(model(x[last]), y[last]) / micro).backward()
    torch.testing.assert_close(broken, fz.flat_grad(model))
    assert not torch.allclose(broken, fz.full_batch_grad(model, x, y), atol=1e-4)


def test_training_curves() -> None:
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = torch.sin(x[:, :1]) + 0.5 * x[:, 1:2]
    full = fz.train(x, y, 1, False, 150, 0.1)
    fixed = fz.train(x, y, 4, False, 150, 0.1)
    broken = fz.train(x, y, 4, True, 150, 0.1)
    assert fixed == pytest.approx(full, rel=1e-4)
    assert broken[-1] > 1.5 * fixed[-1]
