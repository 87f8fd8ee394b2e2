"""Checks for rnn_vs_lstm.py: step Jacobians by hand, and the 100-step picture."""

from __future__ import annotations

import math

import pytest
import rnn_vs_lstm as rl
import torch
from torch import nn


def test_rnn_step_jacobian_matches_autograd(device: torch.device) -> None:
    torch.manual_seed(0)
    cell = nn.RNNCell(3, 5).double().to(device)
    x = torch.randn(3, dtype=torch.float64, device=device)
    h = torch.randn(5, dtype=torch.float64, device=device)
    jac = torch.autograd.functional.jacobian(lambda v: cell(x, v), h)
    torch.testing.assert_close(rl.rnn_step_jacobian(cell, x, h), jac)


def test_lstm_step_by_hand_equals_lstmcell(device: torch.device) -> None:
    torch.manual_seed(0)
    cell = nn.LSTMCell(3, 5).double().to(device)
    x = torch.randn(4, 3, dtype=torch.float64, device=device)
    h = torch.randn(4, 5, dtype=torch.float64, device=device)
    c = torch.randn(4, 5, dtype=torch.float64, device=device)
    h_ref, c_ref = cell(x, (h, c))
    h_hand, c_hand, _ = rl.lstm_step(cell, x, h, c)
    torch.testing.assert_close(h_hand, h_ref)
    torch.testing.assert_close(c_hand, c_ref)


def test_cell_path_jacobian_is_the_forget_gate(device: torch.device) -> None:
    """dc_t/dc_{t-1} with h_{t-1} held fixed is exactly diag(f_t)."""
    torch.manual_seed(0)
    cell = nn.LSTMCell(3, 5).double().to(device)
    x = torch.randn(3, dtype=torch.float64, device=device)
    h = torch.randn(5, dtype=torch.float64, device=device)
    c = torch.randn(5, dtype=torch.float64, device=device)
    jac = torch.autograd.functional.jacobian(lambda v: rl.lstm_step(cell, x, h, v)[1], c)
    _, _, f = rl.lstm_step(cell, x, h, c)
    torch.testing.assert_close(jac, torch.diag(f.detach()))


@pytest.mark.parametrize("value", [0.0, 1.0, 3.0])
def test_set_forget_bias(value: float) -> None:
    cell = rl.set_forget_bias(nn.LSTMCell(2, 4), value)
    zeros = torch.zeros(1, 2), torch.zeros(1, 4), torch.zeros(1, 4)
    _, _, f = rl.lstm_step(cell, *zeros)
    torch.testing.assert_close(f, torch.full_like(f, 1 / (1 + math.exp(-value))))


def test_input_grad_norms_match_nn_rnn() -> None:
    """Our unrolled RNNCell gives the same dL/dx_t as torch's fused nn.RNN."""
    torch.manual_seed(0)
    cell = nn.RNNCell(4, 6)
    rnn = nn.RNN(4, 6)
    with torch.no_grad():
        for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
            getattr(rnn, name + "_l0").copy_(getattr(cell, name))
    x = torch.randn(12, 3, 4)
    norms, mean_f = rl.input_grad_norms(cell, x)
    xr = x.clone().requires_grad_(True)
    out, _ = rnn(xr)
    (0.5 * (out[-1] ** 2).sum() / 3).backward()
    assert norms == pytest.approx([float(g.norm()) for g in xr.grad], rel=1e-5)
    assert math.isnan(mean_f)


@pytest.fixture(scope="module")
def page_runs() -> dict[str, tuple[list[float], float]]:
    """main()'s setup: 100 steps, batch 16, 4 inputs, 32 hidden units, the same seeds."""
    torch.manual_seed(0)
    x = torch.randn(100, 16, 4)
    runs = {}
    torch.manual_seed(1)
    runs["rnn"] = rl.input_grad_norms(nn.RNNCell(4, 32), x)
    torch.manual_seed(1)
    orth = nn.RNNCell(4, 32)
    nn.init.orthogonal_(orth.weight_hh)
    runs["rnn_orth"] = rl.input_grad_norms(orth, x)
    for bias in [0.0, 1.0, 3.0]:
        torch.manual_seed(1)
        runs[f"lstm{bias:g}"] = rl.input_grad_norms(
            rl.set_forget_bias(nn.LSTMCell(4, 32), bias) if bias else nn.LSTMCell(4, 32), x
        )
    return runs


def _ratio(run: tuple[list[float], float]) -> float:
    return run[0][0] / run[0][-1]


def test_default_rnn_and_default_lstm_both_vanish(page_runs) -> None:
    assert _ratio(page_runs["rnn"]) < 1e-15
    assert _ratio(page_runs["lstm0"]) < 1e-15


def test_forget_gate_mean_matches_its_bias(page_runs) -> None:
    """At init the forget gate sits near sigmoid(bias): 0.5, 0.731, 0.953."""
    for bias in [0.0, 1.0, 3.0]:
        assert page_runs[f"lstm{bias:g}"][1] == pytest.approx(1 / (1 + math.exp(-bias)), abs=0.02)


def test_open_forget_gate_keeps_the_early_gradient(page_runs) -> None:
    assert _ratio(page_runs["lstm3"]) > 0.1
    assert _ratio(page_runs["lstm1"]) > 1e11 * _ratio(page_runs["lstm0"])
    # an orthogonal W_hh helps the vanilla RNN, but tanh' < 1 still shrinks the signal
    assert 1e-8 < _ratio(page_runs["rnn_orth"]) < 1e-6
