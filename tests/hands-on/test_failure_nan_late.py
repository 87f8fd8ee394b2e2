"""Checks for failure_nan_late.py: log(0) after many steps, 0/0 on a bad batch."""

from __future__ import annotations

import math

import failure_nan_late as fl
import pytest
import torch
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def test_sigmoid_rounds_to_one_past_24_ln_2() -> None:
    """float32 has 24 significand bits: 1 + e^{-z} rounds to 1 once e^{-z} < 2^-24."""
    threshold = 24 * math.log(2)
    assert threshold == pytest.approx(16.64, abs=0.01)
    assert torch.sigmoid(torch.tensor(threshold - 0.1)) < 1
    assert torch.sigmoid(torch.tensor(threshold + 0.1)) == 1


def test_bce_by_hand_is_bce_until_it_saturates(device) -> None:
    torch.manual_seed(0)
    z = 3 * torch.randn(50, dtype=torch.float64, device=device)
    y = (torch.rand(50, device=device) > 0.5).double()
    torch.testing.assert_close(
        fl.bce_by_hand(z, y), nn.functional.binary_cross_entropy_with_logits(z, y)
    )
    z, y = torch.tensor([20.0], device=device), torch.tensor([1.0], device=device)
    assert torch.isnan(fl.bce_by_hand(z, y))
    assert torch.isfinite(nn.functional.binary_cross_entropy_with_logits(z, y))


def test_binary_cross_entropy_clamps_its_log_at_minus_100() -> None:
    loss = nn.functional.binary_cross_entropy(torch.tensor([1.0]), torch.tensor([0.0]))
    assert loss.item() == pytest.approx(100.0)


def test_symptom_nan_after_many_steps_and_the_fix() -> None:
    xs, ys = fl.separable_data(256, torch.Generator().manual_seed(1))
    by_hand = fl.train_logistic(fl.bce_by_hand, xs, ys)
    stable = fl.train_logistic(nn.functional.binary_cross_entropy_with_logits, xs, ys)
    step = fl.first_nonfinite(by_hand)
    assert step is not None and step > 100
    torch.testing.assert_close(
        torch.tensor(by_hand[: step - 1]), torch.tensor(stable[: step - 1]), rtol=1e-4, atol=1e-6
    )  # the same run until the log saturates
    assert fl.first_nonfinite(stable) is None


def test_anomaly_mode_names_the_log() -> None:
    x = torch.tensor([[1.0, 1.0], [-1.0, 0.0]])
    y = torch.tensor([1.0, 0.0])
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(20.0)
        model.bias.zero_()
    message = fl.anomaly_report(lambda: fl.bce_by_hand(model(x).squeeze(1), y))
    assert "LogBackward0" in message and "nan" in message


def test_standardise_divides_zero_by_zero_without_eps() -> None:
    x = torch.tensor([[1.0, 5.0], [3.0, 5.0]])
    assert torch.isnan(fl.standardise(x, eps=0.0)[:, 1]).all()
    torch.testing.assert_close(fl.standardise(x, eps=1e-5)[:, 1], torch.zeros(2))


def test_symptom_one_bad_batch_poisons_every_later_step_and_eps_fixes_it() -> None:
    no_eps, with_eps = fl.train_stream(eps=0.0), fl.train_stream(eps=1e-5)
    assert fl.first_nonfinite(no_eps) == 200
    assert all(math.isnan(v) for v in no_eps[199:])  # the weights are NaN from then on
    assert fl.first_nonfinite(with_eps) is None and with_eps[-1] < 1e-3
